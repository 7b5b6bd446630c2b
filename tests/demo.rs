//! `jbr demo` as a user runs it: the real binary, its stdout (a pipe, so plain lines), its exit
//! code. The simulator's check line comes from the simulated servers' timeline and final state,
//! so these tests hold jbr to its invariants, not to its own account of them.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::bin::{self, Run};

/// Runs `jbr ARGS` with `TMPDIR` pointed at `tmp` (a hung demo fails the test instead of
/// hanging it).
fn jbr_in(tmp: &Path, args: &[&str]) -> Run {
    bin::jbr().args(args).env("TMPDIR", tmp).run()
}

fn jbr(args: &[&str]) -> Run {
    let tmp = tempfile::tempdir().unwrap();
    jbr_in(tmp.path(), args)
}

const CHECK_OK: &str =
    "simulator check: max concurrent NAS writers: 1; left enabled: nothing; still running: nothing";

/// The job table's rows: lines that start with two spaces and a server name (not `web-01:`).
fn rows(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter(|l| {
            l.starts_with("  web-")
                && l.split_whitespace()
                    .next()
                    .is_some_and(|s| !s.ends_with(':'))
        })
        .collect()
}

#[test]
fn demo_runs_every_job_and_the_simulator_agrees() {
    let tmp = tempfile::tempdir().unwrap();
    let r = jbr_in(tmp.path(), &["demo"]);
    assert_eq!(r.code, Some(0), "{}\n{}", r.stdout, r.stderr);
    let out = &r.stdout;
    assert!(out.contains("6 job(s): 6 completed"), "{out}");
    let table = rows(out);
    assert_eq!(table.len(), 6, "{out}");
    for (row, server) in table
        .iter()
        .zip(["web-01", "web-01", "web-02", "web-02", "web-03", "web-03"])
    {
        assert!(row.contains(server) && row.contains(" completed "), "{row}");
    }
    // The live progress, as plain lines: server, job label, state, simulated time.
    assert!(out.contains("web-02  accounts  processing"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("web-03  databases  completed  ")),
        "{out}"
    );
    // The report comes after the progress, the simulator's check last.
    let report = out.find("jbr run ").expect("report headline");
    assert!(out[..report].contains("web-01  pre-flight"), "{out}");
    assert_eq!(out.lines().last(), Some(CHECK_OK), "{out}");
    assert!(out.contains("\nexit 0\n"), "{out}");
    // The state file remembers earlier nights: every row has its usual duration, and the
    // line an ETA.
    assert!(
        out.contains("the state file remembers 14 earlier simulated nights"),
        "{out}"
    );
    assert!(table.iter().all(|row| row.contains(" (usual ")), "{out}");
    assert!(
        out[..report]
            .lines()
            .any(|l| l.starts_with("web-01  accounts  processing  30s  ETA ")),
        "{out}"
    );
    // Issue 11, item 5: a `still processing` line is never followed by the state it repeats.
    let progress: Vec<&str> = out[..report].lines().collect();
    for pair in progress.windows(2) {
        let job = |l: &str| l.split("  ").take(2).collect::<Vec<_>>().join("  ");
        let state = |l: &str| l.split("  ").nth(2).unwrap_or("").to_string();
        assert!(
            !(state(pair[0]).starts_with("still ")
                && job(pair[0]) == job(pair[1])
                && state(pair[1]) == state(pair[0])["still ".len()..]),
            "{pair:?} in\n{out}"
        );
    }
    assert!(out.contains("  still processing  "), "{out}");
    // Not a terminal: no carriage returns, no escape codes.
    assert!(!out.contains('\r') && !out.contains('\x1b'), "{out:?}");
    // The demo's lock, state and journal went into its own temp dir, which is gone.
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    eprintln!("jbr demo: {:?} wall", r.took);
}

#[test]
fn faults_show_each_outcome_and_the_invariants_still_hold() {
    let tmp = tempfile::tempdir().unwrap();
    let r = jbr_in(tmp.path(), &["demo", "--faults"]);
    assert_eq!(r.code, Some(1), "{}\n{}", r.stdout, r.stderr);
    let out = &r.stdout;
    assert!(out.contains("faults mixed in:"), "{out}");
    assert!(
        out.contains("2 completed, 1 failed, 1 timed out, aborted, 2 skipped"),
        "{out}"
    );
    let table = rows(out);
    let row = |server: &str, job: &str| {
        table
            .iter()
            .find(|l| l.contains(server) && l.contains(&format!("\"{job}\"")))
            .copied()
            .unwrap_or_else(|| panic!("no row for {server} {job}:\n{out}"))
    };
    // The failed job.
    assert!(row("web-01", "accounts").contains(" failed "), "{out}");
    // A hung job stands out against its usual duration.
    assert!(
        row("web-01", "databases").contains(" 4h00m20s (usual 13m48s) "),
        "{out}"
    );
    // Its destination was fine: the items must not read as if jbr had broken it.
    assert!(
        out.contains("      - account1: Backup failed: simulated failure (rsync exit 23)\n"),
        "{out}"
    );
    assert!(!out.contains("destination is disabled"), "{out}");
    // The hang: aborted at job_timeout, and the stop confirmed before anything else started.
    assert!(
        row("web-01", "databases").contains(" timed out, aborted "),
        "{out}"
    );
    assert!(
        out.contains("no final state after its timeout 14400 s; sent stopQueueGroup"),
        "{out}"
    );
    assert!(
        out.contains("stop queue group") && out.contains("confirmed: final status"),
        "{out}"
    );
    // Flaky polls were retried, never taken as the end of the job.
    assert!(out.contains("poll(s) failed and were retried"), "{out}");
    // The busy server: jbr waited for the backup it did not start.
    assert!(
        out.contains("web-02: a backup jbr did not start") && out.contains("jbr waited"),
        "{out}"
    );
    assert!(row("web-02", "accounts").contains(" completed "), "{out}");
    // The destination someone else disabled: that server is skipped, with the reason.
    assert!(
        out.contains("web-03: SKIPPED: destination")
            && out.contains("is disabled by someone else (skip_if_disabled"),
        "{out}"
    );
    assert!(row("web-03", "accounts").contains(" skipped "), "{out}");
    assert!(out.contains("\nexit 1\n"), "{out}");
    assert_eq!(out.lines().last(), Some(CHECK_OK), "{out}");
    assert!(!out.contains('\r') && !out.contains('\x1b'), "{out:?}");
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    eprintln!("jbr demo --faults: {:?} wall", r.took);
}

#[test]
fn absurd_sizes_are_usage_errors() {
    for (args, needle) in [
        (&["demo", "--servers", "0"][..], "--servers"),
        (&["demo", "--servers", "101"][..], "--servers"),
        (&["demo", "--jobs", "0"][..], "--jobs"),
        (&["demo", "--jobs", "1000000"][..], "--jobs"),
        (&["demo", "--servers", "many"][..], "--servers"),
        (
            &["demo", "--faults", "--servers", "2"][..],
            "--faults needs at least 3 servers",
        ),
    ] {
        let r = jbr(args);
        assert_eq!(r.code, Some(2), "{args:?}: {}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains(needle), "{args:?}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{args:?}: {}", r.stdout);
    }
}

#[test]
fn no_config_is_needed() {
    let r = jbr(&[
        "-c",
        "/nonexistent/config.json",
        "demo",
        "--servers",
        "1",
        "--jobs",
        "1",
    ]);
    assert_eq!(r.code, Some(0), "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("1 job(s): 1 completed"), "{}", r.stdout);
}

#[test]
fn help_reads_well() {
    let r = jbr(&["demo", "--help"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let help = r.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    for needle in [
        "the real `run` against built-in simulated servers",
        "Needs no config file (-c is ignored)",
        "writes nothing outside a temporary directory it removes",
        "the most NAS writers at once (must be 1)",
        "--servers <N> Simulated servers (1-100) [default: 3]",
        "--jobs <N> Jobs per server (1-20) [default: 2]",
        "--faults Mix in faults",
        "Exit status:",
    ] {
        assert!(
            help.contains(needle),
            "missing {needle:?} in:\n{}",
            r.stdout
        );
    }
    // And it is listed in the top-level help.
    let top = jbr(&["--help"]);
    assert!(top.stdout.contains("demo"), "{}", top.stdout);
}

#[test]
fn ctrl_c_cancels_like_a_real_run_and_cleans_up() {
    let tmp = tempfile::tempdir().unwrap();
    // 500 jobs take seconds even in a release build: SIGINT lands mid-run.
    let running = bin::jbr()
        .args(["demo", "--servers", "50", "--jobs", "10"])
        .env("TMPDIR", tmp.path())
        .bound(Duration::from_secs(60))
        .spawn();
    // Once progress shows, the run (and its signal handler) is under way.
    let waiting = Instant::now();
    while !running.stdout_so_far().contains("pre-flight") {
        assert!(waiting.elapsed() < Duration::from_secs(60), "no progress");
        std::thread::sleep(Duration::from_millis(10));
    }
    running.signal(libc::SIGINT);
    let run = running.wait();
    let (status, stdout) = (run.status, run.stdout);
    assert_eq!(status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("— CANCELLED"), "{stdout}");
    assert!(stdout.contains(" not started"), "{stdout}");
    assert_eq!(stdout.lines().last(), Some(CHECK_OK), "{stdout}");
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

/// On a terminal (a pty from util-linux `script`): one line rewritten in place, each job's
/// outcome kept on a line of its own.
#[test]
fn terminal_gets_a_rewritten_line() {
    if !support::tools::available("script", "(util-linux) to provide a terminal") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let cmd = format!("{} demo", env!("CARGO_BIN_EXE_jbr"));
    let r = jbr_pty(tmp.path(), &cmd);
    assert!(
        r.contains("\r\x1b[2Kweb-01  accounts  processing  30s"),
        "{r:?}"
    );
    assert!(
        r.contains("\r\x1b[2Kweb-03  databases  completed  "),
        "{r:?}"
    );
    // Only outcomes end a progress line: no "processing" line survives on its own.
    let progress = &r[..r.find("simulated ").unwrap()];
    for line in progress.split('\n').skip(2) {
        let shown = line.rsplit("\x1b[2K").next().unwrap_or("");
        assert!(
            shown.trim().is_empty() || shown.contains("  completed  "),
            "{shown:?} in {r:?}"
        );
    }
    assert!(r.contains(CHECK_OK), "{r:?}");
}

fn jbr_pty(tmp: &Path, cmd: &str) -> String {
    let out = Command::new("timeout")
        .args(["120", "script", "-qec", cmd, "/dev/null"])
        .env("TMPDIR", tmp)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}
