//! What the operator commands share: picking servers by `--server`, one client per server, asking
//! several servers at once (bounded), loading the config, and the table/JSON printing.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::api::{ApiError, Client};
use crate::config::{self, Config, Server};
use crate::exit::Exit;
use crate::orchestrator::dry_run::ReadOnly;
use crate::transport::any::AnyTransport;

/// At most this many servers are asked at once: enough for a fleet in seconds, few enough that
/// a small NAS does not start dozens of ssh masters together.
pub const MAX_PARALLEL: usize = 8;

/// A client that cannot change anything: every `manage*`, `run*`, `stop*`, `clear*` call is
/// refused before it leaves this process. Read-only commands use only this.
pub type ReadClient = Client<ReadOnly<AnyTransport>>;

/// `load_for_run` with the error printed the way every command prints it (exit 2 follows).
pub fn load_config(path: &Path) -> Option<Config> {
    match config::load_for_run(path) {
        Ok(c) => Some(c),
        Err(e) => {
            eprintln!("jbr: {e}");
            None
        }
    }
}

/// The servers `--server` selects (all when absent), sorted by name. An unknown name is a usage
/// error listing the known ones.
pub fn select(config: &Config, wanted: Option<&str>) -> Result<Vec<String>, String> {
    match wanted {
        None => Ok(config.servers.keys().cloned().collect()),
        Some(name) if config.servers.contains_key(name) => Ok(vec![name.to_string()]),
        Some(name) => Err(format!(
            "--server {name:?}: no such server in {} (known: {})",
            config.path.display(),
            known(config)
        )),
    }
}

/// The config and the servers `--server` selects, as every read-only command starts; a problem
/// is printed as its one line and answered with exit 2.
pub fn load_and_select(path: &Path, wanted: Option<&str>) -> Result<(Config, Vec<String>), Exit> {
    let config = load_config(path).ok_or(Exit::Usage)?;
    match select(&config, wanted) {
        Ok(selected) => Ok((config, selected)),
        Err(e) => {
            print_errors(&[e]);
            Err(Exit::Usage)
        }
    }
}

fn known(config: &Config) -> String {
    if config.servers.is_empty() {
        "none".to_string()
    } else {
        config
            .servers
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The configured jobs of one server, in priority order (high first) as a run would take them.
pub fn jobs_of<'a>(config: &'a Config, server: &str) -> Vec<&'a config::Job> {
    let mut jobs: Vec<&config::Job> = config.jobs.iter().filter(|j| j.server == server).collect();
    // Stable: equal priorities keep file order, as in the run's plan.
    jobs.sort_by_key(|j| std::cmp::Reverse(j.priority));
    jobs
}

/// A runtime for one command. Current-thread is enough: the work is waiting on servers.
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// Each server's answer by name, or the one line saying why it gave none.
pub type Answers<R> = BTreeMap<String, Result<R, String>>;

/// Runs `ask` against every named server concurrently (at most `MAX_PARALLEL` at once) with a
/// read-only client, closed once `ask` is done, and returns each server's answer by name. A
/// server whose transport cannot even be built answers `Err` with that one line; one server's
/// failure never stops the others.
pub async fn each_server<R, F, Fut>(config: &Arc<Config>, servers: &[String], ask: F) -> Answers<R>
where
    R: Send + 'static,
    F: Fn(Arc<Config>, Server, Arc<ReadClient>) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = R> + Send + 'static,
{
    let gate = Arc::new(Semaphore::new(MAX_PARALLEL));
    let mut set = JoinSet::new();
    let mut results = BTreeMap::new();
    for name in servers {
        let Some(server) = config.servers.get(name).cloned() else {
            results.insert(
                name.clone(),
                Err(format!("server {name}: not in the config")),
            );
            continue;
        };
        let (config, gate, ask) = (Arc::clone(config), Arc::clone(&gate), ask.clone());
        set.spawn(async move {
            let name = server.name.clone();
            // The semaphore is never closed, so acquiring only waits.
            let _permit = gate.acquire_owned().await;
            let transport = match AnyTransport::for_server(&config, &server) {
                Ok(t) => t,
                Err(e) => return (name, Err(e.to_string())),
            };
            let client = Arc::new(Client::new(ReadOnly(transport)));
            let answer = ask(config, server, Arc::clone(&client)).await;
            // Closed here for every command, after its last question whatever it answered.
            close(&client).await;
            (name, Ok(answer))
        });
    }
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((name, answer)) => {
                results.insert(name, answer);
            }
            // A panicking task is a bug; its server is reported rather than silently missing.
            Err(e) => tracing::error!("a server query ended abnormally: {e}"),
        }
    }
    for name in servers {
        results
            .entry(name.clone())
            .or_insert_with(|| Err(format!("server {name}: query ended abnormally (a bug)")));
    }
    results
}

/// `each_server` on a runtime of its own, for a command's `run`: the config comes back shared
/// with the answers. A runtime that cannot start is printed as its one line, exit 1.
pub fn ask_each<R, F, Fut>(
    config: Config,
    servers: &[String],
    ask: F,
) -> Result<(Arc<Config>, Answers<R>), Exit>
where
    R: Send + 'static,
    F: Fn(Arc<Config>, Server, Arc<ReadClient>) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = R> + Send + 'static,
{
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            print_errors(&[e]);
            return Err(Exit::JobsFailed);
        }
    };
    let config = Arc::new(config);
    let answers = rt.block_on(each_server(&config, servers, ask));
    Ok((config, answers))
}

/// How every read-only command ends: the report as pretty JSON with `--json`, else its text
/// (rendered only then); then each error on stderr; exit 0 when `ok`, 1 otherwise.
pub fn finish<T: Serialize>(
    json: bool,
    report: &T,
    render: impl FnOnce(&T) -> String,
    errors: &[String],
    ok: bool,
) -> Exit {
    if json {
        print_json(report);
    } else {
        print_text(&render(report));
    }
    print_errors(errors);
    if ok { Exit::Ok } else { Exit::JobsFailed }
}

/// Closes the client's SSH master, if any (a local or simulated transport holds nothing).
pub async fn close(client: &ReadClient) {
    client.transport().0.close().await;
}

/// Left-aligned columns, two spaces apart, the last column unpadded. Widths count characters, so
/// `short_id`'s ellipsis lines up.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let cols = header.len();
    let mut width = vec![0usize; cols];
    for (i, h) in header.iter().enumerate() {
        width[i] = h.chars().count();
    }
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(cols) {
            width[i] = width[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(cell);
                let pad = width[i] - cell.chars().count() + 2;
                s.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

/// Prints `value` as one pretty JSON document on stdout. A closed pipe is not worth a panic.
pub fn print_json<T: Serialize>(value: &T) {
    let text = match serde_json::to_string_pretty(value) {
        Ok(s) => s + "\n",
        // Plain structs with string keys: cannot fail; keep the answer valid JSON anyway.
        Err(e) => format!("{{\"error\": {:?}}}\n", e.to_string()),
    };
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// Prints text on stdout; a closed pipe (`jbr list | head`) is not an error.
pub fn print_text(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// One problem, one line on stderr.
pub fn print_errors(errors: &[String]) {
    let mut err = std::io::stderr().lock();
    for e in errors {
        let _ = writeln!(err, "jbr: {e}");
    }
}

/// `6508…06d9 "accounts"`, or the short id alone when there is no label.
pub fn job_name(id: &str, label: &str) -> String {
    let id = crate::report::text::short_id(id);
    if label.is_empty() {
        id
    } else {
        format!("{id} \"{label}\"")
    }
}

/// An API error as one line that starts with its server (and job, when given), as in
/// `server web-01, job 6508…06d9 "accounts": getBackupJob: success=0 "No backup job found"`.
pub fn error_line(server: &str, job: Option<&str>, e: &ApiError) -> String {
    let text = match e {
        // The transport's own text starts with the server; put the function after it.
        ApiError::Transport { function, source } => {
            let s = source.to_string();
            match s.strip_prefix(&format!("server {}: ", source.server())) {
                Some(rest) => format!("{function}: {rest}"),
                None => format!("{function}: {s}"),
            }
        }
        other => {
            let s = other.to_string();
            match s.strip_prefix(&format!("server {server}: ")) {
                Some(rest) => rest.to_string(),
                None => s,
            }
        }
    };
    match job {
        Some(j) => format!("server {server}, job {j}: {text}"),
        None => format!("server {server}: {text}"),
    }
}

/// A failed `getDestination` as one line that names the configured `destination_id`, so the
/// operator knows which config value to check.
pub fn destination_error_line(server: &str, destination_id: &str, e: &ApiError) -> String {
    format!(
        "{} (destination_id {destination_id})",
        error_line(server, None, e)
    )
}

/// A configured job that the server's `listBackupJobs` does not return.
pub fn missing_job_line(server: &str, job: &config::Job) -> String {
    format!(
        "server {server}, job {}: not found in listBackupJobs (configured but missing on the server)",
        job_name(&job.job_id, &job.label)
    )
}

/// No answer at all (cannot connect, timeout, lost connection): asking this server anything
/// more now would only wait out the same timeout again.
pub fn is_unreachable(e: &ApiError) -> bool {
    matches!(e, ApiError::Transport { .. })
}

/// The server answered, and said no such thing exists (as opposed to not answering at all).
pub fn is_not_found(e: &ApiError) -> bool {
    matches!(e, ApiError::Refused { .. })
}

/// A live destination's or job's state in the tables. Enabled is in capitals: outside a jbr
/// window it means a run in progress, or something left on that JetBackup's schedule can start.
pub fn disabled_word(disabled: bool) -> &'static str {
    if disabled { "disabled" } else { "ENABLED" }
}

pub fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_by_characters_and_trims_the_last_column() {
        let rows = vec![
            vec!["web-01".into(), "6508…06d9".into(), "ok".into()],
            vec!["w".into(), "x".into(), "".into()],
        ];
        assert_eq!(
            table(&["SERVER", "JOB", "STATE"], &rows),
            "SERVER  JOB        STATE\nweb-01  6508…06d9  ok\nw       x\n"
        );
    }
}
