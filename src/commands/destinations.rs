//! `jbr destinations`: each server's NAS destination, live, and what the next run will do with it
//! (the same rule as the run: disabled by someone else → skipped unless `force_activate`).

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use super::fleet::{self, ReadClient};
use crate::config::{Config, DestinationPolicy, Server};
use crate::exit::Exit;
use crate::report::state::{self, State};
use crate::report::text::short_id;

#[derive(Debug, Serialize)]
struct Row {
    server: String,
    /// `destination_id`, or null when the server has none configured.
    id: Option<String>,
    configured: bool,
    /// null when it could not be checked (server unreachable, …).
    exists: Option<bool>,
    name: Option<String>,
    kind: Option<String>,
    disabled: Option<bool>,
    /// The state file records that jbr itself disabled it; null when the state is unreadable.
    disabled_by_jbr: Option<bool>,
    /// What `jbr run` would do with it now, in words.
    next_run: String,
    error: Option<String>,
}

#[derive(Debug, Serialize)]
struct Report {
    ok: bool,
    destinations: Vec<Row>,
    errors: Vec<String>,
}

/// What one server answered: the destination (if configured), or the error line.
type Answer = Option<Result<crate::api::Destination, (bool, String)>>;

pub fn run(config_path: &Path, server: Option<&str>, json: bool) -> Exit {
    let (config, selected) = match fleet::load_and_select(config_path, server) {
        Ok(loaded) => loaded,
        Err(exit) => return exit,
    };
    let mut errors = Vec::new();
    let state = match state::load(&config.orchestrator.state_file) {
        Ok(s) => Some(s),
        Err(e) => {
            errors.push(e.to_string());
            None
        }
    };
    let (config, answers) = match fleet::ask_each(config, &selected, ask) {
        Ok(asked) => asked,
        Err(exit) => return exit,
    };
    let mut rows = Vec::new();
    for (name, answer) in answers {
        let dest = config
            .servers
            .get(&name)
            .and_then(|s| s.destination_id.clone());
        let answer: Answer = match answer {
            Ok(a) => a,
            Err(e) => Some(Err((false, e))),
        };
        let row = to_row(&name, dest, answer, state.as_ref(), &config.destination);
        if let Some(e) = &row.error {
            errors.push(e.clone());
        }
        rows.push(row);
    }
    let report = Report {
        ok: errors.is_empty(),
        destinations: rows,
        errors,
    };
    fleet::finish(
        json,
        &report,
        |r| render(&r.destinations),
        &report.errors,
        report.ok,
    )
}

async fn ask(_config: Arc<Config>, server: Server, client: Arc<ReadClient>) -> Answer {
    match &server.destination_id {
        None => None,
        Some(dest) => Some(client.get_destination(dest).await.map_err(|e| {
            (
                fleet::is_not_found(&e),
                fleet::destination_error_line(&server.name, dest, &e),
            )
        })),
    }
}

fn to_row(
    server: &str,
    id: Option<String>,
    answer: Answer,
    state: Option<&State>,
    policy: &DestinationPolicy,
) -> Row {
    let mut row = Row {
        server: server.to_string(),
        configured: id.is_some(),
        id: id.clone(),
        exists: None,
        name: None,
        kind: None,
        disabled: None,
        disabled_by_jbr: None,
        next_run: String::new(),
        error: None,
    };
    let (Some(id), Some(answer)) = (id, answer) else {
        row.next_run = "no destination lifecycle (no destination_id)".to_string();
        return row;
    };
    match answer {
        Err((not_found, line)) => {
            row.exists = not_found.then_some(false);
            row.next_run = if not_found {
                "skips this server: the destination does not exist".to_string()
            } else {
                "unknown: server not checked".to_string()
            };
            row.error = Some(line);
        }
        Ok(d) => {
            let ours = state.map(|s| s.jbr_disabled_destination(server, &id));
            row.exists = Some(true);
            row.name = Some(d.name);
            row.kind = Some(d.kind);
            row.disabled = Some(d.disabled);
            row.disabled_by_jbr = if d.disabled { ours } else { Some(false) };
            row.next_run = next_run(d.disabled, ours, policy);
        }
    }
    row
}

/// The run's rule (orchestrator `run.rs`): a disabled destination that jbr did not disable
/// itself is skipped when `skip_if_disabled` and not `force_activate`.
fn next_run(disabled: bool, ours: Option<bool>, policy: &DestinationPolicy) -> String {
    if !disabled {
        return "uses it, disables it afterwards (enabled now: a run in progress, or left enabled)"
            .to_string();
    }
    match ours {
        None => "unknown: the state file cannot be read".to_string(),
        Some(true) => "enables it for its window (jbr disabled it)".to_string(),
        Some(false) if policy.force_activate => {
            "enables it (disabled by someone else; force_activate)".to_string()
        }
        Some(false) if !policy.skip_if_disabled => {
            "enables it (disabled by someone else; skip_if_disabled is false)".to_string()
        }
        Some(false) => {
            "SKIPS this server: disabled by someone else (skip_if_disabled; run --force-activate to override)"
                .to_string()
        }
    }
}

fn render(rows: &[Row]) -> String {
    let table_rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let state = match (r.disabled, &r.error) {
                (Some(disabled), _) => fleet::disabled_word(disabled).to_string(),
                (None, Some(_)) if r.exists == Some(false) => "MISSING".to_string(),
                (None, Some(_)) => "UNREACHABLE".to_string(),
                (None, None) => "-".to_string(),
            };
            let name = match (&r.name, &r.kind) {
                (Some(n), Some(k)) => format!("\"{n}\" ({k})"),
                _ => "-".to_string(),
            };
            let next = match &r.error {
                Some(e) => e.clone(),
                None => r.next_run.clone(),
            };
            vec![
                r.server.clone(),
                r.id.as_deref().map(short_id).unwrap_or_else(|| "-".into()),
                name,
                state,
                next,
            ]
        })
        .collect();
    fleet::table(
        &["SERVER", "DESTINATION", "NAME", "STATE", "NEXT RUN"],
        &table_rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(skip: bool, force: bool) -> DestinationPolicy {
        DestinationPolicy {
            skip_if_disabled: skip,
            force_activate: force,
            alert_days_without_jobs: 3.0,
        }
    }

    #[test]
    fn next_run_follows_the_runs_rule() {
        assert!(next_run(true, Some(false), &policy(true, false)).starts_with("SKIPS"));
        assert!(next_run(true, Some(true), &policy(true, false)).contains("jbr disabled it"));
        assert!(next_run(true, Some(false), &policy(true, true)).contains("force_activate"));
        assert!(next_run(true, Some(false), &policy(false, false)).contains("skip_if_disabled"));
        assert!(next_run(false, Some(false), &policy(true, false)).contains("enabled now"));
    }
}
