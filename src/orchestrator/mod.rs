//! All policy: order, one writer, destination windows, timeouts, abort then confirm.
//! Reaches servers only through `api::Client`. Never prints: progress goes out as `tracing`
//! events and `progress::Event`s; the outcome is a `report::RunRecord`.

pub mod dry_run;
pub mod plan;
