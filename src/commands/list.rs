//! `jbr list`: the configured jobs with their live state, and the jobs on the servers that
//! target the NAS destination without being configured.
//!
//! An unconfigured job that targets the NAS is a finding (exit 1): while jbr has the destination
//! enabled for its window, that job's own schedule can start it, next to jbr's job — two writers.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use super::fleet::{self, ReadClient};
use crate::api::BackupJob;
use crate::config::{Config, Server};
use crate::exit::Exit;
use crate::report::text::short_id;

#[derive(Debug, Serialize)]
struct Row {
    server: String,
    job_id: String,
    /// From the config; empty for an unconfigured job.
    label: String,
    /// From the config; null for an unconfigured job.
    #[serde(rename = "type")]
    kind: Option<&'static str>,
    priority: Option<i64>,
    /// `"enabled"` in the config; null for an unconfigured job.
    enabled: Option<bool>,
    configured: bool,
    /// null when the server could not be asked.
    exists: Option<bool>,
    /// The job's name on the server.
    name: Option<String>,
    disabled: Option<bool>,
    running: Option<bool>,
    /// Writes to the server's `destination_id`; null when unknown (no destination configured,
    /// or the server could not be asked).
    targets_nas: Option<bool>,
    error: Option<String>,
}

#[derive(Debug, Serialize)]
struct Report {
    ok: bool,
    configured: usize,
    missing: usize,
    unconfigured_targeting_nas: usize,
    unreachable_servers: Vec<String>,
    jobs: Vec<Row>,
    errors: Vec<String>,
}

pub fn run(config_path: &Path, json: bool) -> Exit {
    let Some(config) = fleet::load_config(config_path) else {
        return Exit::Usage;
    };
    let selected: Vec<String> = config.servers.keys().cloned().collect();
    let (config, answers) = match fleet::ask_each(config, &selected, ask) {
        Ok(asked) => asked,
        Err(exit) => return exit,
    };

    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut unreachable = Vec::new();
    for (name, answer) in answers {
        let answer = answer.and_then(|a| a);
        let dest = config
            .servers
            .get(&name)
            .and_then(|s| s.destination_id.as_deref());
        let live = match &answer {
            Ok(jobs) => Some(jobs.as_slice()),
            Err(e) => {
                errors.push(e.clone());
                unreachable.push(name.clone());
                None
            }
        };
        let configured = fleet::jobs_of(&config, &name);
        let ids: BTreeSet<&str> = configured.iter().map(|j| j.job_id.as_str()).collect();
        for job in configured {
            let found = live.map(|l| l.iter().find(|j| j.id == job.job_id));
            let mut row = Row {
                server: name.clone(),
                job_id: job.job_id.clone(),
                label: job.label.clone(),
                kind: Some(job.kind.as_str()),
                priority: Some(job.priority),
                enabled: Some(job.enabled),
                configured: true,
                exists: found.map(|f| f.is_some()),
                name: None,
                disabled: None,
                running: None,
                targets_nas: None,
                error: None,
            };
            match found {
                Some(Some(j)) => fill(&mut row, j, dest),
                Some(None) => {
                    let e = fleet::missing_job_line(&name, job);
                    errors.push(e.clone());
                    row.error = Some(e);
                }
                None => row.error = Some(format!("server {name} not reachable")),
            }
            rows.push(row);
        }
        let (Some(live), Some(dest)) = (live, dest) else {
            continue;
        };
        for j in live
            .iter()
            .filter(|j| !ids.contains(j.id.as_str()) && j.destinations.iter().any(|d| d == dest))
        {
            errors.push(format!(
                "server {name}: job {} \"{}\" targets the NAS destination {} but is not in the config",
                j.id,
                j.name,
                short_id(dest)
            ));
            let mut row = Row {
                server: name.clone(),
                job_id: j.id.clone(),
                label: String::new(),
                kind: None,
                priority: None,
                enabled: None,
                configured: false,
                exists: Some(true),
                name: None,
                disabled: None,
                running: None,
                targets_nas: None,
                error: None,
            };
            fill(&mut row, j, Some(dest));
            rows.push(row);
        }
    }

    let report = Report {
        ok: errors.is_empty(),
        configured: rows.iter().filter(|r| r.configured).count(),
        missing: rows.iter().filter(|r| r.exists == Some(false)).count(),
        unconfigured_targeting_nas: rows.iter().filter(|r| !r.configured).count(),
        unreachable_servers: unreachable,
        jobs: rows,
        errors,
    };
    fleet::finish(json, &report, render, &report.errors, report.ok)
}

async fn ask(
    _config: Arc<Config>,
    server: Server,
    client: Arc<ReadClient>,
) -> Result<Vec<BackupJob>, String> {
    client
        .list_backup_jobs()
        .await
        .map_err(|e| fleet::error_line(&server.name, None, &e))
}

fn fill(row: &mut Row, job: &BackupJob, dest: Option<&str>) {
    row.name = Some(job.name.clone());
    row.disabled = Some(job.disabled);
    row.running = Some(job.running);
    row.targets_nas = dest.map(|d| job.destinations.iter().any(|x| x == d));
}

fn render(report: &Report) -> String {
    let rows: Vec<Vec<String>> = report
        .jobs
        .iter()
        .map(|r| {
            let config = match r.enabled {
                None => "NOT CONFIGURED".to_string(),
                Some(true) => "enabled".to_string(),
                Some(false) => "disabled".to_string(),
            };
            let live = match (&r.error, r.exists) {
                (_, Some(true)) => {
                    let mut words =
                        vec![fleet::disabled_word(r.disabled == Some(true)).to_string()];
                    if r.running == Some(true) {
                        words.push("running".into());
                    }
                    match r.targets_nas {
                        Some(true) => words.push("targets the NAS".into()),
                        Some(false) => words.push("does NOT target the NAS".into()),
                        None => {}
                    }
                    if let Some(n) = &r.name
                        && n != &r.label
                    {
                        words.push(format!("named \"{n}\""));
                    }
                    words.join(", ")
                }
                (_, Some(false)) => "MISSING on the server".to_string(),
                (Some(e), None) => format!("? ({e})"),
                (None, None) => "?".to_string(),
            };
            vec![
                r.server.clone(),
                fleet::job_name(&r.job_id, &r.label),
                r.kind.unwrap_or("-").to_string(),
                r.priority
                    .map(|p| p.to_string())
                    .unwrap_or_else(|| "-".into()),
                config,
                live,
            ]
        })
        .collect();
    let mut out = fleet::table(
        &["SERVER", "JOB", "TYPE", "PRIORITY", "CONFIG", "ON SERVER"],
        &rows,
    );
    let mut summary = vec![format!(
        "{} configured job{}",
        report.configured,
        fleet::plural(report.configured)
    )];
    if report.missing > 0 {
        summary.push(format!("{} missing on the server", report.missing));
    }
    if report.unconfigured_targeting_nas > 0 {
        summary.push(format!(
            "{} unconfigured job{} targeting the NAS",
            report.unconfigured_targeting_nas,
            fleet::plural(report.unconfigured_targeting_nas)
        ));
    }
    if !report.unreachable_servers.is_empty() {
        summary.push(format!(
            "unreachable: {}",
            report.unreachable_servers.join(", ")
        ));
    }
    out.push_str(&format!("list: {}\n", summary.join(", ")));
    out
}
