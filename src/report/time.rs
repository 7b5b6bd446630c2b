//! Times and durations as reports print them.

/// The system's wall clock, Unix seconds (0 for a clock before 1970, which is no clock).
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// `2026-11-22T21:40:05Z`.
pub fn iso_utc(epoch: f64) -> String {
    crate::contract::time::format_utc(epoch)
}

/// `21:40:05` (for lines inside one report).
pub fn clock_utc(epoch: f64) -> String {
    let rem = (epoch.floor() as i64).rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", rem / 3600, (rem % 3600) / 60, rem % 60)
}

/// `1h02m03s`, `4m05s`, `6s`, `0.25s` — short and exact enough for a report.
pub fn duration(secs: f64) -> String {
    if secs < 10.0 && secs.fract() != 0.0 {
        return format!("{secs:.2}s");
    }
    let s = secs.round() as u64;
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, m, s) => format!("{h}h{m:02}m{s:02}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(iso_utc(0.0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_utc(1_695_082_926.0), "2023-09-19T00:22:06Z");
        assert_eq!(iso_utc(951_782_400.0), "2000-02-29T00:00:00Z");
        assert_eq!(clock_utc(1_695_082_926.5), "00:22:06");
        assert_eq!(duration(3723.0), "1h02m03s");
        assert_eq!(duration(245.0), "4m05s");
        assert_eq!(duration(6.0), "6s");
        assert_eq!(duration(0.25), "0.25s");
    }
}
