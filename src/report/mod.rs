//! The run record and its renderings (text, JSON, the email's HTML part), plus the atomic state
//! file. Pure except `state` (which only reads and writes its own file).

pub mod history;
pub mod html;
pub mod metrics;
pub mod record;
pub mod state;
pub mod text;
pub mod time;

pub use record::*;

/// The record as pretty JSON (what `run --json` and the state file carry).
pub fn to_json(record: &RunRecord) -> String {
    // Plain structs with string keys only: serializing cannot fail.
    serde_json::to_string_pretty(record).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}
