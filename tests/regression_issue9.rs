//! Issue 9, "the report never lies": regression tests for the silent failure an acceptance run
//! found (a 102 with 1 of 1 items failed reported as `warnings`, exit 0, with yesterday's log
//! shown), and for every other place where a list's order or yesterday's entries could change
//! what jbr decides or shows. Each test runs in BOTH list orders with stale groups and logs
//! (random outcomes) present, and asserts what the user sees: the record's outcome, its exit
//! code, the text report, the log it names.
//!
//! The runs are in-process against the simulator on tokio's paused clock; `status` and `list`
//! run the real `jbr` binary against `jbr-sim` (wall clock, a second or two).

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;
use support::lab;

use jbr::config::{Config, Job};
use jbr::exit::Exit;
use jbr::report::text::short_id;
use jbr::report::{AlertKind, JobRecord, Outcome as Rec, RunRecord};
use jbr::sim::{
    Fault, FaultKind, Group, ListOrder, Outcome, ServerBuilder, SimWorld, StatusFamily, When,
    max_concurrent,
};
use serde_json::{Value, json};
use support::cli::{DEST1, DEST2, Fleet, JOB_A, JOB_B, JOB_C, STRAY, cli_fleet};
use support::rng::Rng;

/// "Now" for the simulator and for jbr's record (`lab::run_all` anchors jbr's clock here).
const BASE: f64 = 1_795_000_000.0;
const DAY: f64 = 86_400.0;
const ORDERS: [ListOrder; 2] = [ListOrder::OldestFirst, ListOrder::NewestFirst];
/// What an earlier run may have ended with.
const ANY: [Outcome; 6] = [
    Outcome::Completed,
    Outcome::Warnings,
    Outcome::Partial,
    Outcome::Failed,
    Outcome::Aborted,
    Outcome::ItemFailed,
];

/// How one simulated server's API behaves (the variants jetbackup5-api.md leaves open).
#[derive(Clone, Copy, Debug)]
struct Api {
    family: StatusFamily,
    groups: ListOrder,
    /// `None`: the server honours `sort[start_time]`.
    logs: Option<ListOrder>,
    manual_log_type: i64,
    group_log_id: bool,
    processing_code: i64,
}

/// Every combination of group order, log order, log type of a manual run and `log_id` on
/// groups (24); the status family and the processing code (2, or the sub-status 30) alternate
/// over them so that each family meets each value of every other setting.
fn variants() -> Vec<Api> {
    let mut all = Vec::new();
    for (g, groups) in ORDERS.into_iter().enumerate() {
        let log_orders = [
            None,
            Some(ListOrder::OldestFirst),
            Some(ListOrder::NewestFirst),
        ];
        for (l, logs) in log_orders.into_iter().enumerate() {
            for (t, manual_log_type) in [1, 6].into_iter().enumerate() {
                for (n, group_log_id) in [true, false].into_iter().enumerate() {
                    let family = match (g + l + t + n) % 2 {
                        0 => StatusFamily::Research,
                        _ => StatusFamily::OlderTool,
                    };
                    let processing_code = if (g + t) % 2 == 0 { 2 } else { 30 };
                    all.push(Api {
                        family,
                        groups,
                        logs,
                        manual_log_type,
                        group_log_id,
                        processing_code,
                    });
                }
            }
        }
    }
    all
}

fn with_api(s: ServerBuilder, api: Api) -> ServerBuilder {
    s.settings(|st| {
        st.status_family = api.family;
        st.list_order = api.groups;
        st.log_order = api.logs;
        st.manual_log_type = api.manual_log_type;
        st.group_log_id = api.group_log_id;
        st.processing_code = api.processing_code;
    })
}

/// One job of tonight's plan: its sim name, how tonight's run ends, its queue items, and how
/// its run yesterday (triggered by an earlier jbr run, so logged with tonight's log type) ended.
#[derive(Clone, Copy, Debug)]
struct Night {
    name: &'static str,
    tonight: Outcome,
    items: u32,
    yesterday: Outcome,
}

const fn night(name: &'static str, tonight: Outcome, items: u32, yesterday: Outcome) -> Night {
    Night {
        name,
        tonight,
        items,
        yesterday,
    }
}

/// Stale history for `job`: yesterday's run (triggered by hand, i.e. by an earlier jbr run)
/// ending `yesterday`, and three more with random outcomes, by hand or by the scheduler — the
/// latest ended ten minutes before tonight's run.
fn history(mut s: ServerBuilder, job: &str, yesterday: Outcome, rng: &mut Rng) -> ServerBuilder {
    s = s.past_run(job, 2.0 * DAY, *rng.pick(&ANY));
    s = s.past_run_by(job, DAY + 7200.0, *rng.pick(&ANY), rng.below(2) == 0);
    s = s.past_run_by(job, DAY, yesterday, false);
    s.past_run_by(job, 600.0, *rng.pick(&ANY), rng.below(2) == 0)
}

/// One server web-01 (clock at `BASE`) with destination `nas` and `jobs` of 3 s each, their
/// stale history, and `extra` for anything else the test needs.
fn world(
    api: Api,
    jobs: &[Night],
    rng: &mut Rng,
    extra: impl FnOnce(ServerBuilder) -> ServerBuilder,
) -> SimWorld {
    SimWorld::builder()
        .at(BASE)
        .server("web-01", |s| {
            let mut s = with_api(s.destination("nas"), api);
            for j in jobs {
                s = s.job_with(j.name, 3.0, |b| b.outcome(j.tonight).items(j.items));
            }
            for j in jobs {
                s = history(s, j.name, j.yesterday, rng);
            }
            extra(s)
        })
        .build()
}

/// A plan of `jobs` on web-01, in that order, with the fast waits.
fn config(world: &SimWorld, dir: &Path, jobs: &[&str]) -> Config {
    let mut c = lab::sim_config(dir);
    c.servers
        .insert("web-01".into(), lab::sim_server(world, "web-01"));
    for (i, name) in jobs.iter().enumerate() {
        c.jobs.push(Job {
            priority: 100 - i as i64,
            ..lab::sim_job(world, "web-01", name)
        });
    }
    c
}

/// A directory for one run's journal and state: on tmpfs when there is one (each run fsyncs its
/// journal a few dozen times, and these tests make a few hundred runs).
fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(d) = tempfile::tempdir_in(shm)
    {
        return d;
    }
    tempfile::tempdir().expect("tempdir")
}

/// One fresh run of `jobs` (destination force-activated: it is disabled at rest).
async fn run(world: &SimWorld, jobs: &[&str]) -> RunRecord {
    let dir = scratch();
    let c = config(world, dir.path(), jobs);
    lab::fresh_sim_run(world, &c, true).await.0
}

/// The server's groups: those from before the run (stale), and tonight's.
fn groups(world: &SimWorld) -> (Vec<Group>, Vec<Group>) {
    world.with_server("web-01", |s| {
        s.groups.iter().cloned().partition(|g| g.created < BASE)
    })
}

/// The most of tonight's runs writing at once (yesterday's runs of several jobs overlap: the
/// history is not a real night).
fn writers_tonight(world: &SimWorld) -> usize {
    let tonight: Vec<_> = world
        .timeline()
        .into_iter()
        .filter(|w| w.start >= BASE)
        .collect();
    max_concurrent(&tonight)
}

fn rec<'r>(r: &'r RunRecord, world: &SimWorld, job: &str) -> &'r JobRecord {
    let id = world.id("web-01", job);
    r.jobs
        .iter()
        .find(|j| j.job_id == id)
        .unwrap_or_else(|| panic!("no record for {job}"))
}

/// The outcome issue 9's rule gives for a run that ended `o` in `family`: the worst of the
/// queue status (100 completed, 101/102 partial, else failed), the items (any failed: partial)
/// and tonight's log (1 completed, 4 partial, 2/3/5 failed).
fn truth(family: StatusFamily, o: Outcome) -> Rec {
    match (family, o) {
        (_, Outcome::Completed) => Rec::Completed,
        // Research: 100, its warning only in a log item; the older tool: 101.
        (StatusFamily::Research, Outcome::Warnings) => Rec::Completed,
        (StatusFamily::OlderTool, Outcome::Warnings) => Rec::Partial,
        // 101 / 102, every item failed, log "partially completed".
        (_, Outcome::Partial) => Rec::Partial,
        // 100 with a failed item.
        (_, Outcome::ItemFailed) => Rec::Partial,
        // 102 / 200 and the log says failed; 103 / 201 and the log says aborted.
        (_, Outcome::Failed | Outcome::Aborted | Outcome::Hang) => Rec::Failed,
    }
}

/// The text report's table row of `job`, as words: server, id, "label", outcome, …
fn row(text: &str, job: &str) -> Vec<String> {
    let label = format!("\"{job}\"");
    let line = text
        .lines()
        .find(|l| l.starts_with("  web-01 ") && l.split_whitespace().nth(2) == Some(&label))
        .unwrap_or_else(|| panic!("no row for {job} in:\n{text}"));
    line.split_whitespace().map(String::from).collect()
}

/// What the user sees of `job` matches tonight's group of it, and nothing of the stale ones:
/// the group followed, its raw status, the outcome the rule gives, never a success when the
/// group is not clean, tonight's log (never a stale one), and the same in the text report.
fn assert_job(r: &RunRecord, world: &SimWorld, api: Api, j: &Night, ctx: &str) {
    let ctx = format!("{ctx} {}", j.name);
    let (stale, tonight) = groups(world);
    let id = world.id("web-01", j.name);
    let ours: Vec<&Group> = tonight.iter().filter(|g| g.job_id == id).collect();
    assert_eq!(ours.len(), 1, "{ctx}: triggered once");
    let g = ours[0];
    let rj = rec(r, world, j.name);
    assert_eq!(rj.group_id.as_deref(), Some(g.id.as_str()), "{ctx}");
    assert_eq!(rj.status_raw, g.status, "{ctx}");
    let want = truth(api.family, j.tonight);
    assert_eq!(rj.outcome, want, "{ctx}: {}", rj.message);
    let dirty = g.status != Some(100) || j.tonight == Outcome::ItemFailed;
    if dirty {
        assert!(
            !matches!(rj.outcome, Rec::Completed | Rec::Warnings),
            "{ctx}: {:?}",
            rj.outcome
        );
        let code = g.status.unwrap();
        assert!(
            rj.message
                .contains(&format!("finished with status {code} (")),
            "{ctx}: {}",
            rj.message
        );
    }
    if j.tonight == Outcome::ItemFailed {
        assert_eq!(rj.items_failed, Some(1), "{ctx}");
        assert!(
            rj.message.contains("1 of 2 items failed"),
            "{ctx}: {}",
            rj.message
        );
    }
    // Tonight's log is always there in the simulator: jbr must find it, whatever the order,
    // the log type of a manual run, or whether the group names it.
    assert_eq!(rj.log_id.as_deref(), Some(g.log_id.as_str()), "{ctx}");
    assert!(
        !rj.message.contains("no log for this run"),
        "{ctx}: {}",
        rj.message
    );
    for s in &stale {
        assert!(!rj.message.contains(&s.log_id), "{ctx}: {}", rj.message);
        assert!(!rj.message.contains(&s.id), "{ctx}: {}", rj.message);
    }

    let text = jbr::report::text::render(r);
    let words = row(&text, j.name);
    assert_eq!(words[3], want.as_str(), "{ctx}:\n{text}");
    let code = g.status.unwrap();
    assert!(
        words.contains(&code.to_string()),
        "{ctx}: no status {code} in {words:?}"
    );
    assert_eq!(words.last(), Some(&short_id(&g.id)), "{ctx}");
    if dirty {
        let (job, detail) = (
            format!("\"{}\": ", j.name),
            format!("finished with status {code} ("),
        );
        assert!(
            text.lines().any(|l| l.starts_with(" ! server web-01, job ")
                && l.contains(&job)
                && l.contains(&detail)),
            "{ctx}: no detail {detail:?} in:\n{text}"
        );
    }
}

/// Nothing of a stale group (its id, short or full, or its log's) appears anywhere in the
/// report, and no alert says a backup was already running.
fn assert_nothing_stale(r: &RunRecord, world: &SimWorld, ctx: &str) {
    let (stale, _) = groups(world);
    let text = jbr::report::text::render(r);
    let json = serde_json::to_string(r).unwrap();
    for g in &stale {
        for id in [short_id(&g.id), g.log_id.clone()] {
            assert!(!text.contains(&id), "{ctx}: stale {id} in:\n{text}");
        }
        assert!(
            !json.contains(&g.id) && !json.contains(&g.log_id),
            "{ctx}: {json}"
        );
    }
    assert!(
        !r.alerts.iter().any(|a| a.kind == AlertKind::ForeignBackup),
        "{ctx}: {:?}",
        r.alerts
    );
    // No scheduler fires in these worlds: a note that it did means a stale group was followed.
    let notes: Vec<&String> = r.servers.iter().flat_map(|s| &s.notes).collect();
    assert!(
        !notes.iter().any(|n| n.contains("queued it again")),
        "{ctx}: {notes:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 1. The acceptance case and its variants.

/// The acceptance run's night, in every API variant: each job's run yesterday is still listed
/// (completed for the failing ones, failed for the clean one), with older runs of random
/// outcomes. Tonight: a failure (102 or 200, 1 of 1 items failed), a partial (101 or 102), a
/// 100 with a failed item, a run the older tool's family ends 101 while its log says completed,
/// an abort, and a clean run. No failing job is ever `completed` or `warnings`, the run exits 1,
/// every job names tonight's log and group, and the clean run stays completed.
#[tokio::test(start_paused = true)]
async fn a_failed_night_is_never_reported_ok_whatever_the_order_and_yesterdays_logs() {
    let jobs = [
        night("acct", Outcome::Failed, 1, Outcome::Completed),
        night("db", Outcome::Partial, 1, Outcome::Completed),
        night("files", Outcome::ItemFailed, 2, Outcome::Completed),
        night("mail", Outcome::Warnings, 1, Outcome::Completed),
        night("gone", Outcome::Aborted, 1, Outcome::Completed),
        night("home", Outcome::Completed, 2, Outcome::Failed),
    ];
    let names: Vec<&str> = jobs.iter().map(|j| j.name).collect();
    for (i, api) in variants().into_iter().enumerate() {
        let ctx = format!("variant {i} {api:?}");
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ i as u64);
        let world = world(api, &jobs, &mut rng, |s| s);
        let r = run(&world, &names).await;
        for j in &jobs {
            assert_job(&r, &world, api, j, &ctx);
        }
        assert_nothing_stale(&r, &world, &ctx);
        assert_eq!(r.exit(), Exit::JobsFailed, "{ctx}");
        let text = jbr::report::text::render(&r);
        assert!(text.trim_end().ends_with("\nexit 1"), "{ctx}:\n{text}");
        assert_eq!(writers_tonight(&world), 1, "{ctx}");
    }
}

/// The acceptance case alone, as it was seen: one job, 102 with 1 of 1 items failed, the log
/// list oldest first or newest first, yesterday's completed log listed, tonight's log of type 6
/// ("backup on demand") and groups without `log_id`. Not `warnings`, exit 1, tonight's log.
#[tokio::test(start_paused = true)]
async fn the_acceptance_case_102_with_its_item_failed_and_yesterdays_completed_log() {
    let job = night("acct", Outcome::Failed, 1, Outcome::Completed);
    for logs in [
        Some(ListOrder::OldestFirst),
        Some(ListOrder::NewestFirst),
        None,
    ] {
        for groups in ORDERS {
            let api = Api {
                family: StatusFamily::Research,
                groups,
                logs,
                manual_log_type: 6,
                group_log_id: false,
                processing_code: 2,
            };
            let ctx = format!("{api:?}");
            let world = SimWorld::builder()
                .at(BASE)
                .server("web-01", |s| {
                    with_api(s.destination("nas"), api)
                        .job_with("acct", 3.0, |j| j.outcome(Outcome::Failed).items(1))
                        .past_run_by("acct", DAY, Outcome::Completed, false)
                })
                .build();
            let r = run(&world, &["acct"]).await;
            assert_job(&r, &world, api, &job, &ctx);
            let a = rec(&r, &world, "acct");
            assert_eq!(a.status_raw, Some(102), "{ctx}");
            assert_eq!((a.items_failed, a.items_total), (Some(1), Some(1)), "{ctx}");
            assert!(
                a.message.contains("log says failed"),
                "{ctx}: {}",
                a.message
            );
            assert_nothing_stale(&r, &world, &ctx);
            assert_eq!(r.exit(), Exit::JobsFailed, "{ctx}");
            assert_eq!(r.exit().code(), 1);
        }
    }
}

/// The other way round: tonight's run is clean and yesterday's failed (and other stale runs end
/// anyhow). Stale entries never make an outcome worse either: completed, exit 0, tonight's log,
/// no message, no foreign-backup alert.
#[tokio::test(start_paused = true)]
async fn a_clean_night_stays_completed_whatever_yesterdays_logs_say() {
    let job = night("home", Outcome::Completed, 2, Outcome::Failed);
    for (i, api) in variants().into_iter().enumerate() {
        let ctx = format!("variant {i} {api:?}");
        let mut rng = Rng(0x2545_f491_4f6c_dd1d ^ i as u64);
        let world = world(api, &[job], &mut rng, |s| s);
        let r = run(&world, &["home"]).await;
        assert_job(&r, &world, api, &job, &ctx);
        let h = rec(&r, &world, "home");
        assert_eq!(h.message, "", "{ctx}");
        assert_nothing_stale(&r, &world, &ctx);
        assert_eq!(r.exit(), Exit::Ok, "{ctx}");
        let text = jbr::report::text::render(&r);
        assert!(text.trim_end().ends_with("\nexit 0"), "{ctx}:\n{text}");
    }
}

/// The logs cannot be read at all (`getLog` and `listLogs` refused on every call) while
/// yesterday's logs exist: the queue decides alone. A failed item under 100 is partial, a 102
/// partial and a 200 failed, a clean run completed; no job names a log, and each says why.
#[tokio::test(start_paused = true)]
async fn unreadable_logs_leave_the_queue_to_decide_and_no_log_is_named() {
    let jobs = [
        night("acct", Outcome::Failed, 1, Outcome::Completed),
        night("files", Outcome::ItemFailed, 2, Outcome::Completed),
        night("home", Outcome::Completed, 2, Outcome::Failed),
    ];
    let names: Vec<&str> = jobs.iter().map(|j| j.name).collect();
    for (i, api) in variants().into_iter().enumerate().step_by(3) {
        let ctx = format!("variant {i} {api:?}");
        let mut rng = Rng(0x0bad_10c5 ^ i as u64);
        let world = world(api, &jobs, &mut rng, |s| {
            let refuse = || FaultKind::Refuse("Database is busy".into());
            s.fault(Fault::on("getLog", When::Always, refuse()))
                .fault(Fault::on("listLogs", When::Always, refuse()))
        });
        let r = run(&world, &names).await;
        let text = jbr::report::text::render(&r);
        let (_, tonight) = groups(&world);
        for j in &jobs {
            let ctx = format!("{ctx} {}", j.name);
            let rj = rec(&r, &world, j.name);
            let g = tonight.iter().find(|g| g.job_id == rj.job_id).unwrap();
            assert_eq!(rj.group_id.as_deref(), Some(g.id.as_str()), "{ctx}");
            let want = match (api.family, j.tonight) {
                // 102 with its one item failed, and no log to say "failed".
                (StatusFamily::Research, Outcome::Failed) => Rec::Partial,
                (family, o) => truth(family, o),
            };
            assert_eq!(rj.outcome, want, "{ctx}: {}", rj.message);
            assert_eq!(row(&text, j.name)[3], want.as_str(), "{ctx}:\n{text}");
            assert_eq!(rj.log_id, None, "{ctx}");
            assert!(
                rj.message.contains("logs unreadable: "),
                "{ctx}: {}",
                rj.message
            );
            if j.tonight != Outcome::Completed {
                assert!(!rj.outcome.is_success(), "{ctx}: {:?}", rj.outcome);
            }
        }
        assert_nothing_stale(&r, &world, &ctx);
        assert_eq!(r.exit(), Exit::JobsFailed, "{ctx}");
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Finding the group jbr follows, and the late-group check after the disable.

/// Someone disables the job just before jbr's trigger, so it queues nothing; the job's groups
/// from yesterday (completed) and earlier are listed, in either order. jbr must not take one of
/// them for its run, neither while looking for its group nor in the late-group check after the
/// disable: not started, no group, no log, exit 1.
#[tokio::test(start_paused = true)]
async fn a_trigger_that_queues_nothing_never_borrows_yesterdays_group() {
    for (i, api) in variants().into_iter().enumerate().step_by(3) {
        let ctx = format!("variant {i} {api:?}");
        let job = night("acct", Outcome::Failed, 1, Outcome::Completed);
        let mut rng = Rng(0x51ed_2701 ^ i as u64);
        let world = world(api, &[job], &mut rng, |s| {
            s.fault(Fault::on(
                "runBackupJobManually",
                When::Call(1),
                FaultKind::JobDisabledFirst,
            ))
        });
        let r = run(&world, &["acct"]).await;
        let (_, tonight) = groups(&world);
        assert!(tonight.is_empty(), "{ctx}: {tonight:?}");
        let a = rec(&r, &world, "acct");
        assert_eq!(a.outcome, Rec::NotStarted, "{ctx}: {}", a.message);
        assert_eq!(a.group_id, None, "{ctx}");
        assert_eq!(a.log_id, None, "{ctx}");
        assert_eq!(a.status_raw, None, "{ctx}");
        assert!(
            a.message
                .contains("no queue group appeared within startup_timeout"),
            "{ctx}: {}",
            a.message
        );
        assert!(!a.message.contains("appeared late"), "{ctx}: {}", a.message);
        let text = jbr::report::text::render(&r);
        let words = row(&text, "acct");
        assert_eq!(words[3..5], ["not", "started"], "{ctx}:\n{text}");
        assert_eq!(words.last().map(String::as_str), Some("-"), "{ctx}");
        assert_nothing_stale(&r, &world, &ctx);
        assert_eq!(r.exit(), Exit::JobsFailed, "{ctx}");
    }
}

/// The trigger works, but every look for its group in the startup window gets garbage, so jbr
/// only finds it in the late-group check after the disable. With yesterday's completed run and
/// older ones listed, in either order, the group it then follows is tonight's: its failure is
/// reported, with tonight's log, exit 1.
#[tokio::test(start_paused = true)]
async fn the_late_group_check_finds_tonights_group_not_yesterdays() {
    for (i, api) in variants().into_iter().enumerate().step_by(3) {
        let ctx = format!("variant {i} {api:?}");
        let job = night("acct", Outcome::Failed, 1, Outcome::Completed);
        let mut rng = Rng(0x7f4a_7c15 ^ i as u64);
        // listQueueGroups: 1 pre-flight (also the window's foreign check and the job's groups
        // before its enable, being that young), then the searches of the 2 s startup window
        // (every 0.5 s).
        let world = world(api, &[job], &mut rng, |s| {
            s.fault(Fault::on(
                "listQueueGroups",
                When::Calls(2, 6),
                FaultKind::Garbage,
            ))
        });
        let r = run(&world, &["acct"]).await;
        assert_job(&r, &world, api, &job, &ctx);
        let a = rec(&r, &world, "acct");
        assert!(
            a.message.starts_with("its queue group appeared late ("),
            "{ctx}: {}",
            a.message
        );
        assert_nothing_stale(&r, &world, &ctx);
        assert_eq!(r.exit(), Exit::JobsFailed, "{ctx}");
        assert_eq!(writers_tonight(&world), 1, "{ctx}");
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Pre-flight's foreign writer.

/// A job nobody configured, targeting the NAS and enabled: the server's own scheduler fires it
/// whenever the destination is enabled too.
fn foreign_job(s: ServerBuilder) -> ServerBuilder {
    s.job_with("other", 5.0, |j| j.enabled().items(1))
}

/// Stale groups of a job that targets the NAS — finished yesterday or ten minutes ago, with
/// any outcome, listed in either order — are no foreign writer: no alert, no wait, jbr's job
/// runs at once and completes.
#[tokio::test(start_paused = true)]
async fn a_finished_stale_group_is_no_foreign_writer() {
    for (i, api) in variants().into_iter().enumerate().step_by(2) {
        let ctx = format!("variant {i} {api:?}");
        let job = night("acct", Outcome::Completed, 1, Outcome::Failed);
        let mut rng = Rng(0xdead_beef ^ i as u64);
        let world = world(api, &[job], &mut rng, |s| {
            let s = foreign_job(s);
            history(s, "other", Outcome::Failed, &mut Rng(i as u64 + 1))
        });
        let r = run(&world, &["acct"]).await;
        assert_job(&r, &world, api, &job, &ctx);
        assert_nothing_stale(&r, &world, &ctx);
        let notes: Vec<&String> = r.servers.iter().flat_map(|s| &s.notes).collect();
        assert!(
            !notes.iter().any(|n| n.contains("jbr did not start")),
            "{ctx}: {notes:?}"
        );
        // The run started at once: its trigger within a second of the start.
        let a = rec(&r, &world, "acct");
        assert!(a.start.unwrap() - BASE < 1.0, "{ctx}: {:?}", a.start);
        assert_eq!(r.exit(), Exit::Ok, "{ctx}");
    }
}

/// A backup of that job the server's scheduler started just before jbr (pending, or already
/// processing under status 2 or the sub-status 30), among its stale groups in either order, is
/// a foreign writer: alerted, waited for, and jbr's job writes only after it ended.
#[tokio::test(start_paused = true)]
async fn an_active_group_is_a_foreign_writer_among_stale_ones() {
    for (i, api) in variants().into_iter().enumerate().step_by(2) {
        for head_start in [0.0, 2.0] {
            let ctx = format!("variant {i} {api:?}, foreign run {head_start} s old");
            let job = night("acct", Outcome::Completed, 1, Outcome::Failed);
            let mut rng = Rng(0xfeed_f00d ^ i as u64);
            let world = world(api, &[job], &mut rng, |s| {
                history(
                    foreign_job(s),
                    "other",
                    Outcome::Completed,
                    &mut Rng(i as u64 + 7),
                )
            });
            // Someone left the destination enabled, and the scheduler fires `other`.
            world.with_server("web-01", |s| s.destinations[0].disabled = false);
            let foreign = world.tick("web-01");
            assert_eq!(foreign.len(), 1, "{ctx}");
            tokio::time::sleep(Duration::from_secs_f64(head_start)).await;
            let dir = scratch();
            let c = config(&world, dir.path(), &["acct"]);
            let (r, _) = lab::fresh_sim_run(&world, &c, true).await;
            let alerts: Vec<&str> = r
                .alerts
                .iter()
                .filter(|a| a.kind == AlertKind::ForeignBackup)
                .map(|a| a.message.as_str())
                .collect();
            assert_eq!(alerts.len(), 1, "{ctx}: {:?}", r.alerts);
            assert!(alerts[0].contains(&foreign[0]), "{ctx}: {}", alerts[0]);
            assert!(alerts[0].contains("jbr waited"), "{ctx}: {}", alerts[0]);
            let tl = world.timeline();
            let end_of = |name: &str| {
                tl.iter()
                    .filter(|w| w.job_name == name && w.start >= BASE)
                    .map(|w| (w.start, w.end.unwrap()))
                    .collect::<Vec<_>>()
            };
            let (other, acct) = (end_of("other"), end_of("acct"));
            assert_eq!((other.len(), acct.len()), (1, 1), "{ctx}: {tl:?}");
            assert!(acct[0].0 >= other[0].1, "{ctx}: {tl:?}");
            assert_eq!(writers_tonight(&world), 1, "{ctx}");
            assert_eq!(rec(&r, &world, "acct").outcome, Rec::Completed, "{ctx}");
            // Waiting for a foreign backup is an alert, not a failed job: jbr's job completed.
            assert_eq!(r.exit(), Exit::Ok, "{ctx}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 4. The operator commands, as a user runs them (`jbr` against `jbr-sim`).

/// The cmd_common fleet (web-01: accounts, databases and an unconfigured stray job; web-02:
/// files), both servers listing groups and logs in `order`, every job with stale runs of
/// assorted outcomes (the latest an hour ago).
fn fleet(order: ListOrder) -> Fleet {
    let stale = |mut s: ServerBuilder, jobs: &[&str]| {
        for (k, job) in jobs.iter().enumerate() {
            s = s
                .past_run(job, 2.0 * DAY, ANY[k % ANY.len()])
                .past_run_by(job, DAY, ANY[(k + 3) % ANY.len()], false)
                .past_run_by(job, 3600.0, ANY[(k + 1) % ANY.len()], k % 2 == 0);
        }
        s.order(order).settings(|st| st.log_order = Some(order))
    };
    let world = SimWorld::builder()
        .server("web-01", |s| {
            let s = s
                .destination(DEST1)
                .job(JOB_A, 60.0)
                .job(JOB_B, 60.0)
                .job(STRAY, 60.0)
                .startup_delay(0.2)
                .abort_delay(0.3);
            stale(s, &[JOB_A, JOB_B, STRAY])
        })
        .server("web-02", |s| {
            let s = s
                .destination(DEST2)
                .job(JOB_C, 60.0)
                .startup_delay(0.2)
                .abort_delay(0.3);
            stale(s, &[JOB_C])
        });
    cli_fleet(world, support::cli::default_jobs(), json!({}))
}

/// `jbr status` with only stale groups (finished yesterday or an hour ago, any outcome): no
/// active group, nothing running, in both orders, and the same text either way.
#[test]
fn status_never_shows_a_stale_group_in_either_order() {
    let mut texts = Vec::new();
    for order in ORDERS {
        let fleet = fleet(order);
        let run = fleet.jbr(&["status"]);
        assert_eq!(run.code, Some(0), "{order:?}: {run}");
        for server in ["web-01", "web-02"] {
            assert_eq!(
                run.line(&format!("{server}  queue")),
                format!("{server} queue no active backup group"),
                "{order:?}"
            );
        }
        assert!(
            !run.stdout
                .lines()
                .any(|l| l.split_whitespace().nth(1) == Some("group")),
            "{order:?}: {run}"
        );
        assert!(!run.stdout.contains("running"), "{order:?}: {run}");
        let v = fleet.jbr(&["status", "--json"]).json();
        for s in v["servers"].as_array().unwrap() {
            assert_eq!(s["active_groups"], json!([]), "{order:?}: {s}");
            assert_eq!(s["queue_known"], true);
            for j in s["jobs"].as_array().unwrap() {
                assert_eq!(j["running"], false, "{order:?}: {j}");
            }
        }
        let dir = fleet.dir.path().display().to_string();
        texts.push(run.stdout.replace(&dir, "DIR"));
        fleet.assert_only_reads("web-01");
    }
    assert_eq!(
        texts[0], texts[1],
        "the list order changed what status shows"
    );
}

/// `jbr status` while two backups run on web-01 (databases started first, then accounts), among
/// stale groups: both shown, oldest first, whatever order the server lists them in.
#[test]
fn status_shows_active_groups_oldest_first_whatever_the_list_order() {
    for order in ORDERS {
        let fleet = fleet(order);
        let first = fleet.start_job("web-01", DEST1, JOB_B);
        let second = fleet.start_job("web-01", DEST1, JOB_A);
        let v = fleet
            .jbr(&["status", "--server", "web-01", "--json"])
            .json();
        let active: Vec<(Value, Value)> = v["servers"][0]["active_groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| (g["id"].clone(), g["job_id"].clone()))
            .collect();
        assert_eq!(
            active,
            vec![(json!(first), json!(JOB_B)), (json!(second), json!(JOB_A))],
            "{order:?}"
        );
        let run = fleet.jbr(&["status", "--server", "web-01"]);
        assert_eq!(run.code, Some(0), "{order:?}: {run}");
        let rows: Vec<&str> = run
            .stdout
            .lines()
            .filter(|l| l.starts_with("web-01") && l.split_whitespace().nth(1) == Some("group"))
            .collect();
        assert_eq!(rows.len(), 2, "{order:?}: {run}");
        assert!(rows[0].contains(&first), "{order:?}: {run}");
        assert!(rows[1].contains(&second), "{order:?}: {run}");
    }
}

/// `jbr list` with stale runs of every job, in both orders: the same rows either way, no job
/// shown running, the unconfigured job that targets the NAS still the only finding (exit 1).
#[test]
fn list_is_the_same_whatever_the_order_and_the_stale_runs() {
    let mut outs = Vec::new();
    for order in ORDERS {
        let fleet = fleet(order);
        let run = fleet.jbr(&["list"]);
        assert_eq!(run.code, Some(1), "{order:?}: {run}");
        assert_eq!(
            run.line("list:"),
            "list: 3 configured jobs, 1 unconfigured job targeting the NAS",
            "{order:?}"
        );
        assert!(!run.stdout.contains("running"), "{order:?}: {run}");
        let v = fleet.jbr(&["list", "--json"]).json();
        let ids: BTreeSet<&str> = v["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| {
                assert_eq!(j["running"], false, "{order:?}: {j}");
                j["job_id"].as_str().unwrap()
            })
            .collect();
        assert_eq!(
            ids,
            BTreeSet::from([JOB_A, JOB_B, JOB_C, STRAY]),
            "{order:?}"
        );
        outs.push((run.stdout, run.stderr));
        fleet.assert_only_reads("web-01");
    }
    assert_eq!(outs[0], outs[1], "the list order changed what list shows");
}
