//! The night window (`orchestrator.window_end`): a backup night must not spill into business
//! hours. No job starts at or after the first `window_end` (local time) after the run's start;
//! a job already running is followed to its end, never cut. With `window_policy: "fit"`, a job
//! whose usual duration would end after the window does not start either. Pure: the caller
//! brings the times and the zone.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use crate::config::{LocalTime, WindowPolicy};

/// Tonight's window, fixed when the run starts.
#[derive(Debug, Clone)]
pub struct NightWindow {
    /// Unix seconds: nothing starts at or after this.
    pub closes: f64,
    /// The configured time, as the operator wrote it (`07:00`).
    pub end: LocalTime,
    pub policy: WindowPolicy,
    zone: TimeZone,
}

impl NightWindow {
    /// The window of a run that started at `started` (Unix seconds): it closes at the first
    /// `end` in `zone` after the start. `None` when the start is not a representable time.
    pub fn for_run(
        end: LocalTime,
        policy: WindowPolicy,
        started: f64,
        zone: &TimeZone,
    ) -> Option<NightWindow> {
        let closes = first_after(end, started, zone)?;
        Some(NightWindow {
            closes,
            end,
            policy,
            zone: zone.clone(),
        })
    }

    /// Why a job may not start at `now`, given its usual duration (seconds; `None` without
    /// history): the words after `not started: `. `None`: it may start.
    pub fn refuses(&self, now: f64, usual: Option<f64>) -> Option<String> {
        if now >= self.closes {
            return Some(format!(
                "window closed at {} (orchestrator.window_end, local time; {} UTC)",
                self.end,
                crate::report::time::clock_utc(self.closes)
            ));
        }
        let usual = usual.filter(|u| u.is_finite() && *u > 0.0)?;
        if self.policy == WindowPolicy::Fit && now + usual > self.closes {
            return Some(format!(
                "would end at {}, after the window (closes at {}; usual duration {})",
                self.local_hhmm(now + usual),
                self.end,
                crate::report::time::duration(usual),
            ));
        }
        None
    }

    /// For `jbr validate`: the zone jbr sees and when a run started at `now` would stop
    /// starting jobs. A Pi left on UTC, or on the wrong zone, shows here before a night is cut
    /// an hour early or late.
    pub fn describe(&self, now: f64) -> String {
        let zone = match self.zone.iana_name() {
            Some(name) => name.to_string(),
            None if self.zone.is_unknown() => {
                "an unknown zone, taken as UTC (set TZ or /etc/localtime)".to_string()
            }
            None => "the local zone".to_string(),
        };
        let offset = timestamp(now)
            .map(|t| format!(", UTC{} now", self.zone.to_offset(t)))
            .unwrap_or_default();
        format!(
            "night window: no job starts at or after {} in {zone}{offset} (policy \"{}\"; a run starting now stops starting jobs at {})",
            self.end,
            self.policy.as_str(),
            crate::report::time::iso_utc(self.closes)
        )
    }

    /// `08:40`, local time (`??:??` for a time past the calendar's end).
    pub fn local_hhmm(&self, epoch: f64) -> String {
        timestamp(epoch)
            .map(|t| t.to_zoned_datetime(self.zone.clone()))
            .map(|z| format!("{:02}:{:02}", z.hour(), z.minute()))
            .unwrap_or_else(|| "??:??".to_string())
    }
}

fn timestamp(epoch: f64) -> Option<Timestamp> {
    if !epoch.is_finite() {
        return None;
    }
    Timestamp::from_second(epoch.floor() as i64).ok()
}

/// The first instant after `started` whose local time in `zone` is `end`. Every reading of the
/// day before, the day of and the day after the start counts: on the night the clocks go back
/// an hour, `02:30` happens twice and the first one after the start is meant; in the hour that
/// a spring-forward skips, the earlier reading closes the window (never later than asked).
fn first_after(end: LocalTime, started: f64, zone: &TimeZone) -> Option<f64> {
    let start = timestamp(started)?;
    let day: Date = start.to_zoned_datetime(zone.clone()).date();
    let days = [day.yesterday().ok(), Some(day), day.tomorrow().ok()];
    let mut best: Option<i64> = None;
    for d in days.into_iter().flatten() {
        let at = d.at(end.hour as i8, end.minute as i8, 0, 0);
        let ambiguous = zone.to_ambiguous_timestamp(at);
        for t in [ambiguous.earlier(), ambiguous.later()]
            .into_iter()
            .flatten()
        {
            let s = t.as_second();
            if (s as f64) > started && best.is_none_or(|b| s < b) {
                best = Some(s);
            }
        }
    }
    // Without a reading in those three days (a zone that skips a whole day), a day after the
    // start: a window that never closes would be no window.
    Some(best.map_or(started + 86_400.0, |s| s as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn berlin() -> TimeZone {
        TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").expect("a valid POSIX TZ")
    }

    fn at(text: &str) -> f64 {
        let t: Timestamp = text.parse().expect("an RFC 3339 time");
        t.as_second() as f64
    }

    fn seven() -> LocalTime {
        LocalTime::parse("07:00").expect("07:00")
    }

    #[test]
    fn closes_at_the_first_end_after_the_start_in_local_time() {
        // 01:00 CET = 00:00Z: closes at 07:00 CET = 06:00Z the same day.
        let w = NightWindow::for_run(
            seven(),
            WindowPolicy::Start,
            at("2026-12-02T00:00:00Z"),
            &berlin(),
        )
        .expect("window");
        assert_eq!(w.closes, at("2026-12-02T06:00:00Z"));
        // 09:00 CET: the next morning's 07:00.
        let w = NightWindow::for_run(
            seven(),
            WindowPolicy::Start,
            at("2026-12-02T08:00:00Z"),
            &berlin(),
        )
        .expect("window");
        assert_eq!(w.closes, at("2026-12-03T06:00:00Z"));
        // In summer the offset is 2 h.
        let w = NightWindow::for_run(
            seven(),
            WindowPolicy::Start,
            at("2026-07-01T23:00:00Z"),
            &berlin(),
        )
        .expect("window");
        assert_eq!(w.closes, at("2026-07-02T05:00:00Z"));
    }

    #[test]
    fn a_start_exactly_at_the_end_gets_the_next_days_window() {
        let w = NightWindow::for_run(
            seven(),
            WindowPolicy::Start,
            at("2026-12-02T06:00:00Z"),
            &berlin(),
        )
        .expect("window");
        assert_eq!(w.closes, at("2026-12-03T06:00:00Z"));
    }

    #[test]
    fn the_night_the_clocks_go_back_takes_the_first_reading_after_the_start() {
        // 2026-10-25: 03:00 CEST becomes 02:00 CET, so 02:30 happens at 00:30Z and 01:30Z.
        let end = LocalTime::parse("02:30").expect("02:30");
        let zone = berlin();
        let w = NightWindow::for_run(end, WindowPolicy::Start, at("2026-10-25T00:00:00Z"), &zone)
            .expect("window");
        assert_eq!(w.closes, at("2026-10-25T00:30:00Z"));
        let w = NightWindow::for_run(end, WindowPolicy::Start, at("2026-10-25T01:00:00Z"), &zone)
            .expect("window");
        assert_eq!(w.closes, at("2026-10-25T01:30:00Z"));
    }

    #[test]
    fn a_time_the_clocks_skip_closes_no_later_than_asked() {
        // 2026-03-29: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist that night.
        let end = LocalTime::parse("02:30").expect("02:30");
        let w = NightWindow::for_run(
            end,
            WindowPolicy::Start,
            at("2026-03-28T23:00:00Z"),
            &berlin(),
        )
        .expect("window");
        assert!(w.closes <= at("2026-03-29T01:30:00Z"), "{}", w.closes);
        assert!(w.closes > at("2026-03-28T23:00:00Z"));
    }

    #[test]
    fn refuses_after_the_close_and_with_fit_what_would_end_after_it() {
        let start = at("2026-12-02T00:00:00Z");
        let w = NightWindow::for_run(seven(), WindowPolicy::Fit, start, &berlin()).expect("w");
        assert_eq!(w.refuses(start, None), None);
        assert_eq!(w.refuses(start, Some(3600.0)), None);
        let late = w
            .refuses(at("2026-12-02T05:00:00Z"), Some(6000.0))
            .expect("would end at 07:40 local");
        assert!(
            late.starts_with("would end at 07:40, after the window"),
            "{late}"
        );
        let closed = w.refuses(at("2026-12-02T06:00:00Z"), None).expect("closed");
        assert!(closed.starts_with("window closed at 07:00"), "{closed}");
        // "start" lets a long job begin before the close.
        let w = NightWindow::for_run(seven(), WindowPolicy::Start, start, &berlin()).expect("w");
        assert_eq!(w.refuses(at("2026-12-02T05:00:00Z"), Some(6000.0)), None);
    }

    #[test]
    fn local_time_parses_strictly() {
        for good in ["07:00", "7:05", "00:00", "23:59"] {
            assert!(LocalTime::parse(good).is_some(), "{good}");
        }
        for bad in [
            "24:00", "07:60", "7", "07:5", "07:000", "-1:00", "+7:00", "07:00:00", "",
        ] {
            assert!(LocalTime::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(
            LocalTime::parse("7:05").map(|t| t.to_string()).as_deref(),
            Some("07:05")
        );
    }
}
