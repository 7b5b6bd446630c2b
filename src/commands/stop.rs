//! `jbr stop --server NAME GROUP_ID`: abort one queue group and confirm it stopped.
//!
//! No lock: aborting a stuck backup while a run follows it is exactly what an operator needs,
//! and the run sees the group end as aborted and closes its window as usual.
//! `stopQueueGroup` is only a signal: the group reaches a final status later, so we poll
//! `getQueueGroup` until it does (bounded by `stop_timeout`) before saying it stopped.

use std::path::Path;
use std::time::Duration;

use tokio::time::Instant;

use super::fleet;
use crate::api::{Client, QueueGroup};
use crate::config::Config;
use crate::exit::Exit;
use crate::logging;
use crate::transport::any::AnyTransport;

pub fn run(config_path: &Path, server: &str, group_id: &str) -> Exit {
    let config = match fleet::load_and_select(config_path, Some(server)) {
        Ok((config, _)) => config,
        Err(exit) => return exit,
    };
    // Checked here so a bad id is a usage error that never reaches a server.
    if group_id.is_empty() || !crate::contract::valid_value(group_id) {
        fleet::print_errors(&[format!(
            "GROUP_ID {group_id:?}: not a queue group id (allowed: A-Z a-z 0-9 _ . : -, not empty); nothing sent"
        )]);
        return Exit::Usage;
    }
    // An abort is an operator's change on a server: keep it in the log with the runs.
    if let Err(e) = logging::attach_config(&config.orchestrator) {
        tracing::warn!("{e}; continuing without the log file");
    }
    let rt = match fleet::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            fleet::print_errors(&[e]);
            return Exit::JobsFailed;
        }
    };
    let (lines, errors, exit) = rt.block_on(stop(&config, server, group_id));
    fleet::print_text(&lines);
    fleet::print_errors(&errors);
    exit
}

async fn stop(config: &Config, name: &str, group_id: &str) -> (String, Vec<String>, Exit) {
    let Some(server) = config.servers.get(name) else {
        return (
            String::new(),
            vec![format!("server {name}: not in the config")],
            Exit::Usage,
        );
    };
    let transport = match AnyTransport::for_server(config, server) {
        Ok(t) => t,
        Err(e) => return (String::new(), vec![e.to_string()], Exit::JobsFailed),
    };
    let client = Client::new(transport);
    let result = stop_with(config, &client, group_id).await;
    client.transport().close().await;
    result
}

async fn stop_with(
    config: &Config,
    client: &Client<AnyTransport>,
    group_id: &str,
) -> (String, Vec<String>, Exit) {
    let name = client.server().to_string();
    let what = format!("queue group {group_id}");
    let fail = |line: String| (String::new(), vec![line], Exit::JobsFailed);

    // Read first: a group that does not exist or already ended needs no write at all.
    let group = match client.get_queue_group(group_id).await {
        Ok(g) => g,
        Err(e) if fleet::is_not_found(&e) => {
            return fail(format!(
                "{}; nothing sent",
                fleet::error_line(&name, None, &e).replacen(
                    ": getQueueGroup:",
                    &format!(": no {what}: getQueueGroup:"),
                    1
                )
            ));
        }
        Err(e) => return fail(fleet::error_line(&name, None, &e)),
    };
    let job = job_of(config, &name, &group);
    if group.status.is_final() {
        return (
            format!(
                "server {name}: {what}{job} already finished: {}; nothing sent\n",
                status_text(&group)
            ),
            Vec::new(),
            Exit::Ok,
        );
    }

    // Short, structured events for the log file (stderr gets them too); the sentences are
    // stdout's.
    tracing::info!(server = %name, group = %group_id, status = %status_text(&group), "operator stop: sending stopQueueGroup");
    if let Err(e) = client.stop_queue_group(group_id).await {
        let line = fleet::error_line(&name, None, &e);
        tracing::warn!(server = %name, group = %group_id, error = %e, "operator stop: stopQueueGroup failed");
        return fail(format!("{line} ({what} was {})", status_text(&group)));
    }
    let mut out = format!(
        "server {name}: {what}{job} was {}; stop signal sent, waiting up to {} s for a final status\n",
        status_text(&group),
        secs(config.orchestrator.stop_timeout)
    );

    let started = Instant::now();
    let deadline = started + config.orchestrator.stop_timeout;
    let mut last: Option<String>;
    loop {
        let pause = config
            .orchestrator
            .stop_poll_interval
            .min(deadline.saturating_duration_since(Instant::now()));
        tokio::time::sleep(pause).await;
        match client.get_queue_group(group_id).await {
            Ok(g) if g.status.is_final() => {
                let line = format!(
                    "server {name}: {what}{job} stopped: {} after {:.1} s",
                    status_text(&g),
                    started.elapsed().as_secs_f64()
                );
                tracing::info!(server = %name, group = %group_id, status = %status_text(&g), "operator stop: confirmed stopped");
                out.push_str(&line);
                out.push('\n');
                return (out, Vec::new(), Exit::Ok);
            }
            Ok(g) => last = Some(status_text(&g)),
            // A read that fails is not "stopped": keep asking until the deadline.
            Err(e) => {
                let line = fleet::error_line(&name, None, &e);
                tracing::warn!("{line}; asking again until stop_timeout");
                last = Some(format!("unknown ({line})"));
            }
        }
        if Instant::now() >= deadline {
            let line = format!(
                "server {name}: {what}{job} still {} {} s after the stop signal (stop_timeout); it may stop later: check with `jbr status --server {name}`",
                last.unwrap_or_else(|| "active".into()),
                secs(config.orchestrator.stop_timeout)
            );
            tracing::warn!(server = %name, group = %group_id, "operator stop: no final status within stop_timeout");
            return (out, vec![line], Exit::JobsFailed);
        }
    }
}

/// ` (job 6508…06d9 "accounts")` when the group names a job; configured labels help.
fn job_of(config: &Config, server: &str, group: &QueueGroup) -> String {
    let Some(id) = &group.job_id else {
        return String::new();
    };
    let label = config
        .jobs
        .iter()
        .find(|j| j.server == server && &j.job_id == id)
        .map(|j| j.label.as_str())
        .unwrap_or("");
    format!(" (job {})", fleet::job_name(id, label))
}

fn status_text(g: &QueueGroup) -> String {
    format!("{} (status {})", g.status.name(), g.status.raw())
}

fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{s}")
    }
}
