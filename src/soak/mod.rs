//! `jbr-sim soak`: deterministic simulation testing of the whole orchestrator (issue 9).
//!
//! Night *i* is generated from seed S+i alone ([`night`]): a fleet of 1–12 simulated servers
//! with 1–6 jobs, each server speaking a random API variant, with faults, the servers' own
//! schedulers, foreign backups, and an interruption (a crash at a random call, or SIGTERM).
//! The real orchestrator plays it on tokio's paused clock, then a recovery run where a restart
//! would make one ([`play`]). The invariants are checked on the simulator's ground truth
//! ([`check`]). Any violation prints its seed and a one-line replay; `-v` tells the night.
//!
//! This sits above `orchestrator` and `sim` (it drives both); nothing in jbr imports it.

pub mod check;
pub mod night;
pub mod play;
pub mod rng;
pub mod story;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use check::Violation;

/// What one night came to.
pub struct NightResult {
    pub seed: u64,
    pub violations: Vec<Violation>,
    /// With `-v`.
    pub story: Option<String>,
}

/// Play night `seed` and check it. `dir`: a scratch directory for its journal.
pub fn one_night(
    runtime: &tokio::runtime::Runtime,
    seed: u64,
    dir: &Path,
    verbose: bool,
) -> NightResult {
    let _ = std::fs::remove_dir_all(dir);
    let night = night::generate(seed);
    let played = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(play::play(night, dir))
    }));
    let (violations, story) = match played {
        Ok(Ok(p)) => {
            let v = check::check(&p);
            let story = verbose.then(|| story::render(&p, &v));
            (v, story)
        }
        Ok(Err(e)) => (
            vec![Violation {
                invariant: "the night could be played",
                detail: e,
            }],
            None,
        ),
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a panic".to_string());
            (
                vec![Violation {
                    invariant: "no panic",
                    detail: what,
                }],
                None,
            )
        }
    };
    NightResult {
        seed,
        violations,
        story,
    }
}

/// A scratch directory: tmpfs when there is one (each run fsyncs its journal a few dozen times).
fn scratch_root() -> PathBuf {
    let shm = Path::new("/dev/shm");
    let base = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    base.join(format!("jbr-soak-{}", std::process::id()))
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
}

/// `jbr-sim soak`: nights `seed..seed+nights` on `threads` threads, printed in seed order.
/// Returns the number of violations.
pub fn run(nights: u64, seed: u64, verbose: bool, threads: usize, out: &mut dyn Write) -> u64 {
    let root = scratch_root();
    let next = AtomicU64::new(0);
    let results: Mutex<Vec<NightResult>> = Mutex::new(Vec::new());
    let threads = threads.clamp(1, 64).min(nights.max(1) as usize);
    std::thread::scope(|scope| {
        for t in 0..threads {
            let (next, results, root) = (&next, &results, &root);
            scope.spawn(move || {
                let Ok(rt) = runtime() else {
                    return;
                };
                let dir = root.join(t.to_string());
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= nights {
                        break;
                    }
                    let r = one_night(&rt, seed.wrapping_add(i), &dir, verbose);
                    if let Ok(mut all) = results.lock() {
                        all.push(r);
                    }
                }
            });
        }
    });
    let _ = std::fs::remove_dir_all(&root);
    let mut all = results.into_inner().unwrap_or_else(|e| e.into_inner());
    all.sort_by_key(|r| r.seed.wrapping_sub(seed));
    let mut violations = 0u64;
    for r in &all {
        if let Some(s) = &r.story {
            let _ = out.write_all(s.as_bytes());
        }
        for v in &r.violations {
            violations += 1;
            let _ = writeln!(out, "seed {}: {}: {}", r.seed, v.invariant, v.detail);
            let _ = writeln!(
                out,
                "  replay: jbr-sim soak --nights 1 --seed {} -v",
                r.seed
            );
        }
    }
    let played = all.len() as u64;
    if played < nights {
        violations += 1;
        let _ = writeln!(
            out,
            "soak: only {played} of {nights} nights ran (a worker could not start its runtime)"
        );
    }
    let _ = writeln!(out, "{nights} nights, {violations} violations");
    violations
}
