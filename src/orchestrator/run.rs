//! The serialized run: replay the journal, pre-flight every server, wait out foreign backups,
//! then one server window at a time, one job at a time. Returns the record; never prints.
//!
//! Teardown lives with setup (style.md, "Teardown in one function"): `server_window` opens the
//! destination, runs its jobs and closes it on every path, including cancellation.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;
use std::time::Duration;

use futures_util::future::join_all;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::api::{Client, DestinationMethod};
use crate::config::Config;
use crate::journal::{Journal, Op};
use crate::report::state::State;
use crate::report::{Alert, AlertKind, JobRecord, Outcome, RunRecord};
use crate::transport::Transport;

use super::clock::Clock;
use super::context::{Ctx, Halt, RunOptions};
use super::follow::{self, Followed};
use super::lifecycle;
use super::plan::{Plan, PlannedJob, ServerPlan};
use super::preflight::{self, Facts};
use super::progress::{Progress, Repeats};
use super::retry::{self, Policy};
use super::verify;
use super::window::{Call, span};

/// Everything a run needs from its caller.
pub struct Inputs<'a, T: Transport> {
    pub config: &'a Config,
    pub plan: &'a Plan,
    pub clients: &'a BTreeMap<String, Client<T>>,
    pub journal: &'a mut Journal,
    pub state: &'a mut State,
    pub options: RunOptions,
    pub cancel: watch::Receiver<bool>,
    pub progress: Progress,
    pub clock: Clock,
    /// The Pi's local time zone, for `orchestrator.window_end` (`TimeZone::system()`: `TZ`,
    /// else `/etc/localtime`).
    pub zone: jiff::tz::TimeZone,
}

/// Run the plan. The caller holds the lock, and saves `state` afterwards.
pub async fn run<T: Transport>(inputs: Inputs<'_, T>) -> RunRecord {
    let Inputs {
        config,
        plan,
        clients,
        journal,
        state,
        options,
        cancel,
        progress,
        clock,
        zone,
    } = inputs;
    let run_id = journal.run_id().to_string();
    journal.use_clock(clock);
    let methods = remembered_methods(state);
    let mut ctx = Ctx {
        config,
        clients,
        journal,
        state,
        record: RunRecord::new(&run_id, clock.now()),
        options,
        policy: Policy::from_config(&config.orchestrator),
        cancel,
        progress,
        clock,
        halted: Halt::default(),
        methods,
        nas_written_until: None,
        fresh_groups: None,
        night: None,
        nas: None,
    };
    open_night_window(&mut ctx, &zone);

    super::recover::replay(&mut ctx).await;
    // After the replay: an orphan it followed is jbr's, not "something else".
    ctx.nas = crate::nas::meter::Meter::open(&config.nas, ctx.clock.now());
    let plan = &carried_first(&ctx, plan);
    seed_record(&mut ctx.record, plan);
    mark_carried(&mut ctx);
    let resumed = resume(&mut ctx, plan);
    let plan =
        &plan.without(|server, job| resumed.contains(&(server.to_string(), job.to_string())));

    // Pre-flight everywhere before anything is enabled anywhere.
    let facts = preflight_all(&mut ctx, plan).await;
    let foreign = facts
        .iter()
        .flat_map(|(s, f)| {
            f.foreign
                .iter()
                .map(move |g| (s.clone(), g.id.clone(), g.job_id.clone()))
        })
        .collect();
    wait_for_foreign(&mut ctx, foreign).await;
    alert_stale_jobs(&mut ctx, plan);

    for s in &plan.servers {
        let Some(f) = facts.get(&s.server) else {
            continue;
        };
        if let Some(why) = ctx.stopping() {
            not_started(&mut ctx, s, &why);
            continue;
        }
        let Some(client) = ctx.client(&s.server) else {
            continue;
        };
        server_window(&mut ctx, client, s, f).await;
    }

    close_run(ctx)
}

/// The NAS meter's last word: writes nobody claimed are alerts, counter trouble is a note.
fn close_nas<T: Transport>(ctx: &mut Ctx<'_, T>) {
    let now = ctx.clock.now();
    let Some(mut m) = ctx.nas.take() else {
        return;
    };
    m.finish(now);
    for message in m.alerts {
        tracing::warn!("{message}");
        ctx.record.alerts.push(Alert {
            kind: AlertKind::UnknownWriter,
            server: None,
            job_id: None,
            message,
        });
    }
    ctx.record.nas_notes = m.notes;
}

/// What job `id` wrote to the NAS (`nas.block_device`), on its row; a "slow NAS" alert when its
/// average falls below `nas.min_write_mb_s`.
fn record_nas<T: Transport>(ctx: &mut Ctx<'_, T>, rec: &mut JobRecord) {
    let Some(w) = ctx.nas_job_ended() else {
        return;
    };
    let device = ctx.config.nas.block_device.as_deref().unwrap_or_default();
    rec.nas_written_bytes = Some(w.bytes);
    rec.nas_write_mb_s = w.mb_s();
    let slow = ctx.config.nas.min_write_mb_s.zip(w.mb_s());
    if let Some((min, rate)) = slow
        && rate < min
        && w.secs >= SLOW_NAS_MIN_SECS
    {
        ctx.record.alerts.push(Alert {
            kind: AlertKind::SlowNas,
            server: Some(rec.server.clone()),
            job_id: Some(rec.job_id.clone()),
            message: format!(
                "slow NAS: server {}, job {} wrote {} to {device} in {} at {rate:.2} MB/s, below nas.min_write_mb_s {min}",
                rec.server,
                crate::orchestrator::plan::job_display(&rec.job_id, &rec.label),
                crate::nas::meter::human_bytes(w.bytes),
                crate::report::time::duration(w.secs),
            ),
        });
    }
}

/// A job shorter than this gets no "slow NAS" alert: JetBackup's own start-up and packing
/// dominate a short run's average.
const SLOW_NAS_MIN_SECS: f64 = 60.0;

/// Fix tonight's window (`orchestrator.window_end`) from the run's start.
fn open_night_window<T: Transport>(ctx: &mut Ctx<'_, T>, zone: &jiff::tz::TimeZone) {
    let o = &ctx.config.orchestrator;
    let Some(end) = o.window_end else {
        return;
    };
    if zone.is_unknown() {
        // jiff falls back to UTC: the window still closes, maybe hours off, and the report
        // must say why.
        ctx.record.alerts.push(Alert {
            kind: AlertKind::Other,
            server: None,
            job_id: None,
            message: format!(
                "the Pi's time zone is unknown (TZ, /etc/localtime): orchestrator.window_end {end} is taken as UTC"
            ),
        });
    }
    ctx.night = super::night::NightWindow::for_run(end, o.window_policy, ctx.record.started, zone);
    ctx.record.night_window = ctx
        .night
        .as_ref()
        .map(|n| crate::report::NightWindowRecord {
            closes: n.closes,
            window_end: n.end.to_string(),
            policy: n.policy.as_str().to_string(),
        });
}

/// The plan with the jobs an earlier night's window left out first (the state file's
/// `carry_over`), so the same jobs are not the ones cut every night.
fn carried_first<T: Transport>(ctx: &Ctx<'_, T>, plan: &Plan) -> Plan {
    let carried = &ctx.state.carry_over;
    plan.carried_first(|server, job| {
        carried
            .iter()
            .any(|c| c.server == server && c.job_id == job)
    })
}

/// Each carried-over job's row names the run whose window left it out.
fn mark_carried<T: Transport>(ctx: &mut Ctx<'_, T>) {
    for c in &ctx.state.carry_over {
        if let Some(r) = job_rec(&mut ctx.record, &c.server, &c.job_id) {
            r.carried_over_from = Some(c.run_id.clone());
        }
    }
}

/// The jobs of `s` the night window refuses now are left out: `not started: …`, carried over
/// to the next run. A refusal holds for the rest of the night (the close does not move, and a
/// later start only ends later), so they can be marked at once. `true`: none of them is left
/// to run.
fn leave_out_by_window<T: Transport>(ctx: &mut Ctx<'_, T>, s: &ServerPlan) -> bool {
    let mut runnable = false;
    for j in &s.jobs {
        let Some(r) = job_rec(&mut ctx.record, &s.server, &j.job_id) else {
            continue;
        };
        if r.outcome != Outcome::NotStarted || !r.message.is_empty() {
            continue; // tried already, or already left out
        }
        match ctx.window_refuses(&s.server, &j.job_id) {
            Some(why) => {
                if let Some(r) = job_rec(&mut ctx.record, &s.server, &j.job_id) {
                    tracing::warn!(server = s.server, job = j.job_id, "not started: {why}");
                    r.message = format!("not started: {why}");
                    r.left_out_by_window = true;
                }
            }
            None => runnable = true,
        }
    }
    !runnable
}

/// The state file learns which jobs to carry over: tonight's left-out ones, after the earlier
/// ones still not started (a carried job leaves the list once a run has started it).
fn carry_over<T: Transport>(ctx: &mut Ctx<'_, T>) {
    let record = &ctx.record;
    let started = |server: &str, job: &str| {
        record.jobs.iter().any(|j| {
            j.server == server && j.job_id == job && (j.start.is_some() || j.group_id.is_some())
        })
    };
    let mut carried: Vec<crate::report::state::CarriedJob> = ctx
        .state
        .carry_over
        .iter()
        .filter(|c| !started(&c.server, &c.job_id))
        .cloned()
        .collect();
    for j in record.jobs.iter().filter(|j| j.left_out_by_window) {
        if !carried
            .iter()
            .any(|c| c.server == j.server && c.job_id == j.job_id)
        {
            carried.push(crate::report::state::CarriedJob {
                server: j.server.clone(),
                job_id: j.job_id.clone(),
                run_id: record.run_id.clone(),
            });
        }
    }
    ctx.state.carry_over = carried;
}

/// The night goes on where an interrupted run left it: each selected job that run completed
/// (verified good, by its trigger or by a run the replay followed) is reported as completed in
/// it, with its group, and not backed up again. Returns those jobs (server, job id).
fn resume<T: Transport>(ctx: &mut Ctx<'_, T>, plan: &Plan) -> BTreeSet<(String, String)> {
    let mut resumed = BTreeSet::new();
    for (done, again) in super::recover::completed_tonight(ctx) {
        if !plan
            .jobs()
            .any(|j| j.server == done.server && j.job_id == done.id)
        {
            continue;
        }
        let group = done
            .record
            .group_id
            .as_deref()
            .map(|g| format!(" (queue group {g})"))
            .unwrap_or_default();
        if let Some(why) = again {
            ctx.record.recovered.push(format!(
                "server {}: job {} completed in the interrupted run {}{group}; it is backed up again ({why})",
                done.server, done.id, done.in_run
            ));
            continue;
        }
        let Some(row) = job_rec(&mut ctx.record, &done.server, &done.id) else {
            continue;
        };
        let label = std::mem::take(&mut row.label);
        *row = done.record.clone();
        row.label = label;
        row.message = match row.message.as_str() {
            "" => format!("completed (in the interrupted run {})", done.in_run),
            m => format!("completed (in the interrupted run {}); {m}", done.in_run),
        };
        ctx.record.recovered.push(format!(
            "server {}: job {} completed in the interrupted run {}{group}; not backed up again tonight (orchestrator.resume_within; run --rerun-all to back it up anyway)",
            done.server, done.id, done.in_run
        ));
        resumed.insert((done.server, done.id));
    }
    resumed
}

/// The destination call that worked last time on each server, tried first this time.
fn remembered_methods(state: &State) -> BTreeMap<String, DestinationMethod> {
    let mut methods = BTreeMap::new();
    for (server, function) in &state.destination_methods {
        let method = [DestinationMethod::State, DestinationMethod::Modify]
            .into_iter()
            .find(|m| m.function() == function);
        if let Some(m) = method {
            methods.insert(server.clone(), m);
        }
    }
    methods
}

/// A row for every planned job (not started until it is), every job the config disables, and
/// every server: a run that stops early still reports each of them.
fn seed_record(record: &mut RunRecord, plan: &Plan) {
    for job in plan.jobs() {
        record.jobs.push(JobRecord::new(
            &job.server,
            &job.job_id,
            &job.label,
            Outcome::NotStarted,
        ));
    }
    for d in &plan.disabled_in_config {
        record.jobs.push(
            JobRecord::new(&d.server, &d.job_id, &d.label, Outcome::DisabledInConfig)
                .with_message("disabled in config"),
        );
    }
    for s in &plan.servers {
        record.server_mut(&s.server);
    }
}

/// Pre-flight every server at once: it only reads, and nothing is enabled anywhere until all
/// are done, so a slow or unreachable server no longer delays the others' checks. One that
/// fails it is skipped. The results are filed in plan order, so the record reads the same
/// whichever server answered first.
async fn preflight_all<T: Transport>(ctx: &mut Ctx<'_, T>, plan: &Plan) -> BTreeMap<String, Facts> {
    let mut facts: BTreeMap<String, Facts> = BTreeMap::new();
    if ctx.stopping().is_some() {
        return facts;
    }
    let mut asked = Vec::new();
    for s in &plan.servers {
        let Some(client) = ctx.client(&s.server) else {
            skip_server(
                ctx,
                s,
                "no client for this server (not in the config?)".into(),
            );
            continue;
        };
        ctx.progress
            .emit(&s.server, None, "pre-flight", Duration::ZERO);
        asked.push((s, client));
    }
    let shared: &Ctx<'_, T> = ctx;
    let checked = join_all(
        asked
            .iter()
            .map(|(s, client)| preflight::check(shared, client, s)),
    )
    .await;
    for ((s, _), c) in asked.iter().zip(checked) {
        ctx.record.alerts.extend(c.alerts);
        match c.facts {
            Ok(f) => {
                facts.insert(s.server.clone(), f);
            }
            Err(why) => skip_server(ctx, s, why),
        }
    }
    facts
}

/// Alert on the selected jobs with no successful run for `alert_days_without_jobs` days.
fn alert_stale_jobs<T: Transport>(ctx: &mut Ctx<'_, T>, plan: &Plan) {
    let selected: Vec<(String, String)> = plan
        .jobs()
        .map(|j| (j.server.clone(), j.job_id.clone()))
        .collect();
    let stale = ctx.state.stale_jobs(
        &selected,
        ctx.config.destination.alert_days_without_jobs,
        ctx.clock.now(),
    );
    ctx.record.alerts.extend(stale);
}

/// The end of the run: jobs left unstarted say why, the journal is compacted, the state file
/// learns the destination methods and the run, and the record is complete.
fn close_run<T: Transport>(mut ctx: Ctx<'_, T>) -> RunRecord {
    if let Some(why) = ctx.stopping() {
        for j in ctx
            .record
            .jobs
            .iter_mut()
            .filter(|j| j.outcome == Outcome::NotStarted && j.message.is_empty())
        {
            j.message = format!("not started: {why}");
        }
    }
    if let Err(e) = ctx.journal.compact() {
        tracing::warn!("{e}");
    }
    for (server, m) in &ctx.methods {
        ctx.state
            .destination_methods
            .insert(server.clone(), m.function().to_string());
    }
    ctx.record.cancelled = ctx.cancelled();
    ctx.record.ended = ctx.clock.now();
    ctx.record.window = crate::report::WindowTotals::of(&ctx.record.jobs);
    // Before this run joins the history: the same figure its polls were paced by.
    for j in ctx
        .record
        .jobs
        .iter_mut()
        .filter(|j| j.outcome != Outcome::DisabledInConfig)
    {
        j.usual_duration_secs = ctx.state.usual_duration(&j.server, &j.job_id);
    }
    carry_over(&mut ctx);
    close_nas(&mut ctx);
    let record = ctx.record;
    ctx.state.record_run(&record);
    record
}

fn job_rec<'r>(record: &'r mut RunRecord, server: &str, job: &str) -> Option<&'r mut JobRecord> {
    record
        .jobs
        .iter_mut()
        .find(|j| j.server == server && j.job_id == job)
}

fn skip_server<T: Transport>(ctx: &mut Ctx<'_, T>, s: &ServerPlan, why: String) {
    tracing::warn!(server = s.server, "skipped: {why}");
    for j in &s.jobs {
        if let Some(r) = job_rec(&mut ctx.record, &s.server, &j.job_id) {
            r.outcome = Outcome::Skipped;
            r.message = format!("server skipped: {why}");
        }
    }
    ctx.record.server_mut(&s.server).skipped = Some(why);
}

/// The jobs of `s` that were never tried say why. A job that was tried keeps its own words
/// (its trigger found no group; the safety net ran it again), which the reason to stop must
/// not replace.
fn not_started<T: Transport>(ctx: &mut Ctx<'_, T>, s: &ServerPlan, why: &str) {
    for j in &s.jobs {
        if let Some(r) = job_rec(&mut ctx.record, &s.server, &j.job_id)
            && r.outcome == Outcome::NotStarted
            && r.message.is_empty()
        {
            r.message = format!("not started: {why}");
        }
    }
}

/// A backup jbr did not start is writing to the NAS: nothing starts anywhere until it ends
/// (bounded by `job_timeout`). Aborted only with `--abort-foreign`.
async fn wait_for_foreign<T: Transport>(
    ctx: &mut Ctx<'_, T>,
    foreign: Vec<(String, String, Option<String>)>,
) {
    if foreign.is_empty() {
        return;
    }
    let started = Instant::now();
    let deadline = started + ctx.config.orchestrator.job_timeout;
    for (server, group, job) in foreign {
        let Some(client) = ctx.client(&server) else {
            continue;
        };
        let job_txt = job.as_deref().unwrap_or("unknown job");
        let mut message = format!(
            "server {server}: a backup jbr did not start (queue group {group}, job {job_txt}) was writing to the NAS"
        );
        if let Some(why) = ctx.stopping() {
            // Told to stop (SIGTERM, or a halt): abort nobody's backup on the way out. It was
            // running when jbr came, so leaving it running leaves the server as found.
            message.push_str(&format!(
                "; {why} before jbr could deal with it: it was left running, and nothing was started"
            ));
        } else if ctx.options.abort_foreign {
            match follow::stop_and_confirm(ctx, client, &group).await {
                Ok(_) => message.push_str("; aborted (--abort-foreign)"),
                Err(why) => {
                    message.push_str(&format!("; --abort-foreign could not stop it: {why}"));
                    ctx.halt(format!(
                        "a foreign backup on server {server} is still writing to the NAS"
                    ));
                }
            }
        } else {
            let mut ended = false;
            let mut repeats = Repeats::default();
            while Instant::now() < deadline && ctx.stopping().is_none() {
                if let Ok(g) = retry::once(
                    &ctx.policy,
                    &server,
                    "getQueueGroup",
                    client.get_queue_group(&group),
                )
                .await
                    && g.status.is_final()
                {
                    ended = true;
                    break;
                }
                let state = format!("waiting for a foreign backup (group {group}) to end");
                repeats.report(
                    &ctx.progress,
                    &server,
                    job.as_deref(),
                    state,
                    started.elapsed(),
                );
                let wait = ctx
                    .config
                    .orchestrator
                    .poll_interval
                    .min(deadline.saturating_duration_since(Instant::now()));
                let mut cancel = ctx.cancel.clone();
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    Ok(()) = cancel.changed() => {}
                }
                ctx.nas_sample();
            }
            if ended {
                message.push_str(&format!(
                    "; jbr waited {} for it to end",
                    crate::report::time::duration(started.elapsed().as_secs_f64())
                ));
            } else if ctx.cancelled() {
                message
                    .push_str("; jbr was stopped (SIGTERM) while it waited, and started nothing");
            } else {
                message.push_str("; it did not end within job_timeout, so jbr started nothing");
                if !ctx.cancelled() {
                    ctx.halt(format!(
                        "a foreign backup on server {server} is still writing to the NAS"
                    ));
                }
            }
        }
        ctx.record.server_mut(&server).notes.push(message.clone());
        ctx.record.alerts.push(Alert {
            kind: AlertKind::ForeignBackup,
            server: Some(server.clone()),
            job_id: job.clone(),
            message,
        });
    }
}

/// One destination window: open, every job, close — the close runs on every path.
async fn server_window<T: Transport>(
    ctx: &mut Ctx<'_, T>,
    client: &Client<T>,
    s: &ServerPlan,
    f: &Facts,
) {
    let server = s.server.as_str();
    let started = Instant::now();

    // Checked again after the wait: a foreign backup may have run past the window.
    let closed = |ctx: &mut Ctx<'_, T>| {
        let closed = leave_out_by_window(ctx, s);
        if closed {
            ctx.record
                .server_mut(server)
                .notes
                .push("not opened: the night window left all its jobs out".to_string());
        }
        closed
    };
    if closed(ctx) {
        return;
    }
    if wait_for_new_foreign(ctx, client, s, f).await.is_break() {
        return;
    }
    if closed(ctx) {
        return;
    }
    let mut opened = None;
    if let Some(dest) = &s.destination_id {
        if open_window(ctx, client, s, f, dest, started)
            .await
            .is_break()
        {
            return;
        }
        opened = Some(dest.clone());
    }

    for job in &s.jobs {
        if let Some(why) = ctx.stopping() {
            not_started(ctx, s, &why);
            break;
        }
        if leave_out_by_window(ctx, s) {
            break;
        }
        if job_rec(&mut ctx.record, server, &job.job_id).is_some_and(|r| r.left_out_by_window) {
            continue;
        }
        match f.job(&job.job_id) {
            Some(_) => run_one(ctx, client, job, f).await,
            None => {
                if let Some(r) = job_rec(&mut ctx.record, server, &job.job_id) {
                    r.outcome = Outcome::MissingOnServer;
                    r.message = format!("job {} does not exist on server {server}", job.job_id);
                }
            }
        }
    }

    if let Some(dest) = opened {
        ctx.progress.emit(
            server,
            None,
            format!("disabling destination {dest}"),
            started.elapsed(),
        );
        lifecycle::close_destination(ctx, client, &dest).await;
    }
}

/// Pre-flight may be hours ago: a backup the server's scheduler (or a person) started since
/// then must end before this window opens. Pre-flight's own list serves when it found nothing
/// active and is younger than a poll interval (the first window, usually); the list taken
/// here is then the first job's list of existing groups (`Ctx::fresh_groups`). `Break`: the
/// server was skipped or its jobs not started (recorded), and nothing was opened.
async fn wait_for_new_foreign<T: Transport>(
    ctx: &mut Ctx<'_, T>,
    client: &Client<T>,
    s: &ServerPlan,
    f: &Facts,
) -> ControlFlow<()> {
    let server = s.server.as_str();
    let (listed, listed_at) = &f.groups;
    let young = listed_at.elapsed() < ctx.config.orchestrator.poll_interval;
    let groups = if f.foreign.is_empty() && young {
        listed.clone()
    } else {
        match preflight::list_groups(ctx, client).await {
            Ok(g) => g,
            Err(why) => {
                skip_server(ctx, s, why);
                return ControlFlow::Break(());
            }
        }
    };
    let foreign = preflight::foreign_now(ctx, client, s.destination_id.as_deref(), &groups).await;
    if foreign.is_empty() {
        // Nothing enabled or triggered here since: the first job's list of existing groups.
        ctx.fresh_groups = Some((server.to_string(), groups));
        return ControlFlow::Continue(());
    }
    let foreign = foreign
        .into_iter()
        .map(|g| (server.to_string(), g.id, g.job_id))
        .collect();
    wait_for_foreign(ctx, foreign).await;
    if let Some(why) = ctx.stopping() {
        not_started(ctx, s, &why);
        return ControlFlow::Break(());
    }
    ControlFlow::Continue(())
}

/// Enable destination `dest` for the window, or journal it as enabled when it already is (jbr
/// leaves it disabled after the window either way). `Break`: the server was skipped or its jobs
/// not started (recorded), and the destination is not open.
async fn open_window<T: Transport>(
    ctx: &mut Ctx<'_, T>,
    client: &Client<T>,
    s: &ServerPlan,
    f: &Facts,
    dest: &str,
    started: Instant,
) -> ControlFlow<()> {
    let server = s.server.as_str();
    let ours = ctx.state.jbr_disabled_destination(server, dest);
    let policy = &ctx.config.destination;
    let force = ctx.options.force_activate || policy.force_activate;
    let may_enable = ours || force || !policy.skip_if_disabled;
    // Pre-flight showed it disabled, and jbr would enable it anyway: the enable is read back,
    // and one that finds it enabled already (someone else's doing since) changes nothing, since
    // jbr leaves it disabled after the window either way. Otherwise read it fresh: pre-flight
    // may be a foreign backup's length ago, and a skip or "already enabled" must be today's.
    let disabled = if may_enable && f.destination.as_ref().is_some_and(|d| d.disabled) {
        true
    } else {
        let now = retry::call(
            &ctx.policy,
            retry::Repeat::Freely,
            server,
            "getDestination",
            || client.get_destination(dest),
        )
        .await;
        match now {
            Ok(d) => d.disabled,
            Err(e) => {
                skip_server(ctx, s, format!("destination {dest}: {e}"));
                return ControlFlow::Break(());
            }
        }
    };
    if disabled {
        if !may_enable {
            skip_server(
                ctx,
                s,
                format!(
                    "destination {dest} is disabled by someone else (skip_if_disabled; --force-activate to run anyway)"
                ),
            );
            return ControlFlow::Break(());
        }
        ctx.progress.emit(
            server,
            None,
            format!("enabling destination {dest}"),
            started.elapsed(),
        );
        if let Err(why) = lifecycle::open_destination(ctx, client, dest).await {
            skip_server(ctx, s, why);
            return ControlFlow::Break(());
        }
    } else {
        // Journal it anyway: jbr leaves the destination disabled after its window.
        if let Err(e) = ctx.journal(Op::Enable {
            server: server.to_string(),
            what: crate::journal::Target::Destination,
            id: dest.to_string(),
            previous_disabled: true,
            since: None,
        }) {
            ctx.halt(format!("the journal cannot be written ({e})"));
            not_started(ctx, s, &format!("the journal cannot be written ({e})"));
            return ControlFlow::Break(());
        }
        ctx.action(
            server,
            format!("enable destination {dest}"),
            "already enabled (jbr disables it after the window)",
            true,
        );
    }
    ControlFlow::Continue(())
}

/// One job: enable, trigger, follow, verify, disable. The disable runs on every path.
///
/// With `orchestrator.disable_while_running`, the job is disabled as soon as its run is seen
/// writing. Whether JetBackup lets a disabled job's run finish is not documented, so a run
/// that then ends aborted or failed soon after that disable, with no stop from jbr, is taken
/// as this server's answer: the option is off for it from now on (state file), an alert says
/// so, and the job runs again, enabled throughout.
async fn run_one<T: Transport>(
    ctx: &mut Ctx<'_, T>,
    client: &Client<T>,
    job: &PlannedJob,
    f: &Facts,
) {
    let server = job.server.as_str();
    let id = job.job_id.as_str();
    let early = ctx.config.orchestrator.disable_while_running
        && !ctx.state.no_disable_while_running.contains_key(server);
    let was_enabled = f.job(id).is_some_and(|j| !j.disabled);
    let Some(refused) = attempt(ctx, client, job, was_enabled, early).await else {
        return;
    };
    let when = crate::report::time::iso_utc(ctx.clock.now());
    let why = format!("{when}: job {id}: {refused}");
    // Journaled at once: the state file is written when the run ends, and a run that dies
    // first must not leave the next one to try the option here again.
    ctx.journal_best_effort(Op::NoDisableWhileRunning {
        server: server.to_string(),
        why: why.clone(),
    });
    ctx.state
        .no_disable_while_running
        .insert(server.to_string(), why);
    let first = job_rec(&mut ctx.record, server, id).map(|r| r.message.clone());
    let mut message = format!(
        "server {server} does not let a disabled job's backup finish: job {id}'s {refused}; orchestrator.disable_while_running is off for this server from now on (the state file's no_disable_while_running)"
    );
    let again = match ctx.stopping().or_else(|| ctx.window_refuses(server, id)) {
        Some(why) => format!("not run again: {why}"),
        None => {
            // jbr disabled it itself: enable it again for the whole of the re-run.
            attempt(ctx, client, job, false, false).await;
            "run again with the job enabled throughout".to_string()
        }
    };
    message.push_str(&format!("; {again}"));
    ctx.record.alerts.push(Alert {
        kind: AlertKind::Other,
        server: Some(server.to_string()),
        job_id: Some(id.to_string()),
        message: message.clone(),
    });
    if let Some(r) = job_rec(&mut ctx.record, server, id) {
        let first = first.unwrap_or_default();
        r.message = match r.message.as_str() {
            "" => format!("{message} (first run: {first})"),
            m => format!("{m}; {message} (first run: {first})"),
        };
    }
}

/// One try at a job (see [`run_one`]); its row in the record is this try's. `Some`: the run
/// ended aborted or failed soon after jbr disabled the job under it (`disable_when_writing`),
/// with no stop sent: what the server did, in a few words.
async fn attempt<T: Transport>(
    ctx: &mut Ctx<'_, T>,
    client: &Client<T>,
    job: &PlannedJob,
    was_enabled: bool,
    disable_when_writing: bool,
) -> Option<String> {
    let server = job.server.as_str();
    let id = job.job_id.as_str();
    let start_epoch = ctx.clock.now();
    ctx.progress
        .emit(server, Some(id), "enabling", Duration::ZERO);
    let before = match follow::groups_of(ctx, client, id).await {
        Ok(b) => b,
        Err(why) => {
            if let Some(r) = job_rec(&mut ctx.record, server, id) {
                r.message = why;
            }
            return None;
        }
    };
    // ObjectIds grow with time: the greatest is the newest.
    let since = Some(before.iter().max().cloned().unwrap_or_default());
    if let Err(why) = follow::journal_trigger(ctx, server, id, since.clone()) {
        if let Some(r) = job_rec(&mut ctx.record, server, id) {
            r.message = why;
        }
        return None;
    }
    // From the enable on, the server's scheduler may start the job: its writes are the job's.
    ctx.nas_job_started();
    let enabled = if was_enabled {
        ctx.journal(Op::Enable {
            server: server.to_string(),
            what: crate::journal::Target::Job,
            id: id.to_string(),
            previous_disabled: true,
            since,
        })
        .map(|()| {
            ctx.action(
                server,
                format!("enable job {id}"),
                "already enabled (jbr disables it after its run)",
                true,
            );
            None
        })
    } else {
        lifecycle::send_enable(ctx, client, id, since)
            .await
            .map(Some)
    };
    let enable_call = match enabled {
        Ok(call) => call,
        Err(why) => {
            // An enable whose answer was lost may have taken effect, and the server's scheduler
            // may have fired the job before the disable: that run writes, so it ends before
            // anything else starts (soak seed 20399).
            let scheduler_runs = follow_scheduled(ctx, client, job, before, &BTreeSet::new()).await;
            // The job is over (a scheduler run included); its row reports no NAS figure.
            let _ = ctx.nas_job_ended();
            // Never triggered: the trigger journaled before the enable is closed.
            ctx.journal_best_effort(Op::Ended {
                server: server.to_string(),
                id: id.to_string(),
            });
            if let Some(r) = job_rec(&mut ctx.record, server, id) {
                r.outcome = Outcome::Failed;
                r.message = why;
                r.scheduler_runs = scheduler_runs;
            }
            return None;
        }
    };

    let enable = if was_enabled {
        follow::Enable::AlreadyOn
    } else {
        follow::Enable::ReadBackAfterTrigger
    };
    let watched = follow::run_job(ctx, client, job, before, enable, disable_when_writing).await;
    let returned = ctx.clock.now();
    if let Some(Err(why)) = &watched.polls.disabled_early {
        ctx.record.server_mut(server).notes.push(format!(
            "job {id}: the disable while it wrote (disable_while_running) failed ({why}); disabled after its end instead"
        ));
    }
    let disabled = match (
        &watched.polls.disabled_early,
        &watched.polls.disabled_at_end,
    ) {
        (Some(Ok(call)), _) | (_, Some(Ok(call))) => Some(*call),
        _ => {
            // Not disabled yet: the run never started, ran out of time, was cancelled, or the
            // disable at its end failed. Disable it now, before its verification: the server's
            // scheduler starts jobs that are enabled and idle, and verifying only reads.
            ctx.progress
                .emit(server, Some(id), "disabling", watched.triggered.elapsed());
            lifecycle::disable_job(ctx, client, id).await
        }
    };

    let mut rec = JobRecord::new(server, id, &job.label, Outcome::Failed);
    // The row's facts from before this try: it may be a carried-over job.
    rec.carried_over_from =
        job_rec(&mut ctx.record, server, id).and_then(|r| r.carried_over_from.clone());
    rec.group_id = watched.group_id.clone();
    rec.start = Some(ctx.clock.epoch_of(watched.triggered));
    rec.exposure = Some(exposure(
        ctx,
        &watched,
        enable_call,
        start_epoch,
        returned,
        disabled,
    ));
    let jbr_stopped = !matches!(watched.followed, Followed::Final(_));
    let wrote_from = watched.polls.started_writing();
    rec.nas_idle_before_secs = wrote_from.and_then(|w| ctx.nas_written_until.map(|e| span(e, w)));
    let mut wrote_until = watched.polls.ended_at().or(wrote_from.map(|_| returned));
    record_followed(ctx, client, job, &mut rec, watched.followed).await;
    let refused = if jbr_stopped {
        None
    } else {
        refused_while_disabled(ctx, &rec, &watched.polls)
    };
    if watched.polls.failed > 0 {
        ctx.record.server_mut(server).notes.push(format!(
            "job {id}: {} poll(s) failed and were retried",
            watched.polls.failed
        ));
    }

    let mut seen = watched.before.clone();
    if rec.outcome == Outcome::NotStarted
        && !ctx.cancelled()
        && let Some((group, followed)) = follow::late_group(ctx, client, job, &seen).await
    {
        let why = std::mem::take(&mut rec.message);
        rec.group_id = Some(group);
        record_followed(ctx, client, job, &mut rec, followed).await;
        rec.message = format!("its queue group appeared late ({why}); {}", rec.message);
        wrote_until = Some(ctx.clock.now());
    }
    // On every path (SIGTERM before the trigger included): any other run of this job that
    // writes ends before anything else starts, and is named in the report.
    let ours: BTreeSet<String> = rec.group_id.iter().cloned().collect();
    seen.extend(ours.iter().cloned());
    rec.scheduler_runs = follow_scheduled(ctx, client, job, seen, &ours).await;
    if rec.scheduler_runs > 0 {
        wrote_until = Some(ctx.clock.now());
    }
    if wrote_until.is_some() {
        ctx.nas_written_until = wrote_until;
    }
    record_nas(ctx, &mut rec);

    let end = ctx.clock.now();
    rec.end = Some(end);
    rec.duration_secs = rec.start.map(|s| end - s);
    if rec.start.is_none() {
        rec.start = Some(start_epoch);
    }
    ctx.progress.emit(
        server,
        Some(id),
        rec.outcome.as_str(),
        watched.triggered.elapsed(),
    );
    if rec.outcome.is_success() {
        // Should this run die, the next one goes on from here instead of backing it up twice.
        ctx.journal_best_effort(Op::Done {
            server: server.to_string(),
            id: id.to_string(),
            in_run: ctx.journal.run_id().to_string(),
            run_started: ctx.record.started,
            record: Box::new(rec.clone()),
        });
    }
    if let Some(r) = job_rec(&mut ctx.record, server, id) {
        *r = rec;
    }
    refused
}

/// The safety net of `disable_while_running`: a run that ended aborted or failed within
/// `stop_timeout` of jbr's disable while it wrote, with no stop from jbr (the caller checks
/// that), was most likely ended by that disable. `Some`: what happened, in a few words.
fn refused_while_disabled<T: Transport>(
    ctx: &Ctx<'_, T>,
    rec: &JobRecord,
    polls: &super::window::Polls,
) -> Option<String> {
    let Some(Ok(disable)) = &polls.disabled_early else {
        return None;
    };
    let aborted = rec
        .status_raw
        .is_some_and(|s| crate::api::QueueStatus(s).is_aborted());
    if !aborted && rec.outcome != Outcome::Failed {
        return None;
    }
    let disabled_at = disable.mid(&ctx.clock);
    let ended_at = polls.ended_at()?;
    let after = ended_at - disabled_at;
    if after > ctx.config.orchestrator.stop_timeout.as_secs_f64() {
        return None;
    }
    let group = rec.group_id.as_deref().unwrap_or("?");
    let status = match (rec.status_raw, &rec.status_name) {
        (Some(raw), Some(name)) => format!("status {raw} ({name})"),
        _ => rec.outcome.as_str().to_string(),
    };
    Some(format!(
        "backup (queue group {group}) ended with {status} {} after jbr disabled the job while it wrote",
        crate::report::time::duration(after.max(0.0))
    ))
}

/// How long the job sat enabled and idle, open to the server's scheduler: from the enable
/// (`enable`: jbr's call; `None`: it was already enabled, counted from `came`, when jbr came to
/// it) to the trigger, and from the run's end to the disable. The run's end is when the polls
/// saw it end; a run that never started ended at the trigger, one that was aborted when
/// following it gave up (`returned`). A disable that failed leaves the job enabled: counted to
/// now.
fn exposure<T: Transport>(
    ctx: &Ctx<'_, T>,
    watched: &follow::Watched,
    enable: Option<Call>,
    came: f64,
    returned: f64,
    disabled: Option<Call>,
) -> crate::report::Exposure {
    let clock = &ctx.clock;
    let enabled_at = enable.map_or(came, |c| c.mid(clock));
    let disabled_at = disabled.map_or_else(|| clock.now(), |c| c.mid(clock));
    let Some(triggered_at) = watched.trigger.map(|c| c.mid(clock)) else {
        // Never triggered (told to stop first): idle and enabled all along.
        return crate::report::Exposure::new(span(enabled_at, disabled_at), 0.0);
    };
    if matches!(watched.polls.disabled_early, Some(Ok(_))) {
        // Disabled while it wrote (`disable_while_running`): never idle and enabled after.
        return crate::report::Exposure::new(span(enabled_at, triggered_at), 0.0);
    }
    let idle_from = watched.polls.ended_at().unwrap_or(match watched.group_id {
        None => triggered_at,
        Some(_) => returned,
    });
    crate::report::Exposure::new(span(enabled_at, triggered_at), span(idle_from, disabled_at))
}

/// The server's own scheduler can queue the job again between the end of jbr's run and the
/// disable (the job is enabled and idle for up to a poll interval). That run writes to the NAS:
/// follow it to its end (aborting it at the job's timeout) before anything else starts, and
/// note it. One that already ended (it ran while jbr waited for the job to stop `running`) is
/// noted too: every backup that wrote is in the report. The job is disabled by now, so the loop
/// ends; the bound is only a safety net.
async fn follow_scheduled<T: Transport>(
    ctx: &mut Ctx<'_, T>,
    client: &Client<T>,
    job: &PlannedJob,
    mut seen: BTreeSet<String>,
    ours: &BTreeSet<String>,
) -> u32 {
    let server = job.server.as_str();
    let id = job.job_id.as_str();
    let mut followed = ours.clone();
    let mut scheduled = 0;
    for _ in 0..3 {
        let groups = match follow::other_runs(ctx, client, id, &seen, &followed).await {
            Ok(g) => g,
            Err(e) => {
                ctx.record.server_mut(server).notes.push(format!(
                    "job {id}: could not check for another run of it after its own ({e})"
                ));
                return scheduled;
            }
        };
        if groups.is_empty() {
            return scheduled;
        }
        for g in groups {
            let earlier = seen.contains(&g.id);
            seen.insert(g.id.clone());
            followed.insert(g.id.clone());
            let what = if g.status.is_final() {
                format!(
                    "it had already ended, with status {} ({})",
                    g.status.raw(),
                    g.status.name()
                )
            } else {
                match follow::follow_other(ctx, client, job, &g.id).await {
                    Followed::Final(end) => {
                        ctx.journal_best_effort(Op::Ended {
                            server: server.to_string(),
                            id: id.to_string(),
                        });
                        format!(
                            "jbr followed it to its end: status {} ({})",
                            end.status.raw(),
                            end.status.name()
                        )
                    }
                    Followed::NeverStarted(why) => why,
                    Followed::TimedOut { stop: Ok(_), .. }
                    | Followed::Cancelled { stop: Ok(_), .. } => {
                        ctx.journal_best_effort(Op::Ended {
                            server: server.to_string(),
                            id: id.to_string(),
                        });
                        "jbr aborted it, stop confirmed".to_string()
                    }
                    Followed::TimedOut { stop: Err(why), .. }
                    | Followed::Cancelled { stop: Err(why), .. } => {
                        stuck(ctx, server, id, &g.id, why.clone());
                        format!("the abort was NOT confirmed: {why}")
                    }
                }
            };
            let which = if earlier {
                format!(
                    "a run of it that was queued before jbr enabled it (group {}) was still active",
                    g.id
                )
            } else {
                scheduled += 1;
                format!(
                    "the server's own scheduler queued it again (group {}) before jbr could disable it",
                    g.id
                )
            };
            ctx.record
                .server_mut(server)
                .notes
                .push(format!("job {id}: {which}; {what}"));
        }
    }
    scheduled
}

/// Turn how following ended into the job's record (verification included).
async fn record_followed<T: Transport>(
    ctx: &mut Ctx<'_, T>,
    client: &Client<T>,
    job: &PlannedJob,
    rec: &mut JobRecord,
    followed: Followed,
) {
    let server = job.server.as_str();
    let id = job.job_id.as_str();
    match followed {
        Followed::Final(group) => {
            ctx.journal_best_effort(Op::Ended {
                server: server.to_string(),
                id: id.to_string(),
            });
            verify::verify(&ctx.policy, client, &group, rec).await;
        }
        Followed::NeverStarted(why) => {
            ctx.journal_best_effort(Op::Ended {
                server: server.to_string(),
                id: id.to_string(),
            });
            rec.outcome = Outcome::NotStarted;
            rec.message = why;
        }
        Followed::TimedOut {
            group,
            stop,
            signalled,
        } => match stop {
            Ok(g) if !signalled && !g.status.is_aborted() => {
                // No stop was ever answered OK (the server was unreachable, or refused it), and
                // the group ended as something other than aborted: it ended by itself, so
                // report what it did, not an abort that never was. (An aborted end may be our
                // stop whose answer was lost: that is the branch below.)
                ctx.journal_best_effort(Op::Ended {
                    server: server.to_string(),
                    id: id.to_string(),
                });
                verify::verify(&ctx.policy, client, &g, rec).await;
                let details = std::mem::take(&mut rec.message);
                rec.message = format!(
                    "ran past its timeout {} s; no stopQueueGroup was confirmed, and it ended by itself with status {} ({})",
                    job.timeout.as_secs_f64(),
                    g.status.raw(),
                    g.status.name()
                );
                if !details.is_empty() {
                    rec.message.push_str(&format!(" ({details})"));
                }
            }
            Ok(g) => {
                ctx.journal_best_effort(Op::Ended {
                    server: server.to_string(),
                    id: id.to_string(),
                });
                let aborted_at = crate::report::time::clock_utc(ctx.clock.now());
                verify::verify(&ctx.policy, client, &g, rec).await;
                if g.status.is_success() {
                    // It finished on its own in the moment the stop went out: report what it did.
                    rec.message = format!(
                        "completed as its timeout {} s ran out (stopQueueGroup was sent at {aborted_at})",
                        job.timeout.as_secs_f64()
                    );
                } else {
                    let details = std::mem::take(&mut rec.message);
                    rec.outcome = Outcome::TimedOutAborted;
                    rec.message = format!(
                        "no final state after its timeout {} s; sent stopQueueGroup, aborted at {aborted_at}",
                        job.timeout.as_secs_f64()
                    );
                    if !details.is_empty() {
                        rec.message.push_str(&format!(" ({details})"));
                    }
                }
            }
            Err(why) => {
                // Not "aborted": the row must not read as settled while it may still be writing.
                rec.outcome = Outcome::TimedOutNotStopped;
                rec.message =
                    format!("no final state after its timeout; the abort was NOT confirmed: {why}");
                stuck(ctx, server, id, &group, why);
            }
        },
        Followed::Cancelled { group, stop } => {
            rec.outcome = Outcome::Failed;
            match stop {
                Ok(stopped) => {
                    ctx.journal_best_effort(Op::Ended {
                        server: server.to_string(),
                        id: id.to_string(),
                    });
                    if let Some(g) = &stopped {
                        rec.status_raw = Some(g.status.raw());
                        rec.status_name = Some(g.status.name().to_string());
                    }
                    rec.message = match stopped {
                        Some(_) => "cancelled (SIGTERM) while running; aborted, stop confirmed",
                        None => "cancelled (SIGTERM) before its queue group appeared",
                    }
                    .into();
                }
                Err(why) => {
                    rec.message = format!(
                        "cancelled (SIGTERM) while running; the abort was NOT confirmed: {why}"
                    );
                    stuck(ctx, server, id, group.as_deref().unwrap_or("?"), why);
                }
            }
        }
    }
}

/// A group that would not stop: report critical and start nothing more anywhere.
fn stuck<T: Transport>(ctx: &mut Ctx<'_, T>, server: &str, job: &str, group: &str, why: String) {
    // The cause first: the critical's own "left in an unsafe state" must not take its place.
    ctx.halt(format!(
        "queue group {group} on server {server} would not stop"
    ));
    ctx.critical(
        server,
        "queue group",
        group,
        format!("server {server}, job {job}: queue group {group} would not stop ({why}); it may still write to the NAS, jbr started nothing more — stop it by hand (jbr stop --server {server} {group})"),
    );
}
