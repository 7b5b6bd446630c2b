//! When, on jbr's clock, a job changed state, and what that means for the server's scheduler and
//! the NAS (issue 13, "make it visible").
//!
//! jbr never sees a change happen: it sees one poll before and one after. So every moment here
//! is a [`Between`], the span from the middle of the call that still saw the old state to the
//! middle of the call that saw the new one (a call observes the server somewhere inside its
//! round trip; the middle is the unbiased guess). A time the server reports for the change is
//! used when it lies inside that span, and clamped into it otherwise, so a server clock that is
//! off can never make a figure larger or smaller than what jbr itself saw allows.

use tokio::time::Instant;

use super::clock::Clock;

/// One remote call, as jbr timed it.
#[derive(Debug, Clone, Copy)]
pub struct Call {
    pub asked: Instant,
    pub answered: Instant,
}

impl Call {
    /// Time `f`'s future as one call.
    pub async fn time<F: std::future::Future>(f: F) -> (F::Output, Call) {
        let asked = Instant::now();
        let out = f.await;
        (
            out,
            Call {
                asked,
                answered: Instant::now(),
            },
        )
    }

    /// When the call most likely took effect (or observed the server), Unix seconds.
    pub fn mid(&self, clock: &Clock) -> f64 {
        let (a, b) = (clock.epoch_of(self.asked), clock.epoch_of(self.answered));
        (a + b) / 2.0
    }
}

/// A change jbr saw between two moments (Unix seconds, `lo <= hi`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Between {
    pub lo: f64,
    pub hi: f64,
}

impl Between {
    pub fn new(lo: f64, hi: f64) -> Self {
        Between {
            lo: lo.min(hi),
            hi: lo.max(hi),
        }
    }

    /// The best estimate of when it happened: where the server's own time agrees with the span,
    /// the middle of what both allow (a time in whole seconds, as the API gives them, stands
    /// for that second); where it does not (its clock is off), it is clamped into the span; with
    /// no server time, the span's middle.
    pub fn estimate(&self, server_time: Option<f64>) -> f64 {
        let Some(t) = server_time.filter(|t| t.is_finite()) else {
            return (self.lo + self.hi) / 2.0;
        };
        let until = if t.fract() == 0.0 { t + 1.0 } else { t };
        let (lo, hi) = (self.lo.max(t), self.hi.min(until));
        if lo <= hi {
            (lo + hi) / 2.0
        } else {
            t.clamp(self.lo, self.hi)
        }
    }
}

/// What jbr saw of one followed run, poll by poll.
#[derive(Debug, Default)]
pub struct Polls {
    /// Polls that failed (transport, garbage, refusal) and were retried.
    pub failed: u32,
    /// The middle of the last answered poll: the lower bound of the next change.
    last_seen: Option<f64>,
    /// It started writing (left `pending`): between these polls, and the server's time for it.
    pub processing: Option<(Between, Option<f64>)>,
    /// It ended (group final and the job no longer `running`).
    pub ended: Option<(Between, Option<f64>)>,
    /// `disable_while_running`: the job's disable while this run wrote: the confirmed
    /// `manageBackupJob`, or why it failed (the job is disabled after its end instead).
    pub disabled_early: Option<Result<Call, String>>,
    /// The job's disable the moment its run was seen final (`follow::How::disable_at_end`): the
    /// confirmed `manageBackupJob`, or why it failed (tried again once following is over).
    pub disabled_at_end: Option<Result<Call, String>>,
}

impl Polls {
    /// Start watching at `since` (the trigger, or when jbr found a run it did not start).
    pub fn since(at: f64) -> Self {
        Polls {
            last_seen: Some(at),
            ..Polls::default()
        }
    }

    /// An answered poll, made by `call`, that saw the run still before the change(s) it shows.
    /// `processing`: the run has left `pending` (with the server's start time); `ended`: it is
    /// over (with the server's end time).
    pub fn saw(
        &mut self,
        clock: &Clock,
        call: &Call,
        processing: Option<Option<f64>>,
        ended: Option<Option<f64>>,
    ) {
        let now = call.mid(clock);
        let lo = self.last_seen.unwrap_or(now);
        if let (None, Some(t)) = (self.processing, processing) {
            self.processing = Some((Between::new(lo, now), t));
        }
        if let (None, Some(t)) = (self.ended, ended) {
            self.ended = Some((Between::new(lo, now), t));
        }
        self.last_seen = Some(now);
    }

    /// When it most likely started writing to the NAS.
    pub fn started_writing(&self) -> Option<f64> {
        self.processing.map(|(b, t)| b.estimate(t))
    }

    /// When it most likely ended.
    pub fn ended_at(&self) -> Option<f64> {
        self.ended.map(|(b, t)| b.estimate(t))
    }
}

/// Seconds from `from` to `to`, never negative (clocks and estimates can cross by a hair).
pub fn span(from: f64, to: f64) -> f64 {
    (to - from).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_time_is_clamped_into_what_jbr_saw() {
        let b = Between::new(10.0, 12.0);
        assert_eq!(b.estimate(Some(11.5)), 11.5);
        assert_eq!(
            b.estimate(Some(11.0)),
            11.5,
            "a whole second stands for that second"
        );
        assert_eq!(Between::new(10.0, 11.2).estimate(Some(11.0)), 11.1);
        assert_eq!(b.estimate(Some(3.0)), 10.0, "a server clock behind");
        assert_eq!(b.estimate(Some(99.0)), 12.0, "a server clock ahead");
        assert_eq!(b.estimate(None), 11.0);
        assert_eq!(b.estimate(Some(f64::NAN)), 11.0);
        assert_eq!(Between::new(5.0, 4.0), Between::new(4.0, 5.0));
        assert_eq!(span(5.0, 4.0), 0.0);
    }
}
