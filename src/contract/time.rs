//! ISO-8601 with offset, to and from epoch seconds, std-only: the server sends one shape
//! (`2023-09-19T00:22:06+00:00`), the simulator must write the same shape, and reports print
//! UTC. One calendar algorithm for all of them.

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM|±HHMM)` → seconds since the epoch, UTC.
/// A time without an offset is refused: guessing the server's zone would shift every duration.
pub fn parse_iso8601(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = s.get(from..from + len)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    if b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b' ') {
        return None;
    }
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &s[19..];
    let mut frac = 0.0;
    if let Some(after_dot) = rest.strip_prefix('.') {
        let digits = after_dot.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        frac = format!("0.{}", &after_dot[..digits]).parse().ok()?;
        rest = &after_dot[digits..];
    }
    let offset_secs = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let digits: String = rest[1..].chars().filter(|c| *c != ':').collect();
            if digits.len() != 4 || !digits.bytes().all(|c| c.is_ascii_digit()) || rest.len() > 6 {
                return None;
            }
            let h: i64 = digits[..2].parse().ok()?;
            let m: i64 = digits[2..].parse().ok()?;
            if h > 23 || m > 59 {
                return None;
            }
            sign * (h * 3600 + m * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    Some(secs as f64 + frac)
}

/// Epoch seconds → `2023-09-19T00:22:06+00:00` (whole seconds, as the server prints them).
pub fn format_iso8601(epoch: f64) -> String {
    format!("{}+00:00", utc_seconds(epoch))
}

/// Epoch seconds → `2023-09-19T00:22:06Z` (whole seconds, for reports and logs).
pub fn format_utc(epoch: f64) -> String {
    format!("{}Z", utc_seconds(epoch))
}

/// `2023-09-19T00:22:06`, UTC, without a zone.
fn utc_seconds(epoch: f64) -> String {
    let secs = epoch.floor() as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

// Howard Hinnant's days-from-civil algorithm (public domain): exact for the proleptic Gregorian
// calendar, no tables.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_servers_shape() {
        assert_eq!(parse_iso8601("1970-01-01T00:00:00+00:00"), Some(0.0));
        assert_eq!(
            parse_iso8601("2023-09-19T00:22:06+00:00"),
            Some(1_695_082_926.0)
        );
        assert_eq!(
            parse_iso8601("2023-09-19T02:22:06+02:00"),
            Some(1_695_082_926.0)
        );
        assert_eq!(
            parse_iso8601("2023-09-18T22:22:06-0200"),
            Some(1_695_082_926.0)
        );
        assert_eq!(parse_iso8601("2023-09-19T00:22:06Z"), Some(1_695_082_926.0));
        assert_eq!(
            parse_iso8601("2023-09-19T00:22:06.5Z"),
            Some(1_695_082_926.5)
        );
    }

    #[test]
    fn refuses_what_it_cannot_place_in_time() {
        for bad in [
            "",
            "2023-09-19",
            "2023-09-19T00:22:06",
            "2023-13-19T00:22:06+00:00",
            "1695082926",
            "2023-09-19T00:22:06+0",
        ] {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_and_round_trips() {
        assert_eq!(format_iso8601(1_695_082_926.9), "2023-09-19T00:22:06+00:00");
        assert_eq!(format_utc(0.0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(951_782_400.0), "2000-02-29T00:00:00Z");
        for t in [0.0, 951_782_400.0, 1_709_164_800.0, 4_102_444_799.0] {
            assert_eq!(parse_iso8601(&format_iso8601(t)), Some(t));
            assert_eq!(parse_iso8601(&format_utc(t)), Some(t));
        }
    }
}
