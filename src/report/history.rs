//! A job's recent runs, as the state file keeps them (issue 11, item 5): a ring of the last
//! [`RUNS_KEPT`], whatever their outcome, and what is read from it: the median duration and a
//! sparkline. Pure: no I/O, and no value read from a (possibly corrupt) state file can panic.

use serde::{Deserialize, Serialize};

use super::record::{JobRecord, Outcome};

/// How many runs of a job the state file keeps.
pub const RUNS_KEPT: usize = 30;

/// How many of them `jbr status` draws.
pub const SPARK_RUNS: usize = 14;

/// The bars of a sparkline, lowest first.
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A run in the sparkline that has no duration (skipped, never started).
pub const NO_DURATION: char = '·';

/// One run of a job, as the state file remembers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PastRun {
    /// Unix seconds: when jbr triggered it; `null` when it never started (a skipped server).
    #[serde(default)]
    pub start: Option<f64>,
    /// Seconds from the trigger to its end; `null` when it never started.
    #[serde(default)]
    pub duration_secs: Option<f64>,
    pub outcome: Outcome,
    /// Bytes the NAS wrote while it ran (the record's `nas_written_bytes`); `null` when not
    /// measured.
    #[serde(default)]
    pub nas_written_bytes: Option<u64>,
}

impl PastRun {
    pub fn of(j: &JobRecord) -> PastRun {
        PastRun {
            start: j.start,
            duration_secs: j.duration_secs,
            outcome: j.outcome,
            nas_written_bytes: j.nas_written_bytes,
        }
    }

    /// Its duration when it is one a median or a bar can use: finite and positive.
    fn usable_duration(&self) -> Option<f64> {
        self.duration_secs.filter(|d| usable(*d))
    }
}

fn usable(secs: f64) -> bool {
    secs.is_finite() && secs > 0.0
}

/// Append `run` to `ring` (oldest first), keeping the last [`RUNS_KEPT`].
pub fn push(ring: &mut Vec<PastRun>, run: PastRun) {
    ring.push(run);
    let extra = ring.len().saturating_sub(RUNS_KEPT);
    ring.drain(..extra);
}

/// The median of the finite, positive values; `None` when there is none.
pub fn median(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let mut d: Vec<f64> = values.into_iter().filter(|x| usable(*x)).collect();
    if d.is_empty() {
        return None;
    }
    d.sort_by(f64::total_cmp);
    let mid = d.len() / 2;
    Some(if d.len() % 2 == 1 {
        d[mid]
    } else {
        // Halves first: two values near f64::MAX must not add up to infinity.
        d[mid - 1] / 2.0 + d[mid] / 2.0
    })
}

/// The last [`SPARK_RUNS`] runs' durations as bars, oldest first, scaled from zero to the
/// longest of them, so a bar's height is its share of that longest run (a 1 % difference is
/// not drawn as the whole range). A run without a duration is [`NO_DURATION`]. Empty for no
/// runs.
pub fn sparkline(ring: &[PastRun]) -> String {
    let shown = &ring[ring.len().saturating_sub(SPARK_RUNS)..];
    let longest = shown
        .iter()
        .filter_map(PastRun::usable_duration)
        .fold(0.0, f64::max);
    shown
        .iter()
        .map(|r| match r.usable_duration() {
            Some(d) => {
                // d / longest is in (0, 1]; the bar is its eighth, rounded up.
                let eighths = (d / longest * BARS.len() as f64).ceil() as usize;
                BARS[eighths.clamp(1, BARS.len()) - 1]
            }
            None => NO_DURATION,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(secs: Option<f64>, outcome: Outcome) -> PastRun {
        PastRun {
            start: secs.map(|_| 1.0),
            duration_secs: secs,
            outcome,
            nas_written_bytes: None,
        }
    }

    fn ok(secs: f64) -> PastRun {
        run(Some(secs), Outcome::Completed)
    }

    #[test]
    fn the_ring_keeps_the_last_30_oldest_first() {
        let mut ring = Vec::new();
        for i in 1..=45 {
            push(&mut ring, ok(f64::from(i)));
        }
        assert_eq!(ring.len(), RUNS_KEPT);
        assert_eq!(ring[0].duration_secs, Some(16.0));
        assert_eq!(ring[29].duration_secs, Some(45.0));
    }

    #[test]
    fn the_median_skips_what_is_not_a_duration() {
        assert_eq!(median([]), None);
        assert_eq!(median([0.0, -5.0, f64::NAN, f64::INFINITY]), None);
        assert_eq!(median([300.0, 100.0, 200.0]), Some(200.0));
        assert_eq!(median([100.0, 400.0, 200.0, 300.0]), Some(250.0));
        assert_eq!(median([f64::MAX, f64::MAX]), Some(f64::MAX));
    }

    #[test]
    fn bars_are_shares_of_the_longest_run() {
        let ring: Vec<PastRun> = [100.0, 200.0, 400.0, 800.0, 1.0, 799.0]
            .into_iter()
            .map(ok)
            .collect();
        assert_eq!(sparkline(&ring), "▁▂▄█▁█");
        // A night with ±1 % is flat, not a zigzag.
        let flat: Vec<PastRun> = [3600.0, 3630.0, 3570.0].into_iter().map(ok).collect();
        assert_eq!(sparkline(&flat), "███");
    }

    #[test]
    fn the_sparkline_shows_the_last_14_and_marks_runs_without_a_duration() {
        let mut ring: Vec<PastRun> = (0..20).map(|_| ok(60.0)).collect();
        ring.push(run(None, Outcome::Skipped));
        ring.push(run(Some(30.0), Outcome::Failed));
        let line = sparkline(&ring);
        assert_eq!(line.chars().count(), SPARK_RUNS);
        assert!(line.ends_with("█·▄"), "{line}");
        assert_eq!(sparkline(&[]), "");
        assert_eq!(sparkline(&[run(None, Outcome::Skipped)]), "·");
    }

    #[test]
    fn absurd_durations_from_a_corrupt_file_draw_without_panicking() {
        let ring = vec![
            ok(f64::MAX),
            ok(1e-300),
            run(Some(-3.0), Outcome::Completed),
            run(Some(f64::NAN), Outcome::Failed),
            ok(f64::MIN_POSITIVE),
        ];
        assert_eq!(sparkline(&ring), "█▁··▁");
    }
}
