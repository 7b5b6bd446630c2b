//! The journal on real files: write-before-change records, torn tails, corruption, compaction,
//! idempotent reopen.

mod support;

use jbr::journal::{self, Journal, Op, OpenChange, Target};
use support::lab;
use support::lab::enable;

fn restored(server: &str, what: Target, id: &str) -> Op {
    Op::Restored {
        server: server.into(),
        what,
        id: id.into(),
    }
}

fn ids(open: &[OpenChange]) -> Vec<String> {
    open.iter()
        .map(|c| match c {
            OpenChange::Enabled {
                server, what, id, ..
            } => format!("enabled {server} {what:?} {id}"),
            OpenChange::Triggered {
                server, id, group, ..
            } => {
                format!(
                    "triggered {server} {id} {}",
                    group.as_deref().unwrap_or("?")
                )
            }
        })
        .collect()
}

#[test]
fn a_crash_mid_window_leaves_exactly_the_open_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state/last-run.json.journal");
    {
        let mut j = Journal::open(&path, "run-1").unwrap();
        lab::write_window_to_group(&mut j, "g1");
        j.write(Op::Ended {
            server: "web-01".into(),
            id: "j1".into(),
        })
        .unwrap();
        j.write(Op::Disable {
            server: "web-01".into(),
            what: Target::Job,
            id: "j1".into(),
        })
        .unwrap();
        j.write(restored("web-01", Target::Job, "j1")).unwrap();
        j.write(enable("web-01", Target::Job, "j2")).unwrap();
        j.write(Op::Trigger {
            server: "web-01".into(),
            id: "j2".into(),
            since: None,
        })
        .unwrap();
        // SIGKILL here: no Drop, no compaction.
        std::mem::forget(j);
    }
    let j = Journal::open(&path, "run-2").unwrap();
    assert_eq!(
        ids(&j.open_changes()),
        vec![
            "enabled web-01 Destination d1",
            "enabled web-01 Job j2",
            "triggered web-01 j2 ?"
        ]
    );
    // Each line is a JSON record carrying its run id.
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 9);
    assert!(text.lines().all(|l| l.contains("\"run\":\"run-1\"")));
}

#[test]
fn torn_last_line_is_dropped_and_cut_before_the_next_append() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j");
    {
        let mut j = Journal::open(&path, "run-1").unwrap();
        j.write(enable("web-01", Target::Job, "j1")).unwrap();
    }
    // Power cut mid-append: half a record, no newline.
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(br#"{"seq":2,"run":"run-1","time":1.0,"op":"ena"#);
    std::fs::write(&path, &bytes).unwrap();

    let loaded = journal::read(&path).unwrap();
    assert!(loaded.torn_tail);
    assert_eq!(loaded.records.len(), 1);

    let mut j = Journal::open(&path, "run-2").unwrap();
    j.write(restored("web-01", Target::Job, "j1")).unwrap();
    drop(j);
    let loaded = journal::read(&path).unwrap();
    assert!(
        !loaded.torn_tail,
        "the torn tail was cut off before appending"
    );
    assert_eq!(loaded.records.len(), 2);
    assert!(journal::open_changes(&loaded.records).is_empty());
}

#[test]
fn a_complete_but_garbled_last_line_counts_as_torn() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j");
    std::fs::write(&path, b"\0\0\0\0\n").unwrap();
    let j = Journal::open(&path, "run-1").unwrap();
    assert!(j.open_changes().is_empty());
    assert_eq!(std::fs::read(&path).unwrap(), b"");
}

#[test]
fn garbage_before_the_last_line_is_refused_with_its_line_number() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jbr.journal");
    {
        let mut j = Journal::open(&path, "run-1").unwrap();
        j.write(enable("web-01", Target::Job, "j1")).unwrap();
        j.write(enable("web-01", Target::Job, "j2")).unwrap();
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.insert(1, "not json at all");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let err = Journal::open(&path, "run-2").unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("jbr.journal: line 2: not a journal record"),
        "{msg}"
    );
    assert!(msg.contains("check the servers by hand"), "{msg}");
    // Refused, not repaired: the file is untouched for the operator.
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        lines.join("\n") + "\n"
    );
}

#[test]
fn compaction_keeps_only_open_records_and_empties_when_all_undone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j");
    let mut j = Journal::open(&path, "run-1").unwrap();
    lab::write_window_to_group(&mut j, "g7");
    j.write(restored("web-01", Target::Job, "j1")).unwrap();
    j.compact().unwrap();
    let before = ids(&j.open_changes());
    assert_eq!(
        before,
        vec!["enabled web-01 Destination d1", "triggered web-01 j1 g7"]
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 3);
    // Appends after compaction go to the new file.
    j.write(Op::Ended {
        server: "web-01".into(),
        id: "j1".into(),
    })
    .unwrap();
    j.write(restored("web-01", Target::Destination, "d1"))
        .unwrap();
    assert!(j.open_changes().is_empty());
    j.compact().unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"");
    // No temp file left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("j")]);
    // Sequence numbers keep growing across compaction and reopen.
    drop(j);
    let mut j = Journal::open(&path, "run-2").unwrap();
    assert_eq!(j.write(enable("web-01", Target::Job, "j1")).unwrap(), 1);
}

#[test]
fn reopening_is_idempotent_and_enable_twice_keeps_the_oldest_previous_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j");
    {
        let mut j = Journal::open(&path, "run-1").unwrap();
        j.write(enable("web-01", Target::Job, "j1")).unwrap();
        j.write(Op::Enable {
            server: "web-01".into(),
            what: Target::Job,
            id: "j1".into(),
            previous_disabled: false,
            since: None,
        })
        .unwrap();
    }
    let a = Journal::open(&path, "run-2").unwrap().open_changes();
    let b = Journal::open(&path, "run-3").unwrap().open_changes();
    assert_eq!(a, b);
    assert_eq!(a.len(), 1);
    assert!(
        matches!(&a[0], OpenChange::Enabled { previous_disabled: true, run, .. } if run == "run-1")
    );
}

/// A journal written before `trigger` carried `since` (issue 9) still reads, and a trigger it
/// saw end is listed as finished; a new record without `since` reads in an old reader's shape.
#[test]
fn journals_from_before_trigger_since_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j");
    std::fs::write(
        &path,
        concat!(
            r#"{"seq":1,"run":"old","time":0.0,"op":"trigger","server":"web-01","id":"j1"}"#,
            "\n",
            r#"{"seq":2,"run":"old","time":0.0,"op":"group","server":"web-01","id":"j1","group":"g1"}"#,
            "\n",
            r#"{"seq":3,"run":"old","time":0.0,"op":"ended","server":"web-01","id":"j1"}"#,
            "\n",
            r#"{"seq":4,"run":"old","time":0.0,"op":"trigger","server":"web-01","id":"j2"}"#,
            "\n",
        ),
    )
    .unwrap();
    let j = Journal::open(&path, "new").unwrap();
    assert_eq!(ids(&j.open_changes()), vec!["triggered web-01 j2 ?"]);
    let done = j.finished_triggers();
    assert_eq!(done.len(), 1);
    assert_eq!(
        (
            done[0].id.as_str(),
            done[0].group.as_deref(),
            done[0].since.as_deref()
        ),
        ("j1", Some("g1"), None)
    );
    let line = serde_json::to_string(&Op::Trigger {
        server: "web-01".into(),
        id: "j3".into(),
        since: None,
    })
    .unwrap();
    assert_eq!(line, r#"{"op":"trigger","server":"web-01","id":"j3"}"#);
}

fn done(server: &str, id: &str, in_run: &str, group: &str) -> Op {
    let mut record = jbr::report::JobRecord::new(server, id, "", jbr::report::Outcome::Completed);
    record.group_id = Some(group.into());
    Op::Done {
        server: server.into(),
        id: id.into(),
        in_run: in_run.into(),
        run_started: 1_795_000_000.0,
        record: Box::new(record),
    }
}

/// What a night completed survives the replay's compaction (a second crash still resumes) and
/// is dropped by a run's final one (its night is over); it opens nothing, and the newest entry
/// of a job wins.
#[test]
fn done_entries_outlive_the_replay_and_end_with_the_night() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("last-run.json.journal");
    {
        let mut j = Journal::open(&path, "run-1").unwrap();
        j.write(enable("web-01", Target::Job, "a")).unwrap();
        j.write(done("web-01", "a", "run-1", "g1")).unwrap();
        j.write(done("web-01", "a", "run-1", "g2")).unwrap();
        j.write(done("web-01", "b", "run-1", "g3")).unwrap();
        j.write(Op::NoDisableWhileRunning {
            server: "web-02".into(),
            why: "job c: aborted".into(),
        })
        .unwrap();
    }
    let mut j = Journal::open(&path, "run-2").unwrap();
    assert_eq!(ids(&j.open_changes()), ["enabled web-01 Job a"]);
    let completed = j.completed();
    let groups: Vec<_> = completed
        .iter()
        .map(|c| (c.id.as_str(), c.record.group_id.as_deref().unwrap()))
        .collect();
    assert_eq!(groups, [("a", "g2"), ("b", "g3")]);
    assert!(j.first_time("run-1").is_some());
    assert_eq!(j.first_time("run-9"), None);

    j.write(restored("web-01", Target::Job, "a")).unwrap();
    j.compact_keeping_completed().unwrap();
    let j2 = Journal::open(&path, "run-3").unwrap();
    assert!(j2.open_changes().is_empty());
    assert_eq!(j2.completed().len(), 2, "kept by the replay's compaction");
    assert_eq!(
        j2.no_disable_while_running(),
        [("web-02".into(), "job c: aborted".into(), "run-1".into())],
        "a server that aborts disabled jobs' runs is remembered through a second crash"
    );

    j.compact().unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"", "the night is over");
}
