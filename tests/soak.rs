//! `jbr-sim soak` as a user runs it (issue 9): 2,000 seeded nights of the real orchestrator
//! checked on the simulator's ground truth, the same story for the same seed, and the output
//! contract (last line, exit status, replay lines).

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

#[test]
fn the_same_seed_tells_the_same_story_byte_for_byte() {
    for seed in ["17", "40", "1234567"] {
        let a = soak(&["--nights", "1", "--seed", seed, "-v"]);
        let b = soak(&["--nights", "1", "--seed", seed, "-v", "--threads", "1"]);
        assert!(a.status.success() && b.status.success());
        assert_eq!(a.stdout, b.stdout, "seed {seed}");
        let story = String::from_utf8_lossy(&a.stdout);
        for part in [
            &format!("night {seed}: "),
            "interruption: ",
            "fleet:",
            "calls:",
            "jbr's report (night run)",
            "truth (the simulator's groups of tonight):",
            "verdict: every invariant holds",
        ] {
            assert!(story.contains(part), "seed {seed}: no {part:?} in\n{story}");
        }
        assert!(story.ends_with("1 nights, 0 violations\n"), "{story}");
    }
    // Whatever the number of threads: nights are played in parallel, printed in seed order.
    let one = soak(&["--nights", "12", "--seed", "500", "-v", "--threads", "1"]);
    let three = soak(&["--nights", "12", "--seed", "500", "-v", "--threads", "3"]);
    assert!(one.status.success() && three.status.success());
    assert_eq!(one.stdout, three.stdout);
    // Another seed, another night.
    let x = soak(&["--nights", "1", "--seed", "18", "-v"]);
    let y = soak(&["--nights", "1", "--seed", "17", "-v"]);
    assert_ne!(x.stdout, y.stdout);
}

#[test]
fn bad_arguments_are_named() {
    let out = soak(&["--nights", "many"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--nights \"many\" is not a whole number"),
        "{err}"
    );
    let out = soak(&["--frobnicate"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown argument \"--frobnicate\""),
        "{out:?}"
    );
}
