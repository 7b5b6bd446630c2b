//! The journal replay, run first: whatever an earlier run left open (SIGKILL, power cut) is put
//! back before anything new starts. A job that may still be running is followed to its end
//! first (one writer), and so is any run the server's scheduler fired of a job jbr left enabled;
//! then jobs and destinations jbr enabled are disabled, newest first.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::time::Instant;

use crate::journal::{Completed, Op, OpenChange, Target};
use crate::report::{JobRecord, Outcome};
use crate::transport::Transport;

use super::context::Ctx;
use super::follow;
use super::lifecycle;
use super::retry;
use super::verify;

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
    for (server, why, run) in ctx.journal.no_disable_while_running() {
        if ctx.state.no_disable_while_running.contains_key(&server) {
            continue;
        }
        ctx.record.recovered.push(format!(
            "server {server}: the interrupted run {run} found that it does not let a disabled job's backup finish ({why}); orchestrator.disable_while_running is off for this server from now on"
        ));
        ctx.state.no_disable_while_running.insert(server, why);
    }
    verify_finished_triggers(ctx).await;
    note_finished_triggers(ctx);
    report_runs_after_finished_triggers(ctx).await;
    let triggered = triggered_jobs(ctx);
    let open = replay_order(ctx.journal.open_changes());
    for change in open {
        let server = change.server().to_string();
        let Some(client) = ctx.client(&server) else {
            unknown_server(ctx, &server, &change);
            continue;
        };
        match change {
            OpenChange::Triggered {
                id,
                group,
                since,
                run,
                ..
            } => {
                let origin = Origin::Triggered(group.as_deref(), since.as_deref());
                settle_triggered(ctx, client, &server, &id, &run, origin).await;
            }
            OpenChange::Enabled {
                what,
                id,
                previous_disabled,
                since,
                run,
                ..
            } => {
                let never_triggered =
                    !triggered.contains(&(server.clone(), id.clone(), run.clone()));
                let origin = Origin::LeftEnabled(since.as_deref().filter(|_| never_triggered));
                if !previous_disabled {
                    ctx.journal_best_effort(Op::Restored {
                        server: server.clone(),
                        what,
                        id: id.clone(),
                    });
                    continue;
                }
                undo_enable(ctx, client, &server, what, &id, &run, origin).await;
            }
        }
    }
    // The night's completed jobs stay: if this run dies too, the next one still resumes.
    if let Err(e) = ctx.journal.compact_keeping_completed() {
        tracing::warn!("{e}");
    }
}

/// Why a job an interrupted run (started at `run_started`) completed is backed up again
/// anyway; `None`: it is not (within `orchestrator.resume_within` of that run's start, and
/// no `--rerun-all`).
fn again<T: Transport>(ctx: &Ctx<'_, T>, run_started: f64) -> Option<&'static str> {
    if ctx.options.rerun_all {
        Some("--rerun-all")
    } else if ctx.clock.now() - run_started >= ctx.config.orchestrator.resume_within.as_secs_f64() {
        Some("that run started more than orchestrator.resume_within ago")
    } else {
        None
    }
}

fn resumes<T: Transport>(ctx: &Ctx<'_, T>, run_started: f64) -> bool {
    again(ctx, run_started).is_none()
}

/// The jobs interrupted runs completed tonight, each with why it is backed up again (`None`:
/// it is not). Called after [`replay`], which has journaled the ones it verified itself.
pub fn completed_tonight<T: Transport>(ctx: &Ctx<'_, T>) -> Vec<(Completed, Option<&'static str>)> {
    ctx.journal
        .completed()
        .into_iter()
        .filter(|c| c.in_run != ctx.journal.run_id())
        .map(|c| {
            let why = again(ctx, c.run_started);
            (c, why)
        })
        .collect()
}

/// Job `id` on `server` as the config has it (a journal may name one it no longer has).
fn configured<'c, T: Transport>(
    ctx: &Ctx<'c, T>,
    server: &str,
    id: &str,
) -> Option<&'c crate::config::Job> {
    ctx.config
        .jobs
        .iter()
        .find(|j| j.server == server && j.job_id == id)
}

/// Whether job `id` on `server` is journaled as done tonight in run `run`.
fn done_in<T: Transport>(ctx: &Ctx<'_, T>, server: &str, id: &str, run: &str) -> bool {
    ctx.journal
        .completed()
        .iter()
        .any(|c| c.server == server && c.id == id && c.in_run == run)
}

/// When the interrupted run `run` started, as the journal knows it: the start its own
/// `Done` records carry, else its first record.
fn started_of<T: Transport>(ctx: &Ctx<'_, T>, run: &str) -> Option<f64> {
    ctx.journal
        .completed()
        .iter()
        .find(|c| c.in_run == run)
        .map(|c| c.run_started)
        .or_else(|| ctx.journal.first_time(run))
}

/// A backup of job `id` that ended by itself while this replay (or nobody) watched: read what
/// the server says of it, as a run would, and when it is good, journal it as done tonight in
/// the interrupted run `run`, so it is not backed up again.
async fn note_done<T: Transport>(
    ctx: &mut Ctx<'_, T>,
    client: &crate::api::Client<T>,
    server: &str,
    id: &str,
    run: &str,
    group: &crate::api::QueueGroup,
) {
    let Some(run_started) = started_of(ctx, run) else {
        return;
    };
    if !resumes(ctx, run_started) || !group.status.is_final() {
        return;
    }
    let label = configured(ctx, server, id)
        .map(|j| j.label.clone())
        .unwrap_or_default();
    let mut rec = JobRecord::new(server, id, &label, Outcome::Failed);
    rec.group_id = Some(group.id.clone());
    verify::verify(&ctx.policy, client, group, &mut rec).await;
    if !rec.outcome.is_success() {
        let details = match rec.message.as_str() {
            "" => String::new(),
            m => format!(": {m}"),
        };
        ctx.record.recovered.push(format!(
            "server {server}: job {id}: its backup of the night (queue group {}, run {run}) is {}{details}; it runs again if this run selects it",
            group.id,
            rec.outcome.as_str()
        ));
        return;
    }
    rec.start = group
        .started
        .as_ref()
        .or(group.created.as_ref())
        .and_then(|t| t.epoch);
    rec.end = group
        .ended
        .as_ref()
        .and_then(|t| t.epoch)
        .or(Some(ctx.clock.now()));
    rec.duration_secs = rec.start.zip(rec.end).map(|(s, e)| e - s);
    ctx.journal_best_effort(Op::Done {
        server: server.to_string(),
        id: id.to_string(),
        in_run: run.to_string(),
        run_started,
        record: Box::new(rec),
    });
}

/// Of the runs of job `id` that ended by themselves (oldest first), the newest that verifies
/// good is tonight's backup of it (see [`note_done`]); older ones are not read, nor any once
/// the job has one.
async fn note_first_good<T: Transport>(
    ctx: &mut Ctx<'_, T>,
    client: &crate::api::Client<T>,
    server: &str,
    id: &str,
    run: &str,
    ran: &[crate::api::QueueGroup],
) {
    for g in ran.iter().rev() {
        if done_in(ctx, server, id, run) {
            return;
        }
        note_done(ctx, client, server, id, run, g).await;
    }
}

/// The interrupted run saw these jobs end but died before it could verify them (or before
/// it journaled what it found): read each one's group now, so a good backup is not made twice.
async fn verify_finished_triggers<T: Transport>(ctx: &mut Ctx<'_, T>) {
    for t in ctx.journal.finished_triggers() {
        let Some(group) = t.group.as_deref() else {
            continue;
        };
        if done_in(ctx, &t.server, &t.id, &t.run) {
            continue;
        }
        if !started_of(ctx, &t.run).is_some_and(|s| resumes(ctx, s)) {
            continue;
        }
        let Some(client) = ctx.client(&t.server) else {
            continue;
        };
        let read = retry::call(
            &ctx.policy,
            retry::Repeat::Freely,
            &t.server,
            "getQueueGroup",
            || client.get_queue_group(group),
        )
        .await;
        match read {
            Ok(g) => note_done(ctx, client, &t.server, &t.id, &t.run, &g).await,
            Err(e) => tracing::warn!(
                server = t.server,
                job = t.id,
                "journal replay: cannot read queue group {group} of the interrupted run: {e}"
            ),
        }
    }
}

/// Said before anything else: this run triggers these jobs again, and the report must not
/// make a second backup of the night look like the first (issue 9's invariant).
fn note_finished_triggers<T: Transport>(ctx: &mut Ctx<'_, T>) {
    for t in ctx.journal.finished_triggers() {
        // Verified good: `run` says what becomes of it (see [`completed_tonight`]).
        if done_in(ctx, &t.server, &t.id, &t.run) {
            continue;
        }
        let group = t
            .group
            .as_deref()
            .map(|g| format!(" (queue group {g})"))
            .unwrap_or_default();
        let why = match started_of(ctx, &t.run) {
            Some(s) => again(ctx, s).unwrap_or("its backup was not verified good"),
            None => "its start is unknown",
        };
        ctx.record.recovered.push(format!(
            "server {}: job {} already ran to its end in the interrupted run {}{group}; it runs again if this run selects it ({why})",
            t.server, t.id, t.run
        ));
    }
}

/// Jobs an earlier run triggered (server, job, run): their runs are counted from the trigger.
/// A job it only enabled (it died before the trigger) has its runs counted from the enable.
fn triggered_jobs<T: Transport>(ctx: &Ctx<'_, T>) -> BTreeSet<(String, String, String)> {
    ctx.journal
        .finished_triggers()
        .into_iter()
        .map(|t| (t.server, t.id, t.run))
        .chain(
            ctx.journal
                .open_changes()
                .into_iter()
                .filter_map(|c| match c {
                    OpenChange::Triggered {
                        server, id, run, ..
                    } => Some((server, id, run)),
                    OpenChange::Enabled { .. } => None,
                }),
        )
        .collect()
}

/// A change on a server no longer in the config cannot be undone: critical, and the run halts.
fn unknown_server<T: Transport>(ctx: &mut Ctx<'_, T>, server: &str, change: &OpenChange) {
    let (what, id) = describe(change);
    // The cause first (a critical halts too, in more general words).
    ctx.halt(format!(
        "the journal lists changes on unknown server {server}"
    ));
    ctx.critical(
        server,
        what,
        &id,
        format!("journal: jbr changed {what} {id} on server {server}, which is not in the config any more; check it by hand"),
    );
}

/// A job an earlier run triggered and never saw end: follow it to its end, then journal and
/// note that it ended.
async fn settle_triggered<T: Transport>(
    ctx: &mut Ctx<'_, T>,
    client: &crate::api::Client<T>,
    server: &str,
    id: &str,
    run: &str,
    origin: Origin<'_>,
) {
    let Some(outcome) = settle_job(ctx, client, server, id, run, origin).await else {
        return;
    };
    note_first_good(ctx, client, server, id, run, &outcome.ended).await;
    if outcome.all_stopped {
        ctx.journal_best_effort(Op::Ended {
            server: server.to_string(),
            id: id.to_string(),
        });
        let how = if outcome.aborted {
            "was aborted (timeout or SIGTERM) and the stop confirmed"
        } else {
            "has ended"
        };
        let groups = match outcome.groups.as_slice() {
            [] => "no queue group found".to_string(),
            gs => format!("queue group {}", gs.join(", ")),
        };
        ctx.record.recovered.push(format!(
            "server {server}: job {id} triggered by run {run} ({groups}) {how}"
        ));
    }
}

/// A job or destination an earlier run enabled and left enabled: end any run of the job the
/// server's scheduler fired meanwhile, then disable it again; one that will not disable halts
/// the run.
async fn undo_enable<T: Transport>(
    ctx: &mut Ctx<'_, T>,
    client: &crate::api::Client<T>,
    server: &str,
    what: Target,
    id: &str,
    run: &str,
    origin: Origin<'_>,
) {
    // A job left enabled may have been started by the server's own scheduler
    // while jbr was gone: that run is jbr's doing, so it ends before the disable.
    let settled = match what {
        Target::Job => settle_job(ctx, client, server, id, run, origin).await,
        Target::Destination => None,
    };
    if let Some(outcome) = &settled {
        note_first_good(ctx, client, server, id, run, &outcome.ended).await;
    }
    if let Some(outcome) = settled.filter(JobSettled::followed_to_the_end) {
        let how = if outcome.aborted {
            "aborted (timeout or SIGTERM), the stop confirmed"
        } else {
            "followed to its end"
        };
        ctx.record.recovered.push(format!(
            "server {server}: job {id}, left enabled by run {run}, was running \
             (started by the server's scheduler; queue group {}): {how}",
            outcome.groups.join(", ")
        ));
    }
    let before = ctx.record.critical.len();
    // Criticals of the disable itself, not of a run followed after it.
    let after_disable;
    match what {
        Target::Job => {
            lifecycle::disable_job(ctx, client, id).await;
            after_disable = ctx.record.critical.len();
            // The scheduler may have fired it again between that run's end and
            // the disable: that run is jbr's doing too, and must not outlive it.
            let late = settle_job(ctx, client, server, id, run, origin).await;
            if let Some(late) = &late {
                note_first_good(ctx, client, server, id, run, &late.ended).await;
            }
            if let Some(late) = late.filter(JobSettled::followed_to_the_end) {
                let how = if late.aborted {
                    "aborted, the stop confirmed"
                } else {
                    "followed to its end"
                };
                ctx.record.recovered.push(format!(
                    "server {server}: job {id} was queued again by the server's \
                     scheduler before jbr could disable it (queue group {}): {how}",
                    late.groups.join(", ")
                ));
            }
        }
        Target::Destination => {
            lifecycle::close_destination(ctx, client, id).await;
            after_disable = ctx.record.critical.len();
        }
    }
    let word = if what == Target::Job {
        "job"
    } else {
        "destination"
    };
    if after_disable == before {
        ctx.record.recovered.push(format!(
            "server {server}: {word} {id} enabled by run {run} is disabled again"
        ));
    } else {
        ctx.halt(format!(
            "{word} {id} on server {server} could not be disabled"
        ));
    }
}

/// The interrupted run saw these jobs end, but may have died before it could see (or report)
/// a run the server's scheduler started right after: one listing per server names them.
async fn report_runs_after_finished_triggers<T: Transport>(ctx: &mut Ctx<'_, T>) {
    let finished = ctx.journal.finished_triggers();
    let mut servers: Vec<&str> = finished.iter().map(|t| t.server.as_str()).collect();
    servers.sort_unstable();
    servers.dedup();
    for server in servers {
        let Some(client) = ctx.client(server) else {
            continue;
        };
        let groups = match retry::call(
            &ctx.policy,
            retry::Repeat::Freely,
            server,
            "listQueueGroups",
            || client.list_backup_queue_groups(),
        )
        .await
        {
            Ok(g) => g,
            Err(e) => {
                ctx.record.recovered.push(format!(
                    "server {server}: could not check for runs after the interrupted run's ({e})"
                ));
                continue;
            }
        };
        for t in finished.iter().filter(|t| t.server == server) {
            let (group, since) = (t.group.as_deref(), t.since.as_deref());
            let ran = unwatched_runs(
                ctx,
                server,
                &t.id,
                &t.run,
                Counted::AfterOwnRun(group, since),
                &groups,
            );
            note_first_good(ctx, client, server, &t.id, &t.run, &ran).await;
        }
    }
}

/// What became of the running backups of one job.
struct JobSettled {
    /// How many groups were followed.
    followed: usize,
    /// Their ids, for the report.
    groups: Vec<String>,
    /// Every one reached a final status (by itself or aborted).
    all_stopped: bool,
    /// At least one had to be aborted.
    aborted: bool,
    /// The ones that reached a final status by themselves, as last read, oldest first: those
    /// that ended while nobody watched, then those followed.
    ended: Vec<crate::api::QueueGroup>,
}

impl JobSettled {
    /// It found runs to follow, and every one stopped: the report names them.
    fn followed_to_the_end(&self) -> bool {
        self.followed > 0 && self.all_stopped
    }
}

/// Why a job of an earlier run may still be writing.
#[derive(Clone, Copy)]
enum Origin<'a> {
    /// The earlier run triggered it; its queue group when that was journaled.
    /// `since`: the newest group of the job before the trigger (`""`: none), when journaled.
    Triggered(Option<&'a str>, Option<&'a str>),
    /// The earlier run enabled it (the server's scheduler may have fired it since).
    /// `since`: the job's newest group before that enable, when the run never triggered it.
    LeftEnabled(Option<&'a str>),
}

/// Follow every backup of job `id` that may still be writing to its end: the group the
/// earlier run triggered (when known), and any other active group of the job (the server's
/// scheduler fires a job jbr left enabled). Each is jbr's doing, so at its timeout or at
/// SIGTERM it is aborted and the stop confirmed. `None` when the queue cannot be read and no
/// group is known for a triggered job: critical, nothing more starts.
async fn settle_job<T: Transport>(
    ctx: &mut Ctx<'_, T>,
    client: &crate::api::Client<T>,
    server: &str,
    id: &str,
    run: &str,
    origin: Origin<'_>,
) -> Option<JobSettled> {
    let journaled = match origin {
        Origin::Triggered(group, _) => group,
        Origin::LeftEnabled(_) => None,
    };
    let timeout = configured(ctx, server, id)
        .map(|j| j.effective_timeout(&ctx.config.orchestrator))
        .unwrap_or(ctx.config.orchestrator.job_timeout);
    let mut groups: Vec<String> = journaled.map(str::to_string).into_iter().collect();
    let mut unwatched = Vec::new();
    let listed = retry::call(
        &ctx.policy,
        retry::Repeat::Freely,
        server,
        "listQueueGroups",
        || client.list_backup_queue_groups(),
    )
    .await;
    match listed {
        Ok(gs) => {
            let counted = match origin {
                Origin::Triggered(_, since) => Counted::AfterOwnRun(journaled, since),
                Origin::LeftEnabled(Some(since)) => Counted::AfterEnable(since),
                Origin::LeftEnabled(None) => Counted::AfterOwnRun(None, None),
            };
            unwatched = unwatched_runs(ctx, server, id, run, counted, &gs);
            for g in gs {
                if g.job_id.as_deref() == Some(id)
                    && g.status.is_active()
                    && !groups.contains(&g.id)
                {
                    groups.push(g.id);
                }
            }
        }
        Err(e) if groups.is_empty() && matches!(origin, Origin::Triggered(..)) => {
            ctx.halt("a job from an earlier run may still be running");
            ctx.critical(server, "job", id, format!("journal: job {id} on server {server} was triggered by run {run} and may still run, but its queue cannot be read ({e}); nothing started"));
            return None;
        }
        Err(e) => {
            // Pre-flight reads the queue again before anything starts.
            tracing::warn!(
                server,
                job = id,
                "journal replay: cannot list queue groups: {e}"
            );
        }
    }
    let mut outcome = JobSettled {
        followed: groups.len(),
        groups: groups.clone(),
        all_stopped: true,
        aborted: false,
        ended: unwatched,
    };
    for g in groups {
        ctx.progress.emit(
            server,
            Some(id),
            format!("left running by run {run}: following group {g}"),
            Duration::ZERO,
        );
        match follow_to_end(ctx, client, &g, timeout).await {
            Settled::Ended(end) => outcome.ended.push(*end),
            Settled::Aborted => outcome.aborted = true,
            Settled::NotStopped => {
                outcome.all_stopped = false;
                ctx.halt(format!("queue group {g} on server {server} would not stop"));
                ctx.critical(server, "queue group", &g, format!("journal: queue group {g} of job {id} on server {server} (run {run}) would not stop; nothing started"));
            }
        }
    }
    Some(outcome)
}

/// From which group on a job's runs are the earlier run's doing.
#[derive(Clone, Copy)]
enum Counted<'a> {
    /// After its own run: the journaled group, else the newest before its trigger (`since`),
    /// else the last its journal saw end.
    AfterOwnRun(Option<&'a str>, Option<&'a str>),
    /// After its enable (it died before the trigger): the newest group before the enable.
    AfterEnable(&'a str),
}

/// Runs of job `id` that came after the reference group (see [`Counted`]) and had already
/// ended when this run looked: they ran while nobody watched (the server's scheduler, or the
/// earlier run's own trigger whose answer died with it). They wrote to the NAS, so the report
/// names them.
fn unwatched_runs<T: Transport>(
    ctx: &mut Ctx<'_, T>,
    server: &str,
    id: &str,
    run: &str,
    counted: Counted<'_>,
    groups: &[crate::api::QueueGroup],
) -> Vec<crate::api::QueueGroup> {
    let reference = match counted {
        Counted::AfterOwnRun(journaled, since) => journaled.or(since),
        Counted::AfterEnable(since) => Some(since),
    };
    let reference = reference.map(str::to_string).or_else(|| {
        ctx.journal
            .finished_triggers()
            .into_iter()
            .rev()
            .find(|t| t.server == server && t.id == id)
            .and_then(|t| t.group.or(t.since))
    });
    let Some(reference) = reference else {
        return Vec::new();
    };
    let created = |g: &crate::api::QueueGroup| g.created.as_ref().and_then(|t| t.epoch);
    let reference_created = groups.iter().find(|g| g.id == reference).and_then(created);
    // Newer than the reference: by creation time when both are known, else by id (ObjectIds
    // grow with time; `""` is older than every id).
    let newer = |g: &crate::api::QueueGroup| match (reference_created, created(g)) {
        (Some(r), Some(c)) => c >= r,
        _ => g.id.as_str() > reference.as_str(),
    };
    let mut ran: Vec<&crate::api::QueueGroup> = groups
        .iter()
        .filter(|g| {
            g.job_id.as_deref() == Some(id)
                && g.id != reference
                && g.status.is_final()
                && newer(g)
                // Each group is named once: one this replay followed is not "unwatched".
                && !ctx.record.recovered.iter().any(|l| l.contains(g.id.as_str()))
        })
        .collect();
    // Oldest first, whatever order the server listed them in.
    ran.sort_by(|a, b| {
        let (ca, cb) = (
            created(a).unwrap_or(f64::MIN),
            created(b).unwrap_or(f64::MIN),
        );
        ca.total_cmp(&cb).then_with(|| a.id.cmp(&b.id))
    });
    for g in &ran {
        let line = match counted {
            Counted::AfterOwnRun(..) => format!(
                "server {server}: job {id} also ran after run {run}'s own run of it, while nobody watched or in that run's lost report (queue group {}): it ended with status {} ({})",
                g.id,
                g.status.raw(),
                g.status.name()
            ),
            Counted::AfterEnable(_) => format!(
                "server {server}: job {id}, left enabled by run {run} before its trigger, ran while nobody watched (queue group {}, not started by jbr): it ended with status {} ({})",
                g.id,
                g.status.raw(),
                g.status.name()
            ),
        };
        if !ctx.record.recovered.contains(&line) {
            ctx.record.recovered.push(line);
        }
    }
    ran.into_iter().cloned().collect()
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
    /// It reached a final status by itself (as read).
    Ended(Box<crate::api::QueueGroup>),
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
            return Settled::Ended(Box::new(g));
        }
        let now = Instant::now();
        if now >= deadline || ctx.cancelled() {
            return match follow::stop_and_confirm(ctx, client, group).await {
                Ok(_) => Settled::Aborted,
                Err(_) => Settled::NotStopped,
            };
        }
        let wait = ctx.config.orchestrator.poll_interval.min(deadline - now);
        // Cancelled while waiting: the next turn aborts it (after one last look).
        follow::pause(ctx, wait).await;
    }
}
