//! What moves off the NAS's idle path between two backups (issue 13, item 3): the previous
//! job's verification (its queue items and log: reads only), closing the previous server's
//! destination, and opening the next server's. Each waits for the next trigger, the moment the
//! NAS has work again, and is done right after it; whatever is left is done by [`finish`] at
//! the run's end, on every path (a halt and SIGTERM included). After a crash the journal has
//! every destination jbr enabled and every job that ended unverified, and the next run's replay
//! deals with both.
//!
//! Why a destination may be open while another server's job writes: a destination that is
//! enabled while every job that targets it is disabled writes nothing (the server's scheduler
//! runs only enabled jobs). jbr keeps one open beside another server's backup only where
//! pre-flight saw every job that targets it disabled, and jbr disables its own after each run.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio::time::Instant;

use crate::api::QueueGroup;
use crate::journal::Op;
use crate::report::JobRecord;
use crate::transport::Transport;

use super::context::Ctx;
use super::lifecycle;
use super::preflight::Facts;

/// A job whose run is over and disabled, seen final; its row waits for its verification.
pub struct Unverified {
    pub rec: JobRecord,
    pub group: QueueGroup,
    /// When it was triggered (the progress line's elapsed time).
    pub triggered: Instant,
}

/// The work that waits for the next trigger, and the destinations jbr holds open.
#[derive(Default)]
pub struct Handover {
    unverified: Option<Unverified>,
    /// Server → the destination jbr enabled there (or found enabled) and must disable.
    open: BTreeMap<String, String>,
    /// Servers whose jobs are done: their destination is closed at the next trigger.
    done: BTreeSet<String>,
    /// (server, destination) to open at the next trigger: the current server's last job's.
    open_next: Option<(String, String)>,
    /// The server jbr goes on to after the current one's last job: its queue is listed beside
    /// that job's last look for a late run, so that crossing costs no call of its own.
    crossing: Option<String>,
}

/// Destination `dest` of `server` is open, and jbr is to disable it.
pub fn opened<T: Transport>(ctx: &mut Ctx<'_, T>, server: &str, dest: &str) {
    ctx.handover
        .open
        .insert(server.to_string(), dest.to_string());
}

/// Whether jbr holds `server`'s destination open (it was opened early, at the previous
/// server's last trigger).
pub fn is_open<T: Transport>(ctx: &Ctx<'_, T>, server: &str) -> bool {
    ctx.handover.open.contains_key(server)
}

/// The server whose queue to list beside the current job's last look, if crossing to it.
pub fn crossing<T: Transport>(ctx: &Ctx<'_, T>) -> Option<String> {
    ctx.handover.crossing.clone()
}

/// The job about to run is `server`'s last: at its trigger, open `next`'s destination when
/// [`may_open_early`] allows it, and list `next`'s queue beside its last look.
pub fn last_job_of_server<T: Transport>(
    ctx: &mut Ctx<'_, T>,
    next: Option<(&str, Option<&str>)>,
    early: bool,
) {
    ctx.handover.crossing = next.map(|(server, _)| server.to_string());
    ctx.handover.open_next = match next {
        Some((server, Some(dest))) if early => Some((server.to_string(), dest.to_string())),
        _ => None,
    };
}

/// Whether a destination may be open while another server's job writes: pre-flight listed
/// every job on the server, and every one that targets `dest` was disabled (jbr's own are
/// disabled again after their runs, and confirmed so).
pub fn quiet_when_open(f: &Facts, dest: &str) -> bool {
    f.all_jobs.as_deref().is_some_and(|jobs| {
        jobs.iter()
            .filter(|j| j.destinations.iter().any(|d| d == dest))
            .all(|j| j.disabled_stated && j.disabled)
    })
}

/// `server`'s window is over. `defer`: its destination is closed at the next trigger (nothing
/// there can write, and jbr goes on to another server); otherwise now.
pub async fn window_done<T: Transport>(ctx: &mut Ctx<'_, T>, server: &str, defer: bool) {
    // Set for this window's last job; one that never came to its trigger leaves them.
    ctx.handover.crossing = None;
    ctx.handover.open_next = None;
    if defer && ctx.stopping().is_none() {
        ctx.handover.done.insert(server.to_string());
    } else {
        // No other trigger is coming to wait for: its last job's row first, then the close.
        settle(ctx).await;
        close(ctx, server).await;
    }
}

/// Verify `u` at the next trigger. One already waiting is verified first.
pub async fn defer<T: Transport>(ctx: &mut Ctx<'_, T>, u: Unverified) {
    settle(ctx).await;
    // Filed at once as it stands, so that nothing reads its row as not yet tried.
    let mut row = u.rec.clone();
    row.message = "verifying".to_string();
    if let Some(r) = row_of(ctx, &row.server, &row.job_id) {
        *r = row;
    }
    ctx.handover.unverified = Some(u);
}

/// Right after a trigger: the work that waited for it.
pub async fn after_trigger<T: Transport>(ctx: &mut Ctx<'_, T>) {
    settle(ctx).await;
    let done = std::mem::take(&mut ctx.handover.done);
    for server in done {
        close(ctx, &server).await;
    }
    if let Some((server, dest)) = ctx.handover.open_next.take()
        && ctx.stopping().is_none()
        && !is_open(ctx, &server)
    {
        open_early(ctx, &server, &dest).await;
    }
}

/// The run's end, on every path: the last verification, and every destination still open is
/// closed.
pub async fn finish<T: Transport>(ctx: &mut Ctx<'_, T>) {
    settle(ctx).await;
    ctx.handover.open_next = None;
    ctx.handover.crossing = None;
    ctx.handover.done.clear();
    let open: Vec<String> = ctx.handover.open.keys().cloned().collect();
    for server in open {
        close(ctx, &server).await;
    }
}

/// The row of a job that is over: the progress line says how it went, a good one is journaled
/// as done tonight (a run that dies later goes on from here instead of backing it up again),
/// and its row in the record takes it.
pub fn file_row<T: Transport>(ctx: &mut Ctx<'_, T>, rec: JobRecord, triggered: Instant) {
    ctx.progress.emit(
        &rec.server,
        Some(&rec.job_id),
        rec.outcome.as_str(),
        triggered.elapsed(),
    );
    if rec.outcome.is_success() {
        ctx.journal_best_effort(Op::Done {
            server: rec.server.clone(),
            id: rec.job_id.clone(),
            in_run: ctx.journal.run_id().to_string(),
            run_started: ctx.record.started,
            record: Box::new(rec.clone()),
        });
    }
    if let Some(r) = row_of(ctx, &rec.server, &rec.job_id) {
        *r = rec;
    }
}

/// Verify the job waiting for it, if any, and file its row.
pub async fn settle<T: Transport>(ctx: &mut Ctx<'_, T>) {
    let Some(Unverified {
        mut rec,
        group,
        triggered,
    }) = ctx.handover.unverified.take()
    else {
        return;
    };
    match ctx.client(&rec.server) {
        Some(client) => super::verify::verify(&ctx.policy, client, &group, &mut rec).await,
        // Not reachable: every row's server has a client (pre-flight skipped the others).
        None => rec.message = "not verified: no client for its server".to_string(),
    }
    file_row(ctx, rec, triggered);
}

/// Open `server`'s destination ahead of its window. A failure leaves it closed (the enable
/// puts it back) and is noted; its window tries again, and skips the server if that fails too.
async fn open_early<T: Transport>(ctx: &mut Ctx<'_, T>, server: &str, dest: &str) {
    let Some(client) = ctx.client(server) else {
        return;
    };
    ctx.progress.emit(
        server,
        None,
        format!("enabling destination {dest} (while the previous server's last job runs)"),
        Duration::ZERO,
    );
    match lifecycle::open_destination(ctx, client, dest).await {
        Ok(()) => opened(ctx, server, dest),
        Err(why) => ctx.record.server_mut(server).notes.push(format!(
            "opening destination {dest} while the previous server's last job ran failed ({why}); tried again when its turn came"
        )),
    }
}

/// Disable `server`'s destination now, if jbr holds it open.
async fn close<T: Transport>(ctx: &mut Ctx<'_, T>, server: &str) {
    let Some(dest) = ctx.handover.open.remove(server) else {
        return;
    };
    let Some(client) = ctx.client(server) else {
        return;
    };
    ctx.progress.emit(
        server,
        None,
        format!("disabling destination {dest}"),
        Duration::ZERO,
    );
    lifecycle::close_destination(ctx, client, &dest).await;
}

fn row_of<'r, T: Transport>(
    ctx: &'r mut Ctx<'_, T>,
    server: &str,
    job: &str,
) -> Option<&'r mut JobRecord> {
    ctx.record
        .jobs
        .iter_mut()
        .find(|j| j.server == server && j.job_id == job)
}
