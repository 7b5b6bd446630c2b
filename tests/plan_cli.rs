//! `jbr run` end to end: the real binary against `jbr-sim` servers (`local_command`), real
//! processes, real lock, journal and state files. Asserts what an operator sees (exit code,
//! report) and what the simulator's timeline says (one NAS writer, nothing left enabled).

mod support;

use std::time::{Duration, Instant};

use jbr::sim::{SimWorld, World};
use support::bin::Run;
use support::fleet::Fleet;

/// The fleet of `build`, reached through `local_command`.
fn lab(build: impl FnOnce() -> World) -> Fleet {
    Fleet::local(build())
}

fn two_server_world() -> World {
    SimWorld::builder()
        .server("web-01", |s| {
            s.destination("nas")
                .job("accounts", 1.0)
                .job("databases", 0.5)
        })
        .server("web-02", |s| s.destination("nas").job("accounts", 0.5))
        .build_state()
}

#[test]
fn run_backs_up_every_job_one_at_a_time_and_leaves_nothing_enabled() {
    let lab = lab(two_server_world);
    // Destinations disabled at rest and no state file yet: jbr did not disable them, so a first
    // run needs --force-activate (contract: destination.skip_if_disabled).
    let out = lab.jbr(&["run", "--force-activate"]);
    let (stdout, stderr) = (&out.stdout, &out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.starts_with("jbr run "), "{stdout}");
    assert!(
        stdout
            .lines()
            .next()
            .unwrap()
            .ends_with(": 3 job(s): 3 completed"),
        "{stdout}"
    );
    assert!(stdout.ends_with("\nexit 0\n"), "{stdout}");
    lab.assert_clean();
    let d = lab.dump();
    assert_eq!(d["max_concurrent_writers"], 1, "{d:#}");
    assert_eq!(d["timeline"].as_array().unwrap().len(), 3, "{d:#}");
    // The journal is empty again; the state file knows jbr disabled both destinations.
    assert_eq!(
        std::fs::read(lab.path("last-run.json.journal")).unwrap(),
        b""
    );
    let state = jbr::report::state::load(&lab.path("last-run.json")).unwrap();
    assert_eq!(state.last_run.unwrap().jobs.len(), 3);
    assert_eq!(state.disabled_by_jbr.len(), 2);

    // So the next run needs no --force-activate.
    let out = lab.jbr(&["run", "--json"]);
    let (stdout, stderr) = (&out.stdout, &out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let v: serde_json::Value = serde_json::from_str(stdout).unwrap();
    assert!(
        v["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|j| j["outcome"] == "completed"),
        "{v:#}"
    );
    lab.assert_clean();
}

#[test]
fn a_destination_disabled_by_someone_else_is_skipped_with_exit_1() {
    let lab = lab(two_server_world);
    let out = lab.jbr(&["run", "--server", "web-02"]);
    let (stdout, stderr) = (&out.stdout, &out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains("  web-02: SKIPPED: destination "),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "is disabled by someone else (skip_if_disabled; --force-activate to run anyway)"
        ),
        "{stdout}"
    );
    // Nothing was written to the NAS, nothing touched.
    assert_eq!(lab.dump()["timeline"], serde_json::json!([]));
    lab.assert_clean();
}

#[test]
fn dry_run_and_usage_errors_touch_nothing() {
    let lab = lab(two_server_world);
    // The lab's destinations are disabled and the state file does not say jbr did it: a run
    // would skip both servers, and the dry run says so (exit 1, as the run would).
    let out = lab.jbr(&["run", "--dry-run"]);
    let (stdout, stderr) = (&out.stdout, &out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stdout.starts_with("dry run: 3 job(s) on 2 server(s); nothing will be changed\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("server web-01 would be skipped: destination ")
            && stdout.contains("is disabled by someone else (skip_if_disabled"),
        "{stdout}"
    );
    assert!(!stdout.contains("CHANGE"), "{stdout}");
    assert!(
        !stderr.contains("skipped"),
        "the rehearsal's log leaked: {stderr}"
    );

    let out = lab.jbr(&["run", "--dry-run", "--force-activate"]);
    let (stdout, stderr) = (&out.stdout, &out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stdout.contains("CHANGE jetbackup5api -F runBackupJobManually -D '_id="),
        "{stdout}"
    );
    // The snapshot reads; nothing that changes a server was sent, and nothing was written.
    let d = lab.dump();
    for server in ["web-01", "web-02"] {
        let calls = d["world"]["servers"][server]["calls"]
            .as_object()
            .unwrap_or_else(|| panic!("{d:#}"));
        assert!(calls.contains_key("listQueueGroups"), "{calls:?}");
        for function in calls.keys() {
            assert!(
                !jbr::contract::is_write(function),
                "a dry run sent {function} to {server}"
            );
        }
    }
    assert_eq!(lab.dump()["timeline"], serde_json::json!([]));

    let out = lab.jbr(&["run", "--server", "nope"]);
    let (stdout, stderr) = (&out.stdout, &out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout, "");
    assert!(
        stderr.contains("--server \"nope\": not a server in the config (known: web-01, web-02)"),
        "{stderr}"
    );
    assert!(!lab.path("last-run.json").exists());
}

#[test]
fn a_second_run_while_one_holds_the_lock_exits_3() {
    let lab = lab(two_server_world);
    let _held = jbr::lock::acquire(&lab.path("jbr.lock")).unwrap();
    let out = lab.jbr(&["run", "--force-activate"]);
    let (stdout, stderr) = (&out.stdout, &out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!(
            "another run holds the lock (pid {} on ",
            std::process::id()
        )),
        "{stderr}"
    );
    // Since when, for how long, and the holder's command line (this test binary).
    assert!(stderr.contains(", since 20"), "{stderr}");
    assert!(stderr.contains("plan_cli"), "{stderr}");
    assert_eq!(lab.dump()["timeline"], serde_json::json!([]));
}

/// One server with a job long enough to be interrupted.
fn long_job() -> World {
    SimWorld::builder()
        .server("web-01", |s| {
            s.destination("nas")
                .job("accounts", 6.0)
                .job("databases", 0.5)
        })
        .build_state()
}

/// Start `jbr run`, wait until the simulator shows the first job writing, then send `signal`.
fn interrupt(lab: &Fleet, signal: i32) -> Run {
    let running = lab.spawn_jbr(&["run", "--force-activate"]);
    assert!(
        lab.wait_writing(None, Duration::from_secs(30)),
        "the job never started writing:\n{}",
        running.stderr_so_far()
    );
    running.signal(signal);
    running.wait()
}

#[test]
fn sigterm_aborts_the_running_job_and_disables_everything_with_exit_1() {
    let lab = lab(long_job);
    let started = Instant::now();
    let out = interrupt(&lab, libc::SIGTERM);
    let (stdout, stderr) = (&out.stdout, &out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    // Well before the 6 s job would have ended by itself.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "did not stop promptly: {:?}",
        started.elapsed()
    );
    assert!(
        stdout.lines().next().unwrap().ends_with("— CANCELLED"),
        "{stdout}"
    );
    assert!(
        stdout.contains("cancelled (SIGTERM) while running; aborted, stop confirmed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("not started: the run was cancelled (SIGTERM)"),
        "{stdout}"
    );
    lab.assert_clean();
    assert_eq!(
        std::fs::read(lab.path("last-run.json.journal")).unwrap(),
        b""
    );
}

#[test]
fn after_sigkill_the_next_run_follows_the_orphan_then_disables_what_was_enabled() {
    let lab = lab(long_job);
    let out = interrupt(&lab, libc::SIGKILL);
    assert_eq!(out.status.code(), None, "killed by a signal");
    // Left behind: destination and job enabled, the job still writing; the journal knows.
    let d = lab.dump();
    assert_eq!(
        d["final_state"]["enabled"].as_array().unwrap().len(),
        2,
        "{d:#}"
    );
    assert_eq!(
        d["final_state"]["running"].as_array().unwrap().len(),
        1,
        "{d:#}"
    );
    let journal = std::fs::read_to_string(lab.path("last-run.json.journal")).unwrap();
    assert_eq!(journal.lines().count(), 4, "{journal}");

    // Only the short job this time; the orphan still runs to its end first.
    let short = lab.dump()["world"]["servers"]["web-01"]["jobs"][1]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = lab.jbr(&["run", "--force-activate", "--job", &short]);
    let (stdout, stderr) = (&out.stdout, &out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains("left over from an earlier run (journal):"),
        "{stdout}"
    );
    assert!(stdout.contains("has ended"), "{stdout}");
    assert!(stdout.contains("is disabled again"), "{stdout}");
    let d = lab.dump();
    assert_eq!(
        d["max_concurrent_writers"], 1,
        "the orphan and the new job overlapped: {d:#}"
    );
    lab.assert_clean();
}

#[test]
fn a_long_job_without_news_still_shows_in_the_log_that_it_is_followed() {
    // 6 s at a 0.05 s poll: about 100 polls of "processing" with nothing new (at least 21 even
    // on a machine slow enough to take 0.25 s per poll).
    let lab = lab(long_job);
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&lab.config).unwrap()).unwrap();
    config["orchestrator"]["poll_interval"] = serde_json::json!(0.05);
    std::fs::write(&lab.config, serde_json::to_vec(&config).unwrap()).unwrap();
    let out = lab.jbr(&["run", "--force-activate"]);
    let (stdout, stderr) = (&out.stdout, &out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let log = std::fs::read_to_string(lab.path("jbr.log")).unwrap();
    let accounts = lab.dump()["world"]["servers"]["web-01"]["jobs"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let still: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(" INFO still processing ") && l.contains(&accounts))
        .collect();
    assert!(!still.is_empty(), "{log}");
    // News, not noise: one line per 20 polls at most.
    assert!(still.len() <= 6, "{log}");
    assert!(stderr.contains("still processing"), "{stderr}");
}
