//! `jbr status` as a user runs it: last run from a real state file, the journal, and the live
//! state of `jbr-sim` servers, one of them running a backup.

mod support;

use jbr::journal::{Journal, Op, Target};
use jbr::report::state::{self, State};
use jbr::report::{JobRecord, Outcome, RunRecord};
use serde_json::{Value, json};
use support::cli::*;

#[test]
fn no_state_file_is_not_an_error_and_the_live_state_is_shown() {
    let fleet = standard_fleet();
    let run = fleet.jbr(&["status"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(run.stderr, "", "{run}");
    assert_eq!(
        run.line("last run:"),
        format!(
            "last run: no run recorded yet ({})",
            fleet.path("last-run.json").display()
        )
    );
    assert_eq!(run.line("journal:"), "journal: nothing open");
    assert_eq!(
        run.line("web-01  destination"),
        "web-01 destination 6a5e…0001 \"NAS\" disabled"
    );
    assert_eq!(
        run.line("web-01  job 6a5e…0001"),
        "web-01 job 6a5e…0001 \"accounts\" disabled"
    );
    assert_eq!(
        run.line("web-02  queue"),
        "web-02 queue no active backup group"
    );
    assert!(
        !fleet.path("last-run.json").exists(),
        "status wrote a state file"
    );
    fleet.assert_only_reads("web-01");

    let v = fleet.jbr(&["status", "--json"]).json();
    assert_eq!(v["ok"], true);
    assert_eq!(v["last_run"], json!(null));
    assert_eq!(v["journal"]["open_changes"], json!([]));
    assert_eq!(v["servers"][0]["server"], "web-01");
    assert_eq!(v["servers"][0]["destination"]["disabled"], true);
    assert_eq!(v["servers"][0]["jobs"][0]["job_id"], JOB_A);
    assert_eq!(v["servers"][0]["jobs"][0]["running"], false);
}

#[test]
fn a_running_backup_shows_its_full_group_id_for_stop() {
    let fleet = standard_fleet();
    let group = fleet.start_job("web-02", DEST2, JOB_C);
    let run = fleet.jbr(&["status"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(
        run.line("web-02  destination"),
        "web-02 destination 6a5e…0002 \"NAS\" ENABLED"
    );
    assert_eq!(
        run.line("web-02  job"),
        "web-02 job 6a5e…0001 \"files\" running"
    );
    let line = run.line(&format!("web-02  group {group}"));
    assert!(
        line.starts_with(&format!(
            "web-02 group {group} processing (2), job 6a5e…0001 \"files\""
        )),
        "{run}"
    );
    assert_eq!(
        run.line("web-01  queue"),
        "web-01 queue no active backup group"
    );

    let v = fleet
        .jbr(&["status", "--server", "web-02", "--json"])
        .json();
    let servers = v["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 1);
    let g = &servers[0]["active_groups"][0];
    assert_eq!(g["id"], group.as_str());
    assert_eq!(g["job_id"], JOB_C);
    assert_eq!(g["configured"], true);
    assert_eq!(g["status"], 2);
    assert_eq!(g["status_name"], "processing");
}

#[test]
fn the_last_run_and_open_journal_changes_are_shown() {
    let fleet = standard_fleet();
    let mut record = RunRecord::new("r-20261122-0300", 1_795_400_000.0);
    record.ended = 1_795_400_125.0;
    record.jobs.push(JobRecord::new(
        "web-01",
        JOB_A,
        "accounts",
        Outcome::Completed,
    ));
    record.jobs.push(
        JobRecord::new("web-02", JOB_C, "files", Outcome::Failed)
            .with_message("status 104: disk full"),
    );
    let mut st = State::default();
    st.record_run(&record);
    state::save(&fleet.path("last-run.json"), &st).unwrap();
    let mut journal = Journal::open(&fleet.path("last-run.json.journal"), "r-killed").unwrap();
    journal
        .write(Op::Enable {
            server: "web-01".into(),
            what: Target::Destination,
            id: DEST1.into(),
            previous_disabled: true,
            since: None,
        })
        .unwrap();
    drop(journal);

    let run = fleet.jbr(&["status"]);
    assert_eq!(
        run.code,
        Some(0),
        "the last run's failure is history: {run}"
    );
    let last = run.line("last run:");
    assert!(
        last.starts_with("last run: r-20261122-0300 from 2026-"),
        "{run}"
    );
    assert!(last.contains("2 job(s): 1 completed, 1 failed"), "{run}");
    assert!(last.ends_with("— exit 1"), "{run}");
    assert_eq!(
        run.line("  web-02 6a5e…0001"),
        "web-02 6a5e…0001 \"files\": failed — status 104: disk full"
    );
    assert!(run.stdout.contains(
        "journal: 1 open change (a run in progress, or one that was killed: the next run undoes them)\n  server web-01: run r-killed enabled destination 6a5e070000000000000d0001 (to be disabled again)\n"
    ), "{run}");

    let v = fleet.jbr(&["status", "--json"]).json();
    assert_eq!(v["last_run"]["exit_code"], 1);
    assert_eq!(v["last_run"]["run_id"], "r-20261122-0300");
    assert_eq!(v["last_run"]["jobs"][1]["outcome"], "failed");
    assert_eq!(v["journal"]["open_changes"].as_array().unwrap().len(), 1);
}

#[test]
fn an_unreachable_server_and_a_corrupt_state_file_exit_1_the_rest_still_shown() {
    let fleet = cli_fleet(standard_world(), default_jobs(), dead_server("web-00"));
    std::fs::write(fleet.path("last-run.json"), "{not json").unwrap();
    let run = fleet.jbr(&["status"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.line("web-00").starts_with(
            "web-00 server UNREACHABLE: server web-00: getDestination: cannot connect"
        ),
        "{run}"
    );
    assert!(
        run.line("web-01  job 6a5e…0001").ends_with("disabled"),
        "{run}"
    );
    assert!(run.line("web-02  job").ends_with("disabled"), "{run}");
    let errors: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(errors.len(), 2, "{run}");
    assert!(errors[0].starts_with(&format!(
        "jbr: state file {}: not a jbr state file",
        fleet.path("last-run.json").display()
    )));
    assert!(errors[1].starts_with("jbr: server web-00: getDestination: cannot connect"));

    let v = fleet.jbr(&["status", "--json"]).json();
    assert_eq!(v["ok"], false);
    assert_eq!(v["servers"][0]["server"], "web-00");
    assert_eq!(v["servers"][0]["reachable"], false);
    assert_eq!(v["servers"][1]["reachable"], true);
}

#[test]
fn unknown_server_is_a_usage_error() {
    let fleet = standard_fleet();
    let run = fleet.jbr(&["status", "--server", "web"]);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stderr.contains("(known: web-01, web-02)"), "{run}");
    assert_eq!(run.stdout, "");
}

/// A server that connects but whose every answer fails (a broken `jetbackup5api`): the table
/// must say the state is unknown, never "disabled" or "no active backup group".
#[test]
fn answers_that_fail_show_unknown_not_a_guess() {
    let broken = json!({ "web-00": {
        "host": "127.0.0.1",
        "destination_id": DEST1,
        "local_command": ["false"],
    }});
    let jobs = json!([
        { "job_id": "6a5e07000000000000000009", "server": "web-00", "label": "broken" },
        { "job_id": JOB_A, "server": "web-01", "label": "accounts" },
    ]);
    let fleet = cli_fleet(standard_world(), jobs, broken);
    let run = fleet.jbr(&["status"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.line("web-00 destination")
            .ends_with("UNKNOWN (could not be read)"),
        "{run}"
    );
    assert!(
        run.line("web-00 job")
            .ends_with("UNKNOWN (could not be read)"),
        "{run}"
    );
    assert!(
        run.line("web-00 queue")
            .ends_with("UNKNOWN (could not be read)"),
        "{run}"
    );
    assert!(!run.stdout.contains("web-00 queue no active"), "{run}");
    let v = fleet.jbr(&["status", "--json"]).json();
    assert_eq!(v["servers"][0]["queue_known"], false);
    assert_eq!(v["servers"][0]["destination"]["disabled"], Value::Null);
}

/// Issue 11, item 3: a run that holds the lock is shown with its pid, host, start, how long it
/// has held the lock, its command line and the job the journal shows it on. Once it releases the
/// lock, nothing is shown.
#[test]
fn a_run_in_progress_is_named_with_the_job_it_is_on() {
    let fleet = standard_fleet();
    let guard = jbr::lock::acquire(&fleet.path("jbr.lock")).unwrap();
    let mut j = Journal::open(&fleet.path("last-run.json.journal"), "run-busy").unwrap();
    j.write(support::lab::enable("web-01", Target::Destination, DEST1))
        .unwrap();
    j.write(support::lab::enable("web-01", Target::Job, JOB_A))
        .unwrap();

    let run = fleet.jbr(&["status"]);
    let line = run.line("run in progress:");
    let pid = std::process::id();
    assert!(
        line.starts_with(&format!("run in progress: pid {pid} on ")),
        "{run}"
    );
    assert!(line.contains(", since 20"), "{run}");
    assert!(
        line.ends_with(&format!("; on server web-01, job {JOB_A}")),
        "{run}"
    );
    let v = fleet.jbr(&["status", "--json"]).json();
    assert_eq!(v["run_in_progress"]["pid"], pid);
    assert_eq!(
        v["run_in_progress"]["on"],
        format!("server web-01, job {JOB_A}")
    );
    assert!(v["run_in_progress"]["held_secs"].as_f64().unwrap() >= 0.0);

    drop(guard);
    let run = fleet.jbr(&["status"]);
    assert!(
        !run.stdout.lines().any(|l| l.starts_with("run in progress")),
        "{run}"
    );
    assert_eq!(
        fleet.jbr(&["status", "--json"]).json()["run_in_progress"],
        Value::Null
    );
}

/// The history table's row that starts with `prefix`, whitespace runs as one space.
#[track_caller]
fn history_row(run: &support::bin::Run, prefix: &str) -> String {
    let table = run
        .stdout
        .split_once("\nhistory (")
        .unwrap_or_else(|| panic!("no history table in:\n{run}"))
        .1;
    let prefix = support::bin::words(prefix);
    table
        .lines()
        .map(support::bin::words)
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no history row {prefix:?} in:\n{run}"))
}

/// Issue 11, item 5: per configured job, the last run's outcome, the last success, the median
/// duration of the recent successful runs and a sparkline of the last 14 runs; `--json` has
/// the runs themselves.
#[test]
fn each_job_shows_its_history() {
    let fleet = standard_fleet();
    let t0 = 1_795_400_000.0;
    let mut st = State::default();
    // accounts: three good nights of about an hour, then a failure after 10 minutes, then a
    // night its server was skipped.
    let nights = [
        (Outcome::Completed, Some(3600.0)),
        (Outcome::Completed, Some(3900.0)),
        (Outcome::Completed, Some(4200.0)),
        (Outcome::Failed, Some(600.0)),
        (Outcome::Skipped, None),
    ];
    for (n, (outcome, secs)) in nights.into_iter().enumerate() {
        let start = t0 + n as f64 * 86_400.0;
        let mut record = RunRecord::new(&format!("r{n}"), start);
        let mut j = JobRecord::new("web-01", JOB_A, "accounts", outcome);
        if let Some(secs) = secs {
            j.start = Some(start + 60.0);
            j.end = Some(start + 60.0 + secs);
            j.duration_secs = Some(secs);
        }
        record.jobs.push(j);
        record.ended = start + 5000.0;
        st.record_run(&record);
    }
    state::save(&fleet.path("last-run.json"), &st).unwrap();

    let run = fleet.jbr(&["status"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(
        run.stdout.contains(
            "\nhistory (USUAL: median of the recent successful runs; LAST 14: durations, oldest first, scaled to the longest, · = did not run):\n"
        ),
        "{run}"
    );
    assert_eq!(
        run.line("SERVER  JOB  LAST RUN"),
        "SERVER JOB LAST RUN LAST SUCCESS USUAL LAST 14"
    );
    // The last success is the third night's end.
    let last_success = jbr::report::time::iso_utc(t0 + 2.0 * 86_400.0 + 60.0 + 4200.0);
    assert_eq!(
        history_row(&run, "web-01  6a5e…0001 \"accounts\""),
        format!("web-01 6a5e…0001 \"accounts\" skipped {last_success} 1h05m00s ▇██▂·")
    );
    assert_eq!(
        history_row(&run, "web-01  6a5e…0002 \"databases\""),
        "web-01 6a5e…0002 \"databases\" - - - -"
    );
    assert_eq!(
        history_row(&run, "web-02  6a5e…0001 \"files\""),
        "web-02 6a5e…0001 \"files\" - - - -"
    );

    let v = fleet.jbr(&["status", "--json"]).json();
    let h = &v["history"][0];
    assert_eq!(h["server"], "web-01");
    assert_eq!(h["job_id"], JOB_A);
    assert_eq!(h["last_outcome"], "skipped");
    assert_eq!(h["last_success"], t0 + 2.0 * 86_400.0 + 60.0 + 4200.0);
    assert_eq!(h["usual_duration_secs"], 3900.0);
    assert_eq!(h["sparkline"], "▇██▂·");
    let runs = h["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 5);
    assert_eq!(
        runs[3],
        json!({"start": t0 + 3.0 * 86_400.0 + 60.0, "duration_secs": 600.0, "outcome": "failed", "nas_written_bytes": null})
    );
    assert_eq!(runs[4]["start"], Value::Null);
    assert_eq!(v["history"][1]["last_outcome"], Value::Null);
    assert_eq!(v["history"][1]["runs"], json!([]));
    // --server narrows the history too.
    let v = fleet
        .jbr(&["status", "--server", "web-02", "--json"])
        .json();
    assert_eq!(v["history"].as_array().unwrap().len(), 1);
    assert_eq!(v["history"][0]["label"], "files");
}

/// A state file from before the history (a literal one, as the previous release wrote it) is
/// read as it was: the usual duration from its successful durations, no runs yet.
#[test]
fn a_state_file_from_before_the_history_is_shown() {
    let fleet = standard_fleet();
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/state/before-history.json"),
        fleet.path("last-run.json"),
    )
    .unwrap();
    let run = fleet.jbr(&["status"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(run.stderr, "", "{run}");
    assert!(
        run.line("last run:")
            .contains("2 job(s): 1 completed, 1 failed"),
        "{run}"
    );
    assert_eq!(
        history_row(&run, "web-01  6a5e…0001 \"accounts\""),
        "web-01 6a5e…0001 \"accounts\" - 2026-12-01T02:05:30Z 1h05m00s -"
    );
    let v = fleet.jbr(&["status", "--json"]).json();
    assert_eq!(v["history"][0]["usual_duration_secs"], 3900.0);
    assert_eq!(v["history"][0]["runs"], json!([]));
    assert_eq!(v["history"][2]["last_success"], 1_795_990_000.0);
}

/// Durations no run can have (hand-edited, or a bit flipped on the SD card) are drawn or left
/// out, never a panic; a value of the wrong type is the usual "not a jbr state file" error.
#[test]
fn absurd_history_values_do_not_break_status() {
    let fleet = standard_fleet();
    let key = format!("web-01/{JOB_A}");
    let runs = json!([
        {"start": 1e308, "duration_secs": 1e308, "outcome": "completed"},
        {"start": -1e308, "duration_secs": -5.0, "outcome": "failed", "nas_written_bytes": 18446744073709551615u64},
        {"duration_secs": 0.0, "outcome": "completed"},
    ]);
    let mut many = Vec::new();
    for _ in 0..10_000 {
        many.push(json!({"duration_secs": 60.0, "outcome": "completed"}));
    }
    many.extend(runs.as_array().unwrap().iter().cloned());
    let file = json!({"version": 1, "history": {
        key.clone(): {"first_seen": 0.0, "last_success": 1e308, "durations": [1e308, 1e308, 3.0], "runs": many},
    }});
    std::fs::write(fleet.path("last-run.json"), file.to_string()).unwrap();
    let run = fleet.jbr(&["status"]);
    assert_eq!(run.code, Some(0), "{run}");
    let row = history_row(&run, "web-01  6a5e…0001 \"accounts\"");
    assert!(
        row.starts_with("web-01 6a5e…0001 \"accounts\" completed "),
        "{run}"
    );
    // Eleven minute-long runs are a sliver of a 1e308 s one; the bad ones did not run.
    assert!(row.ends_with(" ▁▁▁▁▁▁▁▁▁▁▁█··"), "{run}");

    let bad = json!({"version": 1, "history": {
        key: {"first_seen": 0.0, "runs": [{"outcome": "completed", "nas_written_bytes": -1}]},
    }});
    std::fs::write(fleet.path("last-run.json"), bad.to_string()).unwrap();
    let run = fleet.jbr(&["status"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(run.stderr.contains("not a jbr state file"), "{run}");
    assert!(!run.stdout.contains("\nhistory"), "{run}");
}
