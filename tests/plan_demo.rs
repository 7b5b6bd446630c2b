//! `jbr demo`: the real orchestrator on built-in simulated servers, from the real binary.
//! Done when (issue 5): each runs in under 10 s of wall time and prints a clear report with
//! "max concurrent NAS writers: 1".

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `jbr demo ARGS`, killed after 60 s so a hang fails the test instead of stalling it.
fn demo(args: &[&str]) -> (Option<i32>, String, Duration) {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_jbr"))
        .arg("demo")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("jbr demo {args:?} still running after 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (status.code(), reader.join().unwrap(), started.elapsed())
}

#[test]
fn demo_runs_a_clean_night_in_seconds() {
    let (code, out, took) = demo(&[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(out.contains(": 6 job(s): 6 completed\n"), "{out}");
    assert!(
        out.ends_with(
            "simulator check: max concurrent NAS writers: 1; left enabled: none; still running: none\n"
        ),
        "{out}"
    );
    // Not a terminal: plain progress lines, one per new state, with labels.
    assert!(out.starts_with("[web-01] pre-flight (0s)\n"), "{out}");
    assert!(out.contains("[web-01] accounts: processing ("), "{out}");
}

#[test]
fn demo_with_faults_shows_each_fault_handled_and_still_one_writer() {
    let (code, out, took) = demo(&["--faults"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    for expected in [
        "1 failed",
        "1 timed out, aborted",
        "2 skipped",
        "stop queue group",
        "confirmed: final status 103 (aborted)",
        "is disabled by someone else (skip_if_disabled; --force-activate to run anyway)",
        "was writing to the NAS; jbr waited",
        "poll(s) failed and were retried",
        "max concurrent NAS writers: 1; left enabled: none; still running: none",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
}

#[test]
fn demo_json_and_sizes() {
    let (code, out, _) = demo(&["--servers", "5", "--jobs", "4", "--json"]);
    assert_eq!(code, Some(0));
    // Nothing but one JSON document on stdout.
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["record"]["jobs"].as_array().unwrap().len(), 20);
    assert_eq!(v["simulator"]["max_concurrent_nas_writers"], 1);
    assert_eq!(v["simulator"]["left_enabled"], serde_json::json!([]));

    let (code, _, _) = demo(&["--servers", "0"]);
    assert_eq!(code, Some(2));
}
