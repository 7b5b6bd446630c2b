//! All policy: order, one writer, destination windows, timeouts, abort then confirm.
//! Reaches servers only through `api::Client`. Never prints: progress goes out as `tracing`
//! events and `progress::Event`s; the outcome is a `report::RunRecord`.

pub mod clock;
pub mod context;
pub mod dry_run;
pub mod follow;
pub mod lifecycle;
pub mod near_end;
pub mod night;
pub mod plan;
pub mod preflight;
pub mod progress;
pub mod recover;
pub mod retry;
pub mod run;
pub mod verify;
pub mod window;
