//! One file per subcommand, gluing config, orchestrator and report into an exit code.

pub mod run;
pub mod validate;
