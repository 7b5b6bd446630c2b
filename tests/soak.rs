//! `jbr-sim soak` as CI runs it (issue 9): 2,000 seeded nights of the real orchestrator checked
//! on the simulator's ground truth, alone in its test binary so that its time budget is its own
//! (the stories and the output contract are in `soak_story.rs`).

mod support;

use std::time::{Duration, Instant};

use support::bin::{self, Run};

/// `jbr-sim soak args…`, given time enough for its own timing check to be the one that fails.
fn soak(args: &[&str]) -> Run {
    bin::sim()
        .arg("soak")
        .args(args)
        .bound(Duration::from_secs(300))
        .run()
}

fn last_line(out: &Run) -> String {
    out.stdout.lines().last().unwrap_or("").to_string()
}

/// The CI soak: 2,000 nights on fixed seeds, in well under two minutes.
#[test]
fn two_thousand_nights_break_no_invariant() {
    let started = Instant::now();
    let out = soak(&["--nights", "2000", "--seed", "9000000"]);
    let took = started.elapsed();
    assert_eq!(last_line(&out), "2000 nights, 0 violations", "{out}");
    out.expect_success();
    eprintln!("2000 nights in {:.1} s", took.as_secs_f64());
    assert!(took.as_secs() < 120, "2000 nights took {took:?}");
}
