//! jbr: run JetBackup 5 backups from several hosting servers to one NAS, strictly one at a time.
//!
//! Calls flow one way: commands → orchestrator → api → transport. `contract`, `config`,
//! `report`, `journal` and `lock` are leaves; nothing calls back up.

pub mod api;
pub mod cli;
pub mod commands;
pub mod config;
pub mod contract;
pub mod exit;
pub mod healthcheck;
pub mod journal;
pub mod lock;
pub mod logging;
pub mod nas;
pub mod notify;
pub mod orchestrator;
pub mod report;
pub mod sd_notify;
pub mod sim;
pub mod soak;
pub mod transport;
