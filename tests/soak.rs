//! `jbr-sim soak` as CI runs it (issue 9): 2,000 seeded nights of the real orchestrator checked
//! on the simulator's ground truth, alone in its test binary so that its time budget is its own
//! (the stories and the output contract are in `soak_story.rs`).

use std::process::{Command, Output};
use std::time::Instant;

fn soak(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_jbr-sim"))
        .arg("soak")
        .args(args)
        .output()
        .expect("run jbr-sim soak");
    if !out.status.success() {
        eprintln!(
            "jbr-sim soak {args:?}: {}\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

fn last_line(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or("")
        .to_string()
}

/// The CI soak: 2,000 nights on fixed seeds, in well under two minutes.
#[test]
fn two_thousand_nights_break_no_invariant() {
    let started = Instant::now();
    let out = soak(&["--nights", "2000", "--seed", "9000000"]);
    let took = started.elapsed();
    assert_eq!(last_line(&out), "2000 nights, 0 violations");
    assert!(out.status.success(), "{}", out.status);
    eprintln!("2000 nights in {:.1} s", took.as_secs_f64());
    assert!(took.as_secs() < 120, "2000 nights took {took:?}");
}
