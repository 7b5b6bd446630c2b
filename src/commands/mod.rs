//! One file per subcommand, gluing config, orchestrator and report into an exit code.

pub mod demo;
pub mod run;
pub mod validate;
