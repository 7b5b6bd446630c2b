//! The journal replay, run first: whatever an earlier run left open (SIGKILL, power cut) is put
//! back before anything new starts. A job that may still be running is followed to its end
//! first (one writer); then jobs and destinations jbr enabled are disabled, newest first.

use std::time::Duration;

use tokio::time::Instant;

use crate::journal::{Op, OpenChange, Target};
use crate::transport::Transport;

use super::context::Ctx;
use super::lifecycle;
use super::retry;
use super::watch;

/// The order a replay undoes `open` in: every triggered job first (journal order), then the
/// enables, newest first (a job before the destination whose window it ran in).
pub fn replay_order(open: Vec<OpenChange>) -> Vec<OpenChange> {
    let (mut triggered, mut enabled): (Vec<_>, Vec<_>) = open
        .into_iter()
        .partition(|c| matches!(c, OpenChange::Triggered { .. }));
    triggered.sort_by_key(|c| c.seq());
    enabled.sort_by_key(|c| std::cmp::Reverse(c.seq()));
    triggered.extend(enabled);
    triggered
}

/// Undo everything the journal lists as open. Notes go to `record.recovered`; anything that
/// cannot be undone is critical and halts the run.
pub async fn replay<T: Transport>(ctx: &mut Ctx<'_, T>) {
    let open = replay_order(ctx.journal.open_changes());
    for change in open {
        let server = change.server().to_string();
        let Some(client) = ctx.client(&server) else {
            let (what, id) = describe(&change);
            ctx.critical(
                &server,
                what,
                &id,
                format!("journal: jbr changed {what} {id} on server {server}, which is not in the config any more; check it by hand"),
            );
            ctx.halted = Some(format!(
                "the journal lists changes on unknown server {server}"
            ));
            continue;
        };
        match change {
            OpenChange::Triggered { id, group, run, .. } => {
                let timeout = ctx
                    .config
                    .jobs
                    .iter()
                    .find(|j| j.server == server && j.job_id == id)
                    .map(|j| j.effective_timeout(&ctx.config.orchestrator))
                    .unwrap_or(ctx.config.orchestrator.job_timeout);
                let groups = match group {
                    Some(g) => vec![g],
                    None => match retry::call(
                        &ctx.policy,
                        retry::Kind::Read,
                        &server,
                        "listQueueGroups",
                        || client.list_backup_queue_groups(),
                    )
                    .await
                    {
                        Ok(gs) => gs
                            .into_iter()
                            .filter(|g| {
                                g.job_id.as_deref() == Some(id.as_str()) && g.status.is_active()
                            })
                            .map(|g| g.id)
                            .collect(),
                        Err(e) => {
                            ctx.critical(&server, "job", &id, format!("journal: job {id} on server {server} was triggered by run {run} and may still run, but its queue cannot be read ({e}); nothing started"));
                            ctx.halted =
                                Some("a job from an earlier run may still be running".into());
                            continue;
                        }
                    },
                };
                let mut all_ended = true;
                let mut aborted = false;
                for g in groups {
                    ctx.progress.emit(
                        &server,
                        Some(&id),
                        format!("left running by run {run}: following group {g}"),
                        Duration::ZERO,
                    );
                    match follow_to_end(ctx, client, &g, timeout).await {
                        Settled::Ended => {}
                        Settled::Aborted => aborted = true,
                        Settled::NotStopped => {
                            all_ended = false;
                            ctx.critical(&server, "queue group", &g, format!("journal: queue group {g} of job {id} on server {server} (run {run}) would not stop; nothing started"));
                            ctx.halted =
                                Some(format!("queue group {g} on server {server} would not stop"));
                        }
                    }
                }
                if all_ended {
                    ctx.journal_best_effort(Op::Ended {
                        server: server.clone(),
                        id: id.clone(),
                    });
                    let how = if aborted {
                        "was aborted (timeout or SIGTERM) and the stop confirmed"
                    } else {
                        "has ended"
                    };
                    ctx.record.recovered.push(format!(
                        "server {server}: job {id} triggered by run {run} {how}"
                    ));
                }
            }
            OpenChange::Enabled {
                what,
                id,
                previous_disabled,
                run,
                ..
            } => {
                if !previous_disabled {
                    ctx.journal_best_effort(Op::Restored {
                        server: server.clone(),
                        what,
                        id: id.clone(),
                    });
                    continue;
                }
                let before = ctx.record.critical.len();
                match what {
                    Target::Job => lifecycle::disable_job(ctx, client, &id).await,
                    Target::Destination => lifecycle::close_destination(ctx, client, &id).await,
                }
                let word = if what == Target::Job {
                    "job"
                } else {
                    "destination"
                };
                if ctx.record.critical.len() == before {
                    ctx.record.recovered.push(format!(
                        "server {server}: {word} {id} enabled by run {run} is disabled again"
                    ));
                } else {
                    ctx.halted = Some(format!(
                        "{word} {id} on server {server} could not be disabled"
                    ));
                }
            }
        }
    }
    if let Err(e) = ctx.journal.compact() {
        tracing::warn!("{e}");
    }
}

fn describe(c: &OpenChange) -> (&'static str, String) {
    match c {
        OpenChange::Enabled {
            what: Target::Job,
            id,
            ..
        } => ("job", id.clone()),
        OpenChange::Enabled {
            what: Target::Destination,
            id,
            ..
        } => ("destination", id.clone()),
        OpenChange::Triggered { id, .. } => ("job", id.clone()),
    }
}

/// How a group left running by an earlier run came to its end.
enum Settled {
    /// It reached a final status by itself.
    Ended,
    /// Its timeout passed, or the operator stopped jbr (SIGTERM): aborted, and the stop confirmed.
    Aborted,
    /// The abort was never confirmed.
    NotStopped,
}

/// Poll the group until final, up to `timeout`; then, or at SIGTERM, abort it and confirm.
/// jbr triggered it, so stopping it on SIGTERM is stopping a backup of its own.
async fn follow_to_end<T: Transport>(
    ctx: &mut Ctx<'_, T>,
    client: &crate::api::Client<T>,
    group: &str,
    timeout: Duration,
) -> Settled {
    let server = client.server().to_string();
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(g) = retry::once(
            &ctx.policy,
            &server,
            "getQueueGroup",
            client.get_queue_group(group),
        )
        .await
            && g.status.is_final()
        {
            return Settled::Ended;
        }
        let now = Instant::now();
        if now >= deadline || ctx.cancelled() {
            return match watch::stop_and_confirm(ctx, client, group).await {
                Ok(_) => Settled::Aborted,
                Err(_) => Settled::NotStopped,
            };
        }
        let wait = ctx.config.orchestrator.poll_interval.min(deadline - now);
        // Cancelled while waiting: the next turn aborts it (after one last look).
        watch::pause(ctx, wait).await;
    }
}
