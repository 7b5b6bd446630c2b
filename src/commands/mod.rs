//! One file per subcommand, gluing config, orchestrator and report into an exit code; `fleet`
//! is what the operator commands share (picking servers, one client each, asking them at once).

pub mod daemon;
pub mod demo;
pub mod destinations;
pub mod docs;
pub mod fleet;
pub mod job_history;
pub mod list;
pub mod live;
pub mod progress_line;
pub mod run;
pub mod status;
pub mod stop;
pub mod test;
pub mod validate;
