//! Wall-clock times for the record, derived from tokio's clock so a paused, auto-advancing
//! clock (`jbr demo`, tests) gives consistent start/end times too.

use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
pub struct Clock {
    wall0: f64,
    t0: Instant,
}

impl Clock {
    /// Anchor tokio's clock to the system's wall clock now.
    pub fn start() -> Self {
        Clock::at(crate::report::time::unix_now())
    }

    /// Anchor to a given wall time (tests).
    pub fn at(wall0: f64) -> Self {
        Clock {
            wall0,
            t0: Instant::now(),
        }
    }

    /// Unix seconds now.
    pub fn now(&self) -> f64 {
        self.wall0 + self.t0.elapsed().as_secs_f64()
    }

    pub fn epoch_of(&self, at: Instant) -> f64 {
        self.wall0 + at.saturating_duration_since(self.t0).as_secs_f64()
    }
}
