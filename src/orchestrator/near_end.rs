//! When to poll a running job sooner: once its end is near. Between a job's end and jbr seeing
//! it, the job sits enabled and idle, a chance for the server's own scheduler to start it again
//! (a second full backup), and the NAS waits for the next job. At the production poll interval
//! of 30 s that is about 15 s on average, every job, every night.
//!
//! So jbr polls every `near_end_poll_interval` (2 s by default) once the group reports ≥ 95 %
//! done, or around the job's usual duration (the median of its recent successful runs): from
//! 90 % of it, or from half the extra polls' span before it when that is later (a 30-minute job
//! is not polled every 2 s for its last 3 minutes), until as long after it. At most
//! `MAX_EXTRA_POLLS` sooner polls per job, so a job that overruns costs a bounded number of
//! calls.

use std::time::Duration;

use crate::config::Orchestrator;

/// Sooner polls one job may get, at most.
pub const MAX_EXTRA_POLLS: u32 = 30;
/// The group's own progress from which its end counts as near.
pub const NEAR_PERCENT: f64 = 95.0;
/// The share of the usual duration after which the end counts as near.
pub const NEAR_SHARE: f64 = 0.9;

/// The poll pacing of one job.
#[derive(Debug, Clone)]
pub struct Pacing {
    /// Since the trigger: when sooner polls start and stop, when there is history.
    window: Option<(Duration, Duration)>,
    poll: Duration,
    sooner: Duration,
    extra_left: u32,
}

impl Pacing {
    /// `usual_secs`: the median duration of the job's recent successful runs (state file).
    pub fn new(o: &Orchestrator, usual_secs: Option<f64>) -> Pacing {
        // Never a zero pause, whatever the config says.
        let sooner = o
            .near_end_poll_interval
            .min(o.poll_interval)
            .max(Duration::from_millis(1));
        let half_span = sooner * (MAX_EXTRA_POLLS / 2);
        // A corrupt state file must not panic mid-job: a duration that does not fit is no history.
        let window = usual_secs
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .filter(|usual| !usual.is_zero())
            .and_then(|usual| {
                let start = usual
                    .mul_f64(NEAR_SHARE)
                    .max(usual.saturating_sub(half_span));
                Some((start, usual.checked_add(half_span)?))
            });
        Pacing {
            window,
            poll: o.poll_interval,
            sooner,
            extra_left: MAX_EXTRA_POLLS,
        }
    }

    /// Whether the end is near: `progress` (the last answered poll's percent) ≥ 95, or
    /// `elapsed` since the trigger inside the window around the usual duration.
    pub fn is_near(&self, elapsed: Duration, progress: Option<f64>) -> bool {
        progress.is_some_and(|p| p >= NEAR_PERCENT)
            || self
                .window
                .is_some_and(|(start, stop)| elapsed >= start && elapsed < stop)
    }

    /// The pause before the next poll. A sooner one uses up one of the job's extra polls: inside
    /// the window, and the one that shortens a pause so as not to overshoot the window's start.
    pub fn next_pause(&mut self, elapsed: Duration, progress: Option<f64>) -> Duration {
        if self.sooner >= self.poll || self.extra_left == 0 {
            return self.poll;
        }
        if self.is_near(elapsed, progress) {
            self.extra_left -= 1;
            return self.sooner;
        }
        match self.window {
            Some((start, _)) if elapsed < start && start - elapsed < self.poll => {
                self.extra_left -= 1;
                (start - elapsed).max(self.sooner)
            }
            _ => self.poll,
        }
    }

    /// How many sooner polls this job has had.
    pub fn extra_polls(&self) -> u32 {
        MAX_EXTRA_POLLS - self.extra_left
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn orchestrator() -> Orchestrator {
        Orchestrator {
            poll_interval: Duration::from_secs(30),
            near_end_poll_interval: Duration::from_secs(2),
            ..Orchestrator::default()
        }
    }

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn without_history_or_progress_it_polls_at_the_poll_interval() {
        let mut p = Pacing::new(&orchestrator(), None);
        for t in [0, 100, 10_000] {
            assert_eq!(p.next_pause(S(t), None), S(30));
            assert_eq!(p.next_pause(S(t), Some(50.0)), S(30));
        }
        assert_eq!(p.extra_polls(), 0);
    }

    #[test]
    fn a_short_job_is_polled_sooner_from_90_percent_of_its_usual_duration() {
        let mut p = Pacing::new(&orchestrator(), Some(100.0));
        assert_eq!(p.next_pause(S(50), None), S(30));
        // The pause that would overshoot 90 s ends there instead.
        assert_eq!(p.next_pause(S(80), None), S(10));
        assert_eq!(p.next_pause(S(90), None), S(2));
        assert_eq!(p.next_pause(S(129), None), S(2));
        assert_eq!(p.next_pause(S(130), None), S(30), "30 s past the usual end");
        assert_eq!(p.extra_polls(), 3);
    }

    #[test]
    fn a_long_job_is_polled_sooner_only_around_its_usual_end() {
        let mut p = Pacing::new(&orchestrator(), Some(1800.0));
        // 90 % would be 1620 s; the window is 1770..1830 s.
        assert_eq!(p.next_pause(S(1620), None), S(30));
        assert_eq!(p.next_pause(S(1769), None), S(2), "no later than 1770 s");
        assert_eq!(p.next_pause(S(1770), None), S(2));
        assert_eq!(p.next_pause(S(1830), None), S(30));
    }

    #[test]
    fn a_usual_duration_too_large_to_hold_is_no_history() {
        let mut p = Pacing::new(&orchestrator(), Some(1e30));
        assert_eq!(p.next_pause(S(100), None), S(30));
        let mut p = Pacing::new(&orchestrator(), Some(f64::NAN));
        assert_eq!(p.next_pause(S(100), None), S(30));
    }

    #[test]
    fn from_95_percent_progress_it_polls_sooner() {
        let mut p = Pacing::new(&orchestrator(), None);
        assert_eq!(p.next_pause(S(5), Some(94.9)), S(30));
        assert_eq!(p.next_pause(S(5), Some(95.0)), S(2));
    }

    #[test]
    fn a_job_that_overruns_gets_at_most_30_sooner_polls() {
        let mut p = Pacing::new(&orchestrator(), None);
        let sooner = (0..1000)
            .filter(|i| p.next_pause(S(100 + i), Some(99.0)) == S(2))
            .count();
        assert_eq!(sooner, MAX_EXTRA_POLLS as usize);
        assert_eq!(p.next_pause(S(5000), Some(99.0)), S(30));
    }

    #[test]
    fn never_slower_than_the_poll_interval_and_no_extras_when_it_is_already_fast() {
        let fast = Orchestrator {
            poll_interval: Duration::from_secs(1),
            ..orchestrator()
        };
        let mut p = Pacing::new(&fast, Some(10.0));
        assert_eq!(p.next_pause(S(100), Some(99.0)), S(1));
        assert_eq!(p.extra_polls(), 0);
    }
}
