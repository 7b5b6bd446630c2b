//! The run record: exit codes, the text a user reads, JSON, and the atomic state file.

use jbr::exit::Exit;
use jbr::report::state::{self, State};
use jbr::report::{self, Action, Alert, AlertKind, Critical, JobRecord, Outcome, RunRecord};

const T0: f64 = 1_795_000_000.0; // 2026-11-18T...

fn job(server: &str, id: &str, outcome: Outcome) -> JobRecord {
    JobRecord::new(server, id, "", outcome)
}

fn record(jobs: Vec<JobRecord>) -> RunRecord {
    let mut r = RunRecord::new("r1", T0);
    r.ended = T0 + 3723.0;
    r.jobs = jobs;
    r
}

#[test]
fn exit_code_follows_the_contract() {
    use Outcome::*;
    assert_eq!(record(vec![]).exit(), Exit::Ok);
    assert_eq!(
        record(vec![job("a", "1", Completed), job("a", "2", Warnings)]).exit(),
        Exit::Ok
    );
    assert_eq!(
        record(vec![
            job("a", "1", Completed),
            job("a", "2", DisabledInConfig)
        ])
        .exit(),
        Exit::Ok
    );
    for bad in [
        Partial,
        Failed,
        TimedOutAborted,
        NotStarted,
        Skipped,
        MissingOnServer,
    ] {
        assert_eq!(
            record(vec![job("a", "1", Completed), job("a", "2", bad)]).exit(),
            Exit::JobsFailed,
            "{bad:?}"
        );
    }
    let mut r = record(vec![job("a", "1", Completed)]);
    r.cancelled = true;
    assert_eq!(r.exit(), Exit::JobsFailed);
    r.critical.push(Critical {
        server: "a".into(),
        what: "job".into(),
        id: "1".into(),
        message: "x".into(),
    });
    assert_eq!(r.exit(), Exit::Critical);
}

fn night() -> RunRecord {
    let mut done = JobRecord::new(
        "web-01",
        "6508e9aed49adbd1660f06d9",
        "accounts",
        Outcome::Completed,
    );
    done.group_id = Some("6600aaaabbbbccccddddeeee".into());
    done.start = Some(T0 + 60.0);
    done.end = Some(T0 + 60.0 + 723.0);
    done.duration_secs = Some(723.0);
    done.status_raw = Some(100);
    done.status_name = Some("completed".into());
    done.items_failed = Some(0);
    done.items_total = Some(12);
    let mut failed = JobRecord::new("web-02", "6508e9aed49adbd1660f0777", "", Outcome::Failed);
    failed.status_raw = Some(104);
    failed.status_name = Some("failed".into());
    failed.items_failed = Some(2);
    failed.items_total = Some(3);
    failed.failures = vec!["alice: disk quota exceeded".into(), "bob: timeout".into()];
    failed.message = "finished with status 104 (failed); 2 of 3 items failed".into();
    let skipped = job("web-03", "c1", Outcome::Skipped)
        .with_message("destination d3 is disabled by someone else (skip_if_disabled)");
    let mut r = record(vec![done, failed, skipped]);
    let s = r.server_mut("web-01");
    s.destination_method = Some("manageDestinationState".into());
    s.actions.push(Action {
        time: T0 + 30.0,
        what: "enable destination d1".into(),
        result: "read back: enabled".into(),
        ok: true,
    });
    r.server_mut("web-03").skipped = Some("destination d3 is disabled by someone else".into());
    r.alerts.push(Alert {
        kind: AlertKind::UnconfiguredJob,
        server: Some("web-02".into()),
        job_id: Some("zz".into()),
        message:
            "server web-02: job zz \"mail\" targets the NAS destination but is not in the config"
                .into(),
    });
    r
}

#[test]
fn text_report_has_a_headline_aligned_rows_details_and_exit() {
    let text = report::text::render(&night());
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("jbr run r1 from 2026-11-18T")
            && lines[0].ends_with("(1h02m03s): 3 job(s): 1 completed, 1 failed, 1 skipped"),
        "{text}"
    );
    let header = lines
        .iter()
        .position(|l| l.trim_start().starts_with("SERVER"))
        .unwrap();
    let rows = &lines[header..header + 4];
    // Every column starts at the same place on every row.
    let col = |l: &str, word: &str| l[..l.find(word).unwrap()].chars().count();
    assert_eq!(col(rows[0], "OUTCOME"), col(rows[1], "completed"));
    assert_eq!(col(rows[0], "OUTCOME"), col(rows[2], "failed"));
    assert_eq!(col(rows[0], "STATUS"), col(rows[1], "100 completed"));
    assert!(rows[1].contains("6508…06d9 \"accounts\""), "{text}");
    assert!(rows[1].contains("12/12 ok"), "{text}");
    assert!(rows[1].contains("12m03s"), "{text}");
    assert!(rows[2].contains("1/3 ok"), "{text}");
    assert!(text.contains(" ! server web-02, job 6508…0777: finished with status 104 (failed); 2 of 3 items failed\n      - alice: disk quota exceeded\n      - bob: timeout\n"), "{text}");
    assert!(
        text.contains("  web-03: SKIPPED: destination d3 is disabled by someone else\n"),
        "{text}"
    );
    assert!(
        text.contains("  web-01: (destination via manageDestinationState)\n"),
        "{text}"
    );
    assert!(
        text.contains("ok   enable destination d1: read back: enabled"),
        "{text}"
    );
    assert!(
        text.contains("alerts:\n  ! server web-02: job zz \"mail\" targets the NAS destination"),
        "{text}"
    );
    assert!(text.ends_with("\nexit 1\n"), "{text}");
    assert!(!text.contains("CRITICAL"));
}

#[test]
fn critical_leftovers_come_first_and_say_what_to_do() {
    let mut r = night();
    r.critical.push(Critical {
        server: "web-01".into(),
        what: "job".into(),
        id: "6508e9aed49adbd1660f06d9".into(),
        message: "job 6508e9aed49adbd1660f06d9 on server web-01 is ENABLED, disable it by hand"
            .into(),
    });
    let text = report::text::render(&r);
    let crit = text.find("CRITICAL — act now:\n  job 6508e9aed49adbd1660f06d9 on server web-01 is ENABLED, disable it by hand").unwrap();
    assert!(crit < text.find("SERVER").unwrap());
    assert!(text.ends_with("\nexit 4\n"));
}

#[test]
fn json_round_trips() {
    let r = night();
    let json = report::to_json(&r);
    let back: RunRecord = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["jobs"][0]["outcome"], "completed");
    assert_eq!(v["jobs"][1]["status_raw"], 104);
    assert_eq!(v["jobs"][2]["outcome"], "skipped");
}

#[test]
fn state_file_is_written_atomically_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("var/lib/jbr/last-run.json");
    assert_eq!(state::load(&path).unwrap(), State::default());

    let mut s = State::default();
    s.note_destination("web-01", "d1", true);
    s.note_job("web-01", "j1", true);
    s.record_run(&night());
    state::save(&path, &s).unwrap();
    let back = state::load(&path).unwrap();
    assert_eq!(back, s);
    assert!(back.jbr_disabled_destination("web-01", "d1"));
    assert!(!back.jbr_disabled_destination("web-02", "d1"));
    assert!(back.jbr_disabled_job("web-01", "j1"));

    // jbr enabled it again: finding it disabled later is someone else's doing.
    let mut s = back;
    s.note_destination("web-01", "d1", false);
    assert!(!s.jbr_disabled_destination("web-01", "d1"));

    // Overwrite: only the final file remains, no temp files.
    state::save(&path, &s).unwrap();
    let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, vec!["last-run.json".to_string()]);
}

#[test]
fn a_corrupt_state_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("last-run.json");
    std::fs::write(&path, "{ half").unwrap();
    let err = state::load(&path).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!(
            "state file {}: not a jbr state file:",
            path.display()
        )),
        "{err}"
    );
}

#[test]
fn history_drives_no_recent_success_alerts() {
    let day = 86_400.0;
    let mut s = State::default();
    let mut ok = job("web-01", "j1", Outcome::Completed);
    ok.end = Some(T0);
    let never = job("web-01", "j2", Outcome::Failed);
    let mut r = record(vec![ok, never]);
    r.started = T0 - 10.0;
    s.record_run(&r);
    // A later failure does not move last_success.
    s.record_run(&record(vec![job("web-01", "j1", Outcome::Failed)]));

    let jobs = vec![
        ("web-01".to_string(), "j1".to_string()),
        ("web-01".to_string(), "j2".to_string()),
        ("web-01".to_string(), "new".to_string()),
    ];
    assert!(s.stale_jobs(&jobs, 3.0, T0 + 2.0 * day).is_empty());
    let alerts = s.stale_jobs(&jobs, 3.0, T0 + 4.0 * day);
    let msgs: Vec<&str> = alerts.iter().map(|a| a.message.as_str()).collect();
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    assert!(
        msgs[0].starts_with(
            "server web-01, job j1: no successful run for 4.0 days (last success 2026-"
        ),
        "{msgs:?}"
    );
    assert!(
        msgs[1].starts_with(
            "server web-01, job j2: no successful run since jbr first ran it 4.0 days ago"
        ),
        "{msgs:?}"
    );
    assert!(alerts.iter().all(|a| a.kind == AlertKind::NoRecentSuccess));
}

/// Issue 11, item 5: a state file written before jbr kept its runs (a literal one, as the
/// previous release wrote it) loads, keeps every value, and keeps its meaning.
#[test]
fn a_state_file_from_before_the_run_history_loads_unchanged() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/state/before-history.json");
    let old = state::load(&path).unwrap();
    let a = "6a5e070000000000000a0001";
    let c = "6a5e070000000000000c0001";
    let h = old.job_history("web-01", a).unwrap();
    assert_eq!(h.durations, [3600.0, 4200.0, 3900.0]);
    assert!(h.runs.is_empty());
    assert_eq!(old.usual_duration("web-01", a), Some(3900.0));
    assert_eq!(old.usual_duration("web-02", c), None);
    assert!(old.jbr_disabled_destination("web-01", "6a5e070000000000000d0001"));
    let last = old.last_run.as_ref().unwrap();
    assert_eq!(last.jobs[1].outcome, Outcome::Failed);
    assert_eq!(last.jobs[0].usual_duration_secs, None);
    assert_eq!(last.jobs[0].nas_written_bytes, None);

    // Written back, every old value is there as it was; only the record's new fields appear,
    // as nulls.
    let mut written = serde_json::to_value(&old).unwrap();
    for j in written["last_run"]["jobs"].as_array_mut().unwrap() {
        let j = j.as_object_mut().unwrap();
        for new in ["usual_duration_secs", "nas_written_bytes"] {
            assert_eq!(j.remove(new), Some(serde_json::Value::Null), "{new}");
        }
    }
    let literal: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(written, literal);

    // The next run joins both: the successful durations (the usual duration's source, which
    // an older jbr still reads) and the new ring of runs.
    let mut s = old;
    let mut done = job("web-01", a, Outcome::Completed);
    done.start = Some(T0);
    done.duration_secs = Some(4000.0);
    s.record_run(&record(vec![done]));
    let h = s.job_history("web-01", a).unwrap();
    assert_eq!(h.durations, [3600.0, 4200.0, 3900.0, 4000.0]);
    assert_eq!(h.runs.len(), 1);
    assert_eq!(s.usual_duration("web-01", a), Some(3950.0));
}

/// The ring keeps 30 runs of any outcome; the usual duration stays the median of the last 7
/// *successful* ones, however many runs failed since.
#[test]
fn history_keeps_30_runs_and_the_usual_duration_counts_only_successes() {
    let mut s = State::default();
    for night in 0..40 {
        let ok = night % 3 != 0;
        let mut j = job(
            "web-01",
            "j1",
            if ok {
                Outcome::Completed
            } else {
                Outcome::Failed
            },
        );
        j.start = Some(T0 + f64::from(night) * 86_400.0);
        // Successes take 600..=639 s; failures run for hours.
        j.duration_secs = Some(if ok { 600.0 + f64::from(night) } else { 9000.0 });
        s.record_run(&record(vec![j]));
    }
    s.record_run(&record(vec![job("web-01", "j1", Outcome::Skipped)]));
    let h = s.job_history("web-01", "j1").unwrap();
    assert_eq!(h.runs.len(), jbr::report::history::RUNS_KEPT);
    let last = h.last_run().unwrap();
    assert_eq!(
        (last.outcome, last.start, last.duration_secs),
        (Outcome::Skipped, None, None)
    );
    assert_eq!(h.runs[0].start, Some(T0 + 11.0 * 86_400.0), "oldest first");
    // The last 7 successes: nights 29, 31, 32, 34, 35, 37, 38.
    assert_eq!(
        h.durations,
        [629.0, 631.0, 632.0, 634.0, 635.0, 637.0, 638.0]
    );
    assert_eq!(s.usual_duration("web-01", "j1"), Some(634.0));

    // And it survives the file.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("last-run.json");
    state::save(&path, &s).unwrap();
    assert_eq!(state::load(&path).unwrap(), s);
}

#[test]
fn the_report_row_shows_the_usual_duration_beside_tonights() {
    let mut r = night();
    r.jobs[0].usual_duration_secs = Some(3900.0);
    // A job that never started has no duration to compare.
    r.jobs[2].usual_duration_secs = Some(60.0);
    let text = report::text::render(&r);
    let lines: Vec<&str> = text.lines().collect();
    let header = lines.iter().position(|l| l.contains("DURATION")).unwrap();
    let rows = &lines[header..header + 4];
    assert!(rows[1].contains(" 12m03s (usual 1h05m00s) "), "{text}");
    let col = |l: &str, word: &str| l[..l.find(word).unwrap()].chars().count();
    assert_eq!(
        col(rows[0], "STATUS"),
        col(rows[1], "100 completed"),
        "{text}"
    );
    assert_eq!(col(rows[0], "STATUS"), col(rows[2], "104 failed"), "{text}");
    assert!(!rows[3].contains("usual"), "{text}");
    // JSON carries the same figure.
    let v: serde_json::Value = serde_json::from_str(&report::to_json(&r)).unwrap();
    assert_eq!(v["jobs"][0]["usual_duration_secs"], 3900.0);
    assert_eq!(v["jobs"][1]["usual_duration_secs"], serde_json::Value::Null);
    assert_eq!(v["jobs"][0]["nas_written_bytes"], serde_json::Value::Null);
}
