//! One file per subcommand, gluing config, orchestrator and report into an exit code.

pub mod demo;
pub mod destinations;
pub mod list;
pub mod live;
pub mod progress_line;
pub mod run;
pub mod servers;
pub mod status;
pub mod stop;
pub mod test;
pub mod validate;
