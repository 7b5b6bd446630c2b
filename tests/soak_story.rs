//! `jbr-sim soak`'s output as a user reads it (issue 9): the same story for the same seed
//! whatever the thread count, the story's parts, and argument errors.

use std::process::{Command, Output};

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

/// Every night a long soak ever failed on (the 100,000-night run of issue 9 and the seeds
/// README names) holds now: the fixes stay fixed. One night each, a second or so in all.
#[test]
fn every_night_a_soak_found_false_holds_now() {
    const FOUND: [&str; 21] = [
        "12427", "12535", "20399", "27562", "29788", "32986", "39221", "43533", "43792", "45689",
        "46775", "48025", "55369", "55519", "56761", "58596", "74479", "75803", "84534", "84627",
        "99084",
    ];
    for seed in FOUND {
        let out = soak(&["--nights", "1", "--seed", seed]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.ends_with("1 nights, 0 violations\n"),
            "seed {seed}:\n{text}"
        );
    }
}
