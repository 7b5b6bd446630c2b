//! Trigger one job, find *its* queue group, follow it to the end; on timeout or cancel, abort it
//! and confirm the stop. Wait for a final state: moving on after a timeout once let four backups
//! write to the NAS at once (jetbackup5-api.md, production lesson 6).

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::time::Instant;

use crate::api::{Client, QueueGroup};
use crate::journal::Op;
use crate::transport::Transport;

use super::context::Ctx;
use super::near_end::Pacing;
use super::plan::PlannedJob;
use super::progress::Repeats;
use super::retry::{self, Repeat};
use super::window::{Call, Polls};

/// How following a job ended.
#[derive(Debug)]
pub enum Followed {
    /// Final status and the job no longer `running`.
    Final(QueueGroup),
    /// No queue group appeared within `startup_timeout` (or the trigger was refused).
    NeverStarted(String),
    /// Ran past its timeout; `stop` says whether the abort was confirmed, `signalled` whether
    /// the server ever took the stop (a group can end by itself while the stop cannot be sent).
    TimedOut {
        group: String,
        stop: Result<QueueGroup, String>,
        signalled: bool,
    },
    /// SIGTERM while it ran; aborted like a timeout.
    Cancelled {
        group: Option<String>,
        stop: Result<Option<QueueGroup>, String>,
    },
}

/// How to follow a run.
#[derive(Debug, Clone, Copy, Default)]
pub struct How {
    /// The job's usual duration, when the run is jbr's own trigger (polls come sooner around
    /// its end; `near_end`); `None` for a run whose start jbr does not know.
    pub usual: Option<f64>,
    /// `orchestrator.disable_while_running`: disable the job the moment its run is seen
    /// writing (`Polls::disabled_early` keeps the call).
    pub disable_when_writing: bool,
    /// Disable the job the moment its run is seen final, before anything else
    /// (`Polls::disabled_at_end` keeps the call): jbr's own trigger, whose job it enabled.
    pub disable_at_end: bool,
}

pub struct Watched {
    pub followed: Followed,
    pub group_id: Option<String>,
    /// When the trigger was sent.
    pub triggered: Instant,
    /// The trigger call (`None`: none was sent).
    pub trigger: Option<Call>,
    /// What the polls saw: failures, when it started writing and when it ended.
    pub polls: Polls,
    /// This job's groups that existed before the trigger (not ours).
    pub before: BTreeSet<String>,
}

/// Sleep `d`, or less if cancelled. Returns true when cancelled.
pub(super) async fn pause<T: Transport>(ctx: &mut Ctx<'_, T>, d: Duration) -> bool {
    if ctx.cancelled() {
        return true;
    }
    let until = Instant::now() + d;
    tokio::select! {
        _ = tokio::time::sleep_until(until) => ctx.cancelled(),
        changed = ctx.cancel.changed() => match changed {
            Ok(()) => ctx.cancelled(),
            // Nobody can cancel any more: just sleep.
            Err(_) => {
                tokio::time::sleep_until(until).await;
                false
            }
        },
    }
}

/// The job's first run that is not in `before`: the one that wrote first. Any later one (the
/// server's scheduler fires a job that is enabled and idle again once that run ends) is found by
/// `other_runs` and followed too; taking the newest instead left an earlier run that had
/// already written unnamed when jbr died before that check (soak seed 9001606).
fn first_new(groups: Vec<QueueGroup>, job: &str, before: &BTreeSet<String>) -> Option<QueueGroup> {
    groups
        .into_iter()
        .filter(|g| g.job_id.as_deref() == Some(job) && !before.contains(&g.id))
        .min_by(|a, b| {
            let ea = a.created.as_ref().and_then(|t| t.epoch).unwrap_or(f64::MAX);
            let eb = b.created.as_ref().and_then(|t| t.epoch).unwrap_or(f64::MAX);
            // Same second: the smaller id (ObjectIds grow with time), so list order never decides.
            ea.total_cmp(&eb).then_with(|| a.id.cmp(&b.id))
        })
}

/// This job's queue groups now: taken *before* the job is enabled, so that any group that
/// appears from then on — our trigger's, or one the server's scheduler fired while the job
/// was enabled — counts as ours and is followed to its end.
/// The list of the previous job's last check ([`other_runs`]) serves when it is still fresh.
pub async fn groups_of<T: Transport>(
    ctx: &mut Ctx<'_, T>,
    client: &Client<T>,
    job: &str,
) -> Result<BTreeSet<String>, String> {
    let fresh = match ctx.fresh_groups.take() {
        Some((server, groups)) if server == client.server() => Ok(groups),
        _ => {
            retry::call(
                &ctx.policy,
                Repeat::Freely,
                client.server(),
                "listQueueGroups",
                || client.list_backup_queue_groups(),
            )
            .await
        }
    };
    fresh
        .map(|groups| {
            groups
                .into_iter()
                .filter(|g| g.job_id.as_deref() == Some(job))
                .map(|g| g.id)
                .collect()
        })
        .map_err(|e| format!("not started: cannot list queue groups to tell its run apart: {e}"))
}

/// Whether the job's enable still needs its read-back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enable {
    /// It was enabled before jbr came: nothing to read back.
    AlreadyOn,
    /// `lifecycle::send_enable` sent it: read it back right after the trigger, so that nothing
    /// stands between the enable and the trigger.
    ReadBackAfterTrigger,
}

/// Journal that `job` is about to be triggered, before its enable: a crash from here on
/// follows any run of it that appears after `since` (its newest group before; the trigger's
/// run, or one the server's scheduler fired once the job was enabled), and the enable and the
/// trigger go out back to back. `Err`: the journal cannot be written; nothing more starts
/// anywhere (halted).
pub fn journal_trigger<T: Transport>(
    ctx: &mut Ctx<'_, T>,
    server: &str,
    job: &str,
    since: Option<String>,
) -> Result<(), String> {
    // From here on, groups may appear that no list has seen.
    ctx.fresh_groups = None;
    ctx.journal(Op::Trigger {
        server: server.to_string(),
        id: job.to_string(),
        since,
    })
    .map_err(|e| {
        ctx.halt(format!(
            "the journal cannot be written ({e}); nothing more is started"
        ));
        format!("not triggered: the journal cannot be written ({e})")
    })
}

/// Trigger `job` (just enabled) and follow it to its end. `before`: from `groups_of`; the
/// trigger is journaled already ([`journal_trigger`]).
pub async fn run_job<T: Transport>(
    ctx: &mut Ctx<'_, T>,
    client: &Client<T>,
    job: &PlannedJob,
    before: BTreeSet<String>,
    enable: Enable,
    disable_when_writing: bool,
) -> Watched {
    let server = client.server().to_string();
    let id = job.job_id.as_str();
    let started = Instant::now();
    let mut watched = Watched {
        followed: Followed::NeverStarted(String::new()),
        group_id: None,
        triggered: started,
        trigger: None,
        polls: Polls::default(),
        before: BTreeSet::new(),
    };

    watched.before = before.clone();
    // SIGTERM (or a halt) may have come while the job was being enabled: start nothing new.
    if let Some(why) = ctx.stopping() {
        watched.followed = Followed::NeverStarted(format!("not triggered: {why}"));
        return watched;
    }
    // The trigger was journaled before the enable (`journal_trigger`): nothing but the enable's
    // own call stands between it and the trigger.
    ctx.progress
        .emit(&server, Some(id), "triggering", Duration::ZERO);
    watched.triggered = Instant::now();
    // Not retried: a second runBackupJobManually could queue the job twice. If the answer was
    // lost, the search below still finds the group it created.
    let (triggered, trigger) = Call::time(retry::once(
        &ctx.policy,
        &server,
        "runBackupJobManually",
        client.run_backup_job_manually(id),
    ))
    .await;
    watched.trigger = Some(trigger);
    watched.polls = Polls::since(trigger.mid(&ctx.clock));
    // The enable's read-back: a job the server shows disabled queued nothing (said below if no
    // group appears); one that cannot be read back is looked for all the same. The trigger's
    // own answer serves when it says (`confirm_enabled`).
    let shown_disabled = enable == Enable::ReadBackAfterTrigger
        && matches!(
            super::lifecycle::confirm_enabled(ctx, client, id, triggered.as_ref().ok()).await,
            Ok(false)
        );
    let trigger_error = triggered.err();

    // Find its group: the first with data._id = job that was not there before.
    let startup_deadline = watched.triggered + ctx.policy_startup();
    let group = loop {
        let (listed, call) = Call::time(retry::once(
            &ctx.policy,
            &server,
            "listQueueGroups",
            client.list_backup_queue_groups(),
        ))
        .await;
        match listed {
            Ok(groups) => {
                let found = first_new(groups, id, &before);
                watched
                    .polls
                    .saw(&ctx.clock, &call, found.as_ref().and_then(writing), None);
                if let Some(g) = found {
                    break Some(g);
                }
            }
            Err(e) => {
                watched.polls.failed += 1;
                tracing::warn!(server, job = id, "while looking for the queue group: {e}");
            }
        }
        let now = Instant::now();
        if now >= startup_deadline {
            break None;
        }
        let wait = ctx
            .config
            .orchestrator
            .poll_interval
            .min(startup_deadline - now);
        if pause(ctx, wait).await {
            // Cancelled: one last look so a group that did start is aborted, not orphaned.
            let last = retry::once(
                &ctx.policy,
                &server,
                "listQueueGroups",
                client.list_backup_queue_groups(),
            )
            .await;
            let found = last.ok().and_then(|gs| first_new(gs, id, &before));
            let stop = match &found {
                Some(g) => stop_and_confirm(ctx, client, &g.id).await.map(Some),
                None => Ok(None),
            };
            watched.group_id = found.map(|g| g.id);
            watched.followed = Followed::Cancelled {
                group: watched.group_id.clone(),
                stop,
            };
            return watched;
        }
    };
    let Some(group) = group else {
        let mut why = format!(
            "triggered, but no queue group appeared within startup_timeout {} s",
            ctx.policy_startup().as_secs_f64()
        );
        if let Some(e) = trigger_error {
            why.push_str(&format!(" (the trigger failed: {e})"));
        } else if shown_disabled {
            why.push_str(" (the server showed the job disabled after its enable)");
        } else {
            why.push_str(" (was the job disabled behind jbr's back?)");
        }
        watched.followed = Followed::NeverStarted(why);
        return watched;
    };
    watched.group_id = Some(group.id.clone());
    ctx.journal_best_effort(Op::Group {
        server: server.clone(),
        id: id.to_string(),
        group: group.id.clone(),
    });

    let how = How {
        usual: ctx.state.usual_duration(&server, id),
        disable_when_writing,
        disable_at_end: true,
    };
    watched.followed = follow_group(
        ctx,
        client,
        job,
        &group.id,
        watched.triggered,
        how,
        &mut watched.polls,
    )
    .await;
    watched
}

/// `Some(the server's start time)` once `g` has left `pending`: it writes (or has written).
fn writing(g: &QueueGroup) -> Option<Option<f64>> {
    (g.status != crate::api::QueueStatus::PENDING).then(|| g.started.as_ref().and_then(|t| t.epoch))
}

/// The server's end time of a final group.
fn end_time(g: &QueueGroup) -> Option<f64> {
    g.ended.as_ref().and_then(|t| t.epoch)
}

/// Polls that got no answer in a row: they stretch the pause (`Polls::failed` counts them all
/// for the report).
#[derive(Default)]
struct Failures {
    in_row: u32,
}

impl Failures {
    fn note(&mut self, polls: &mut Polls, server: &str, job: &str, e: &crate::api::ApiError) {
        self.in_row += 1;
        polls.failed += 1;
        tracing::warn!(server, job, "poll failed, still following: {e}");
    }
    fn answered(&mut self) {
        self.in_row = 0;
    }
}

/// Follow `group` until final AND the job's `running` is false, up to `triggered + timeout`;
/// then abort and confirm. Errors never end a job early.
pub async fn follow_group<T: Transport>(
    ctx: &mut Ctx<'_, T>,
    client: &Client<T>,
    job: &PlannedJob,
    group: &str,
    triggered: Instant,
    how: How,
    polls: &mut Polls,
) -> Followed {
    // Follow until final AND the job's `running` is false. Errors never end a job early.
    let deadline = triggered + job.timeout;
    let server = client.server().to_string();
    let id = job.job_id.as_str();
    let mut failures = Failures::default();
    let mut repeats = Repeats::with_usual(how.usual);
    let mut pacing = Pacing::new(&ctx.config.orchestrator, how.usual);
    let mut progress = None;
    let mut seen_final = false;
    loop {
        let (polled, call) = Call::time(retry::once(
            &ctx.policy,
            &server,
            "getQueueGroup",
            client.get_queue_group(group),
        ))
        .await;
        match polled {
            Ok(g) if g.status.is_final() => {
                // The first poll that sees the group final bounds its end; after one that found
                // the job still running, the read that finds it stopped does.
                let poll = call;
                let (job_now, read) = if how.disable_at_end
                    && !matches!(polls.disabled_early, Some(Ok(_)))
                    && polls.disabled_at_end.is_none()
                {
                    // Disable first, the moment the run is over: the server's scheduler starts
                    // jobs that are enabled and idle. The disable's read-back is also the check
                    // that the job no longer runs (issue 13, the window after the end).
                    ctx.progress
                        .emit(&server, Some(id), "ended: disabling", triggered.elapsed());
                    match super::lifecycle::try_disable_job(ctx, client, id).await {
                        Ok(d) => {
                            polls.disabled_at_end = Some(Ok(d.call));
                            (Ok(d.job), d.read)
                        }
                        Err(why) => {
                            // Tried again after following ends, where a failure is critical.
                            polls.disabled_at_end = Some(Err(why));
                            read_job(ctx, client, id).await
                        }
                    }
                } else {
                    read_job(ctx, client, id).await
                };
                let over = match &job_now {
                    Ok(j) if !j.running => true,
                    Ok(_) => another_run_active(ctx, client, id, group).await,
                    Err(_) => false,
                };
                if job_now.is_ok() {
                    let ended = over.then(|| end_time(&g));
                    let bound = if seen_final { &read } else { &poll };
                    polls.saw(&ctx.clock, bound, writing(&g), ended);
                }
                seen_final = true;
                match job_now {
                    Ok(_) if over => {
                        // Not running, or `running` is another run's (the server's scheduler
                        // fired the job again): ours is over. That run is followed next, before anything
                        // else starts (`follow_scheduled`); waiting for it here would call
                        // ours timed out.
                        return Followed::Final(g);
                    }
                    Ok(_) => {
                        failures.answered();
                        ctx.progress.emit(
                            &server,
                            Some(id),
                            format!("group final ({}), job still running", g.status.raw()),
                            triggered.elapsed(),
                        );
                    }
                    Err(e) => failures.note(polls, &server, id, &e),
                }
            }
            Ok(g) => {
                failures.answered();
                let started = writing(&g);
                let is_writing = started.is_some();
                polls.saw(&ctx.clock, &call, started, None);
                if how.disable_when_writing && polls.disabled_early.is_none() && is_writing {
                    // It writes: a disabled job's scheduler cannot start it again, and (on a
                    // server that allows it) the run goes on to its end.
                    ctx.progress.emit(
                        &server,
                        Some(id),
                        "writing: disabling the job (disable_while_running)",
                        triggered.elapsed(),
                    );
                    polls.disabled_early = Some(
                        super::lifecycle::try_disable_job(ctx, client, id)
                            .await
                            .map(|d| d.call),
                    );
                }
                progress = g.progress_percent;
                let pct = g
                    .progress_percent
                    .filter(|p| *p > 0.0)
                    .map(|p| format!(" {p:.0}%"))
                    .unwrap_or_default();
                let state = format!("{}{pct}", g.status.name());
                repeats.report(&ctx.progress, &server, Some(id), state, triggered.elapsed());
            }
            Err(e) => failures.note(polls, &server, id, &e),
        }
        ctx.nas_sample();
        let now = Instant::now();
        if now >= deadline {
            ctx.progress.emit(
                &server,
                Some(id),
                "timed out: aborting",
                triggered.elapsed(),
            );
            let (stop, signalled) = stop_and_confirm_signalled(ctx, client, group).await;
            return Followed::TimedOut {
                group: group.to_string(),
                stop,
                signalled,
            };
        }
        let base = if failures.in_row > 0 {
            ctx.policy.pause(failures.in_row)
        } else {
            pacing.next_pause(triggered.elapsed(), progress)
        };
        if pause(ctx, base.min(deadline - now)).await {
            ctx.progress.emit(
                &server,
                Some(id),
                "cancelled: aborting",
                triggered.elapsed(),
            );
            let stop = stop_and_confirm(ctx, client, group).await.map(Some);
            return Followed::Cancelled {
                group: Some(group.to_string()),
                stop,
            };
        }
    }
}

/// `getBackupJob`, timed: whether the job still runs.
async fn read_job<T: Transport>(
    ctx: &Ctx<'_, T>,
    client: &Client<T>,
    job: &str,
) -> (Result<crate::api::BackupJob, crate::api::ApiError>, Call) {
    Call::time(retry::once(
        &ctx.policy,
        client.server(),
        "getBackupJob",
        client.get_backup_job(job),
    ))
    .await
}

/// Whether a group of `job` other than `ours` is pending or processing.
async fn another_run_active<T: Transport>(
    ctx: &Ctx<'_, T>,
    client: &Client<T>,
    job: &str,
    ours: &str,
) -> bool {
    retry::once(
        &ctx.policy,
        client.server(),
        "listQueueGroups",
        client.list_backup_queue_groups(),
    )
    .await
    .is_ok_and(|groups| {
        groups
            .iter()
            .any(|g| g.job_id.as_deref() == Some(job) && g.id != ours && g.status.is_active())
    })
}

/// After a job has been disabled: one more look for a group of it that jbr has not followed
/// (`seen`: the groups that existed before its enable plus the one followed). Either a trigger
/// that queued late, or a run the server's own scheduler queued in the moment between the end
/// of jbr's run and the disable (seen pending, with the job not yet `running`). Such a group is
/// ours and is followed (or aborted) like any other, so it never writes to the NAS alongside
/// the next job.
pub async fn late_group<T: Transport>(
    ctx: &mut Ctx<'_, T>,
    client: &Client<T>,
    job: &PlannedJob,
    seen: &BTreeSet<String>,
) -> Option<(String, Followed)> {
    let server = client.server().to_string();
    let groups = retry::call(
        &ctx.policy,
        Repeat::Freely,
        &server,
        "listQueueGroups",
        || client.list_backup_queue_groups(),
    )
    .await
    .ok()?;
    let g = first_new(groups, &job.job_id, seen)?;
    // Re-open the trigger: a crash while following the late group must follow it again.
    ctx.journal_best_effort(Op::Trigger {
        server: server.clone(),
        id: job.job_id.clone(),
        since: None,
    });
    ctx.journal_best_effort(Op::Group {
        server: server.clone(),
        id: job.job_id.clone(),
        group: g.id.clone(),
    });
    let mut polls = Polls::since(ctx.clock.now());
    // Its start is not known (it queued late), so no window around the usual end.
    let how = How::default();
    let followed = follow_group(ctx, client, job, &g.id, Instant::now(), how, &mut polls).await;
    Some((g.id, followed))
}

/// This job's runs jbr has not dealt with, oldest first: every group not in `seen`, and every
/// *active* group not in `followed` (one queued before jbr enabled the job still writes). A
/// run the server's scheduler started and finished while jbr waited for the job to stop
/// running is among them: it wrote to the NAS, so the report names it.
pub async fn other_runs<T: Transport>(
    ctx: &mut Ctx<'_, T>,
    client: &Client<T>,
    job: &str,
    seen: &BTreeSet<String>,
    followed: &BTreeSet<String>,
) -> Result<Vec<QueueGroup>, crate::api::ApiError> {
    let groups = retry::call(
        &ctx.policy,
        Repeat::Freely,
        client.server(),
        "listQueueGroups",
        || client.list_backup_queue_groups(),
    )
    .await?;
    let mut mine: Vec<QueueGroup> = groups
        .iter()
        .filter(|g| g.job_id.as_deref() == Some(job))
        .filter(|g| !seen.contains(&g.id) || (g.status.is_active() && !followed.contains(&g.id)))
        .cloned()
        .collect();
    let created = |g: &QueueGroup| g.created.as_ref().and_then(|t| t.epoch).unwrap_or(f64::MIN);
    mine.sort_by(|a, b| {
        created(a)
            .total_cmp(&created(b))
            .then_with(|| a.id.cmp(&b.id))
    });
    // Nothing to follow: the job is disabled and this list is the server's latest word, so the
    // next job takes it as its list of existing groups (see `Ctx::fresh_groups`).
    ctx.fresh_groups = mine
        .is_empty()
        .then(|| (client.server().to_string(), groups));
    Ok(mine)
}

/// Follow `group`, a run of `job` jbr did not trigger but must see end (journaled like a
/// trigger, so a crash while following it follows it again).
pub async fn follow_other<T: Transport>(
    ctx: &mut Ctx<'_, T>,
    client: &Client<T>,
    job: &PlannedJob,
    group: &str,
) -> Followed {
    let server = client.server().to_string();
    ctx.journal_best_effort(Op::Trigger {
        server: server.clone(),
        id: job.job_id.clone(),
        since: None,
    });
    ctx.journal_best_effort(Op::Group {
        server,
        id: job.job_id.clone(),
        group: group.to_string(),
    });
    let mut polls = Polls::since(ctx.clock.now());
    // Started by someone else at a time jbr does not know: no window around the usual end.
    let how = How::default();
    follow_group(ctx, client, job, group, Instant::now(), how, &mut polls).await
}

/// `stopQueueGroup`, then poll every `stop_poll_interval` up to `stop_timeout` until the group
/// is final: a stop is a signal, not a result.
pub async fn stop_and_confirm<T: Transport>(
    ctx: &mut Ctx<'_, T>,
    client: &Client<T>,
    group: &str,
) -> Result<QueueGroup, String> {
    stop_and_confirm_signalled(ctx, client, group).await.0
}

/// [`stop_and_confirm`], and whether a `stopQueueGroup` was ever answered OK.
pub async fn stop_and_confirm_signalled<T: Transport>(
    ctx: &mut Ctx<'_, T>,
    client: &Client<T>,
    group: &str,
) -> (Result<QueueGroup, String>, bool) {
    let server = client.server().to_string();
    let o = &ctx.config.orchestrator;
    let (stop_timeout, stop_poll) = (o.stop_timeout, o.stop_poll_interval);
    let sent_at = Instant::now();
    let mut sent = retry::call(
        &ctx.policy,
        Repeat::OnlyIfUnanswered,
        &server,
        "stopQueueGroup",
        || client.stop_queue_group(group),
    )
    .await;
    let deadline = sent_at + stop_timeout;
    let mut last;
    let mut first_poll = true;
    loop {
        // A stop that was refused (a busy server's `success: 0`) is sent again while the group
        // is still active: a second stop signal is harmless, a lost one lets it write on.
        if sent.is_err() && !first_poll {
            sent = retry::once(
                &ctx.policy,
                &server,
                "stopQueueGroup",
                client.stop_queue_group(group),
            )
            .await;
        }
        first_poll = false;
        last = match retry::once(
            &ctx.policy,
            &server,
            "getQueueGroup",
            client.get_queue_group(group),
        )
        .await
        {
            Ok(g) if g.status.is_final() => {
                ctx.action(
                    &server,
                    format!("stop queue group {group}"),
                    format!(
                        "confirmed: final status {} ({})",
                        g.status.raw(),
                        g.status.name()
                    ),
                    true,
                );
                return (Ok(g), sent.is_ok());
            }
            Ok(g) => format!("still status {} ({})", g.status.raw(), g.status.name()),
            Err(e) => e.to_string(),
        };
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        tokio::time::sleep(stop_poll.min(deadline - now)).await;
    }
    let why = match &sent {
        Ok(()) => format!(
            "sent stopQueueGroup, but after stop_timeout {} s: {last}",
            stop_timeout.as_secs_f64()
        ),
        Err(e) => format!(
            "stopQueueGroup failed ({e}); after stop_timeout {} s: {last}",
            stop_timeout.as_secs_f64()
        ),
    };
    ctx.action(
        &server,
        format!("stop queue group {group}"),
        why.clone(),
        false,
    );
    (Err(why), sent.is_ok())
}
