//! `jbr test`: can jbr reach each server (SSH, the gate, jetbackup5api), and do the configured
//! destination and jobs exist there? Reads only; the client refuses every write.

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use super::fleet::{self, ReadClient};
use crate::api::BackupJob;
use crate::config::{Config, Job, Server};
use crate::exit::Exit;
use crate::report::text::short_id;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Status {
    Ok,
    /// Worth knowing, not a failure (exit stays 0).
    Warning,
    /// The server answered: no such destination or job.
    Missing,
    /// No usable answer (unreachable, refused, garbage).
    Failed,
}

impl Status {
    fn text(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Missing => "MISSING",
            Status::Failed => "FAILED",
        }
    }
    /// A server that answered "no such thing" (missing) versus any other failed answer.
    fn of_error(e: &crate::api::ApiError) -> Status {
        if fleet::is_not_found(e) {
            Status::Missing
        } else {
            Status::Failed
        }
    }
    fn is_problem(self) -> bool {
        matches!(self, Status::Missing | Status::Failed)
    }
}

#[derive(Debug, Serialize)]
struct Check {
    /// `ping`, `destination` or `job`.
    check: &'static str,
    id: Option<String>,
    label: Option<String>,
    status: Status,
    detail: String,
}

#[derive(Debug, Serialize)]
struct ServerReport {
    server: String,
    ok: bool,
    reachable: bool,
    checks: Vec<Check>,
}

#[derive(Debug, Serialize)]
struct Report {
    ok: bool,
    servers: Vec<ServerReport>,
    /// The same lines as on stderr.
    errors: Vec<String>,
}

pub fn run(config_path: &Path, server: Option<&str>, json: bool) -> Exit {
    let (config, selected) = match fleet::load_and_select(config_path, server) {
        Ok(loaded) => loaded,
        Err(exit) => return exit,
    };
    let (_, answers) = match fleet::ask_each(config, &selected, check_server) {
        Ok(asked) => asked,
        Err(exit) => return exit,
    };
    let mut reports = Vec::new();
    let mut errors = Vec::new();
    for (name, answer) in answers {
        let (report, errs) = match answer {
            Ok(r) => r,
            Err(e) => (unreachable(&name, &e), vec![e]),
        };
        reports.push(report);
        errors.extend(errs);
    }
    let report = Report {
        ok: reports.iter().all(|r| r.ok),
        servers: reports,
        errors,
    };
    fleet::finish(
        json,
        &report,
        |r| render(&r.servers),
        &report.errors,
        report.ok,
    )
}

fn unreachable(server: &str, error: &str) -> ServerReport {
    ServerReport {
        server: server.to_string(),
        ok: false,
        reachable: false,
        checks: vec![Check {
            check: "ping",
            id: None,
            label: None,
            status: Status::Failed,
            detail: error.to_string(),
        }],
    }
}

async fn check_server(
    config: Arc<Config>,
    server: Server,
    client: Arc<ReadClient>,
) -> (ServerReport, Vec<String>) {
    let name = server.name.as_str();
    let mut errors = Vec::new();
    if let Err(e) = client.ping().await {
        let line = fleet::error_line(name, None, &e);
        return (unreachable(name, &line), vec![line]);
    }
    let mut checks = vec![Check {
        check: "ping",
        id: None,
        label: None,
        status: Status::Ok,
        detail: "SSH and jetbackup5api answer".to_string(),
    }];

    let destination = match &server.destination_id {
        None => Ok(Check {
            check: "destination",
            id: None,
            label: None,
            status: Status::Ok,
            detail: "none configured (no destination lifecycle on this server)".to_string(),
        }),
        Some(dest) => check_destination(&client, name, dest, &mut errors).await,
    };
    match destination {
        Ok(check) => checks.push(check),
        Err(line) => return (unreachable(name, &line), vec![line]),
    }

    for job in fleet::jobs_of(&config, name) {
        match check_job(&client, &server, job, &mut errors).await {
            Ok(check) => checks.push(check),
            Err(line) => return (unreachable(name, &line), vec![line]),
        }
    }

    let ok = !checks.iter().any(|c| c.status.is_problem());
    (
        ServerReport {
            server: name.to_string(),
            ok,
            reachable: true,
            checks,
        },
        errors,
    )
}

/// The configured destination as the server has it. `Err`: the server stopped answering (the
/// line that says so); any other failed answer is a failed check, and a line in `errors`.
async fn check_destination(
    client: &ReadClient,
    name: &str,
    dest: &str,
    errors: &mut Vec<String>,
) -> Result<Check, String> {
    let (status, detail) = match client.get_destination(dest).await {
        Ok(d) if d.disabled => (Status::Ok, format!("\"{}\" ({}), disabled", d.name, d.kind)),
        // Outside jbr's window it should be disabled: a run in progress, or left on.
        Ok(d) => (
            Status::Warning,
            format!(
                "\"{}\" ({}), ENABLED (a run in progress, or left enabled)",
                d.name, d.kind
            ),
        ),
        Err(e) => {
            let line = fleet::error_line(name, None, &e);
            if fleet::is_unreachable(&e) {
                return Err(line);
            }
            let status = Status::of_error(&e);
            errors.push(fleet::destination_error_line(name, dest, &e));
            (status, line)
        }
    };
    Ok(Check {
        check: "destination",
        id: Some(dest.to_string()),
        label: None,
        status,
        detail,
    })
}

/// A configured job as the server has it. `Err`: the server stopped answering (the line that
/// says so); any other failed answer is a failed check, and a line in `errors`.
async fn check_job(
    client: &ReadClient,
    server: &Server,
    job: &Job,
    errors: &mut Vec<String>,
) -> Result<Check, String> {
    let name = server.name.as_str();
    let who = fleet::job_name(&job.job_id, &job.label);
    let (status, detail) = match client.get_backup_job(&job.job_id).await {
        Ok(j) => job_state(server, job, &j),
        Err(e) => {
            let line = fleet::error_line(name, Some(&who), &e);
            if fleet::is_unreachable(&e) {
                return Err(line);
            }
            errors.push(line.clone());
            let status = Status::of_error(&e);
            (status, line)
        }
    };
    Ok(Check {
        check: "job",
        id: Some(job.job_id.clone()),
        label: Some(job.label.clone()),
        status,
        detail,
    })
}

/// What is worth knowing about a job the server has: a warning when it could start outside jbr's
/// window, or when it does not write to the configured destination.
fn job_state(server: &Server, job: &Job, j: &BackupJob) -> (Status, String) {
    let mut notes = vec![
        format!("\"{}\"", j.name),
        fleet::disabled_word(j.disabled).to_string(),
    ];
    if j.running {
        notes.push("running".to_string());
    }
    if !job.enabled {
        notes.push("\"enabled\": false in the config (a run skips it)".to_string());
    }
    // Enabled outside jbr's window, JetBackup's own schedule can start it.
    let mut status = if j.disabled && !j.running {
        Status::Ok
    } else {
        notes.push("a run in progress, or left enabled".to_string());
        Status::Warning
    };
    if let Some(dest) = &server.destination_id
        && !j.destinations.iter().any(|d| d == dest)
    {
        // A run would open the NAS window for a job that writes elsewhere.
        status = Status::Warning;
        notes.push(format!(
            "does not target destination {} (its destinations: {})",
            short_id(dest),
            if j.destinations.is_empty() {
                "none".to_string()
            } else {
                j.destinations
                    .iter()
                    .map(|d| short_id(d))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ));
    }
    (status, notes.join(", "))
}

fn render(reports: &[ServerReport]) -> String {
    let mut rows = Vec::new();
    for r in reports {
        for c in &r.checks {
            let what = match (c.check, &c.id) {
                ("ping", _) => "ssh + api".to_string(),
                ("job", Some(id)) => format!(
                    "job {}",
                    fleet::job_name(id, c.label.as_deref().unwrap_or(""))
                ),
                (kind, Some(id)) => format!("{kind} {}", short_id(id)),
                (kind, None) => kind.to_string(),
            };
            rows.push(vec![
                r.server.clone(),
                what,
                c.status.text().to_string(),
                c.detail.clone(),
            ]);
        }
    }
    let mut out = fleet::table(&["SERVER", "CHECK", "RESULT", "DETAIL"], &rows);
    let bad = reports.iter().filter(|r| !r.ok).count();
    let n = reports.len();
    out.push_str(&if bad == 0 {
        format!("test: {n} server{} ok\n", fleet::plural(n))
    } else {
        format!(
            "test: {n} server{} checked, {bad} with problems\n",
            fleet::plural(n)
        )
    });
    out
}
