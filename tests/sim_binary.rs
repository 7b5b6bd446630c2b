//! `jbr-sim` as a process: the real envelope shape, a whole enable → trigger → poll cycle on
//! the wall clock across many short processes, `--dump`, `--init`, faults, concurrent callers.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use jbr::sim::{Fault, FaultKind, SimWorld, When, World};
use serde_json::Value;
use support::bin::{self, Run};

const DEST: &str = "6a5e0700000000000000a001";
const JOB: &str = "6a5e0700000000000000b001";

fn sim(state: &Path, args: &[&str]) -> Run {
    bin::sim_on(state).args(args).run()
}

/// stdout as JSON, after a successful exit.
fn json(out: &Run) -> Value {
    out.expect_success();
    out.json()
}

#[test]
fn list_backup_jobs_answers_the_real_envelope_shape() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("s.json");
    let v = json(&sim(&state, &["-F", "listBackupJobs", "-O", "json"]));
    assert_eq!(
        v,
        json(&sim(
            &state,
            &["jetbackup5api", "-F", "listBackupJobs", "-O", "json"]
        ))
    );
    assert_eq!(v["success"], 1);
    assert_eq!(v["message"], "");
    assert!(v["system"]["version"].is_string());
    let jobs = v["data"]["jobs"].as_array().unwrap();
    assert_eq!(v["data"]["total"], 3);
    assert_eq!(jobs.len(), 3);
    for j in jobs {
        assert_eq!(j["disabled"], 1);
        assert_eq!(j["destination"][0], DEST);
        assert_eq!(j["_id"].as_str().unwrap().len(), 24);
        assert!((2..=4).contains(&j["time"].as_i64().unwrap()));
    }
    let d = json(&sim(
        &state,
        &[
            "-F",
            "getDestination",
            "-D",
            &format!("_id={DEST}"),
            "-O",
            "json",
        ],
    ));
    assert_eq!(d["data"]["disabled"], true);
    assert!(state.exists(), "state created on first use");
}

#[test]
fn enable_trigger_poll_shows_one_two_hundred_with_the_job_in_data_id() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("s.json");
    let ok = |args: &[&str]| json(&sim(&state, args));
    ok(&[
        "-F",
        "manageDestination",
        "-D",
        &format!("_id={DEST}&action=modify&disabled=0"),
        "-O",
        "json",
    ]);
    ok(&[
        "-F",
        "manageBackupJob",
        "-D",
        &format!("_id={JOB}&action=modify&disabled=0"),
        "-O",
        "json",
    ]);
    let r = ok(&[
        "-F",
        "runBackupJobManually",
        "-D",
        &format!("_id={JOB}"),
        "-O",
        "json",
    ]);
    assert_eq!(r["data"]["_id"], JOB);
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .starts_with("Backup Job will be added to the queue")
    );
    let started = Instant::now();
    let mut seen: Vec<i64> = Vec::new();
    while started.elapsed() < Duration::from_secs(15) {
        let v = ok(&["-F", "listQueueGroups", "-D", "type=1", "-O", "json"]);
        let g = &v["data"]["groups"][0];
        assert_eq!(g["data"]["_id"], JOB);
        let s = g["status"].as_i64().unwrap();
        if seen.last() != Some(&s) {
            seen.push(s);
        }
        if s >= 100 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(seen, vec![1, 2, 100]);
    let dump = json(&sim(&state, &["--dump"]));
    assert_eq!(dump["max_concurrent_writers"], 1);
    assert_eq!(dump["timeline"][0]["job_id"], JOB);
    assert_eq!(dump["timeline"][0]["status"], 100);
    let enabled = dump["final_state"]["enabled"].as_array().unwrap();
    assert_eq!(
        enabled.len(),
        2,
        "destination and job were left enabled: {enabled:?}"
    );
}

#[test]
fn plain_output_unknown_functions_and_bad_usage() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("s.json");
    let out = sim(&state, &["-F", "getBackupJob", "-D", &format!("_id={JOB}")]);
    let text = out.stdout;
    assert!(
        text.starts_with("success: 1\nmessage: \nsystem:\n  version: "),
        "{text}"
    );
    assert!(
        text.contains("\n  disabled: 1\n") && text.contains("\n  running:\n"),
        "{text}"
    );
    // Unknown function: exit 0, success 0 (the exit code says nothing).
    let v = json(&sim(
        &state,
        &[
            "-F",
            "editBackupJob",
            "-D",
            &format!("_id={JOB}&disabled=0"),
            "-O",
            "json",
        ],
    ));
    assert_eq!(v["success"], 0);
    assert!(v["message"].as_str().unwrap().contains("editBackupJob"));
    // Several -D: only the last counts, so `action=modify` is lost as in production.
    let v = json(&sim(
        &state,
        &[
            "-F",
            "manageBackupJob",
            "-D",
            &format!("_id={JOB}"),
            "-D",
            "action=modify&disabled=0",
            "-O",
            "json",
        ],
    ));
    assert_eq!(v["success"], 0);
    let out = sim(&state, &["-D", "x=1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.contains("missing -F"));
    let out = bin::sim()
        .args(["-F", "listBackupJobs"])
        .env_remove("JBR_SIM_STATE")
        .run();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.contains("JBR_SIM_STATE is not set"));
    let help = sim(&state, &["--help"]);
    assert!(help.stdout.contains("--init FILE.json"));
}

#[test]
fn init_with_a_built_world_picks_the_server_and_applies_faults() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("s.json");
    let init = dir.path().join("init.json");
    let world: World = SimWorld::builder()
        .server("web-01", |s| s.destination("nas").job("a", 1.0))
        .server("web-02", |s| {
            s.destination("nas")
                .job("b", 1.0)
                .fault(Fault::on(
                    "listBackupJobs",
                    When::Call(1),
                    FaultKind::Exit(255),
                ))
                .fault(Fault::on(
                    "listBackupJobs",
                    When::Call(2),
                    FaultKind::Garbage,
                ))
        })
        .build_state();
    std::fs::write(&init, serde_json::to_vec(&world).unwrap()).unwrap();
    assert!(
        sim(&state, &["--init", init.to_str().unwrap()])
            .status
            .success()
    );

    let v = json(&sim(&state, &["-F", "listBackupJobs", "-O", "json"]));
    assert_eq!(
        v["data"]["jobs"][0]["name"], "a",
        "the first server by default"
    );
    let run = |args: &[&str]| {
        bin::sim_on(&state)
            .env("JBR_SIM_SERVER", "web-02")
            .args(args)
            .run()
    };
    let out = run(&["-F", "listBackupJobs", "-O", "json"]);
    assert_eq!(out.status.code(), Some(255));
    assert!(out.stdout.is_empty() && out.stderr.contains("PHP Fatal error"));
    let out = run(&["-F", "listBackupJobs", "-O", "json"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        serde_json::from_str::<Value>(&out.stdout).is_err(),
        "garbage"
    );
    let v = json(&run(&["-F", "listBackupJobs", "-O", "json"]));
    assert_eq!(v["data"]["jobs"][0]["name"], "b");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, b"{\"servers\": 3}").unwrap();
    let out = sim(&state, &["--init", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.contains("not a simulator state"));
}

#[test]
fn concurrent_processes_lose_no_update() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("s.json");
    json(&sim(&state, &["-F", "listDestinations", "-O", "json"]));
    let children: Vec<_> = (0..12)
        .map(|_| {
            bin::sim_on(&state)
                .args(["-F", "listBackupJobs", "-O", "json"])
                .spawn()
        })
        .collect();
    for c in children {
        c.wait().expect_success();
    }
    let dump = json(&sim(&state, &["--dump"]));
    assert_eq!(
        dump["world"]["servers"]["sim"]["calls"]["listBackupJobs"],
        12
    );
}

#[test]
fn two_servers_in_one_state_file_share_one_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("s.json");
    let world: World = SimWorld::builder()
        .server("web-01", |s| {
            s.destination_enabled("nas")
                .job_with("a", 3.0, |j| j.enabled())
                .startup_delay(0.1)
        })
        .server("web-02", |s| {
            s.destination_enabled("nas")
                .job_with("b", 3.0, |j| j.enabled())
                .startup_delay(0.1)
        })
        .build_state();
    std::fs::write(&state, serde_json::to_vec(&world).unwrap()).unwrap();
    let on = |server: &str, args: &[&str]| {
        let out = bin::sim_on(&state)
            .env("JBR_SIM_SERVER", server)
            .args(args)
            .run();
        json(&out)
    };
    for (server, job) in [("web-01", "a"), ("web-02", "b")] {
        let jobs = on(server, &["-F", "listBackupJobs", "-O", "json"]);
        let id = jobs["data"]["jobs"][0]["_id"].as_str().unwrap().to_string();
        assert_eq!(jobs["data"]["jobs"][0]["name"], job);
        let r = on(
            server,
            &[
                "-F",
                "runBackupJobManually",
                "-D",
                &format!("_id={id}"),
                "-O",
                "json",
            ],
        );
        assert_eq!(r["success"], 1);
    }
    std::thread::sleep(Duration::from_millis(600));
    let dump = json(&sim(&state, &["--dump"]));
    assert_eq!(
        dump["max_concurrent_writers"], 2,
        "both servers wrote at once: {}",
        dump["timeline"]
    );
    let servers: Vec<&str> = dump["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["server"].as_str().unwrap())
        .collect();
    assert_eq!(servers, ["web-01", "web-02"]);
    assert_eq!(dump["final_state"]["running"].as_array().unwrap().len(), 2);
}

#[test]
fn a_corrupt_state_file_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("s.json");
    std::fs::write(&state, b"{not json").unwrap();
    let out = sim(&state, &["-F", "listBackupJobs", "-O", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let err = out.stderr.as_str();
    assert!(
        err.starts_with("jbr-sim: ") && err.contains("s.json: not a simulator state"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}
