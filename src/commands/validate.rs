//! `jbr validate`: offline config check, every problem with its JSON path, in one pass.

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::config::{self, Problem};
use crate::exit::Exit;

/// `validate --json`: one object, stable keys, for scripts and monitoring.
#[derive(Serialize)]
struct JsonReport<'a> {
    file: String,
    valid: bool,
    errors: usize,
    warnings: usize,
    problems: Vec<JsonProblem<'a>>,
}

#[derive(Serialize)]
struct JsonProblem<'a> {
    severity: config::Severity,
    path: &'a str,
    code: &'a str,
    message: &'a str,
    hint: Option<&'a str>,
    /// The same text as the plain output's line.
    text: String,
}

pub fn run(config_path: &Path, json: bool) -> Exit {
    tracing::debug!(file = %config_path.display(), "validating config");
    let (problems, summary) = match config::load(config_path) {
        Ok(loaded) => {
            let c = &loaded.config;
            let mut summary = format!(
                "{} server{}, {} job{}",
                c.servers.len(),
                plural(c.servers.len()),
                c.jobs.len(),
                plural(c.jobs.len())
            );
            // The URL prints as scheme and host: its path is the check's secret.
            if let Some(url) = &c.monitoring.healthcheck_url {
                summary.push_str(&format!("; healthcheck pings to {url}"));
            }
            if let Some(end) = c.orchestrator.window_end {
                let now = crate::report::time::unix_now();
                let zone = jiff::tz::TimeZone::system();
                if let Some(w) = crate::orchestrator::night::NightWindow::for_run(
                    end,
                    c.orchestrator.window_policy,
                    now,
                    &zone,
                ) {
                    summary.push_str(&format!("; {}", w.describe(now)));
                }
            }
            (loaded.problems, Some(summary))
        }
        Err(e) => (e.to_problems(), None),
    };
    let errors = problems.iter().filter(|p| p.is_error()).count();
    let warnings = problems.len() - errors;
    let out = if json {
        render_json(config_path, &problems, errors, warnings)
    } else {
        render_text(config_path, &problems, errors, warnings, summary)
    };
    // A closed pipe (`jbr validate | head`) is not worth a panic; the exit code still tells.
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    if errors > 0 { Exit::Usage } else { Exit::Ok }
}

fn render_text(
    path: &Path,
    problems: &[Problem],
    errors: usize,
    warnings: usize,
    summary: Option<String>,
) -> String {
    let mut out = String::new();
    for p in problems {
        out.push_str(&p.to_string());
        out.push('\n');
    }
    let file = path.display();
    let line = match (errors, summary) {
        (0, Some(s)) if warnings == 0 => format!("{file}: OK ({s})"),
        (0, Some(s)) => format!(
            "{file}: OK with {warnings} warning{} ({s})",
            plural(warnings)
        ),
        _ => format!(
            "{file}: {errors} error{}, {warnings} warning{}; no command will touch a server with this config",
            plural(errors),
            plural(warnings)
        ),
    };
    out.push_str(&line);
    out.push('\n');
    out
}

fn render_json(path: &Path, problems: &[Problem], errors: usize, warnings: usize) -> String {
    let report = JsonReport {
        file: path.display().to_string(),
        valid: errors == 0,
        errors,
        warnings,
        problems: problems
            .iter()
            .map(|p| JsonProblem {
                severity: p.severity,
                path: &p.json_path,
                code: p.code,
                message: &p.message,
                hint: p.hint.as_deref(),
                text: p.to_string(),
            })
            .collect(),
    };
    match serde_json::to_string_pretty(&report) {
        Ok(s) => s + "\n",
        // Serializing plain strings and numbers cannot fail; keep a valid JSON answer anyway.
        Err(e) => format!("{{\"error\": {:?}}}\n", e.to_string()),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
