//! `jbr run` as an operator sees it: at a terminal a live progress line on stderr (rewritten in
//! place, outcomes kept above it) and the report on stdout below it; anywhere else (journald,
//! pipes) the plain log lines, with no `\r` and no escape codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use jbr::sim::{SimWorld, World};

fn jbr_sim() -> &'static str {
    env!("CARGO_BIN_EXE_jbr-sim")
}

fn world() -> World {
    SimWorld::builder()
        .server("web-01", |s| {
            s.destination("nas")
                .job("accounts", 1.5)
                .job("databases", 0.5)
        })
        .build_state()
}

/// The sim state and a config whose only server is `jbr-sim` (`local_command`) in `dir`.
fn lab(dir: &Path) -> PathBuf {
    let state = dir.join("sim.json");
    let world = world();
    std::fs::write(&state, serde_json::to_vec(&world).unwrap()).unwrap();
    let mut servers = serde_json::Map::new();
    let mut jobs = Vec::new();
    for (name, s) in &world.servers {
        servers.insert(
            name.clone(),
            serde_json::json!({
                "host": "127.0.0.1",
                "destination_id": s.destinations[0].id,
                "local_command": ["env", format!("JBR_SIM_STATE={}", state.display()), format!("JBR_SIM_SERVER={name}"), jbr_sim()],
            }),
        );
        for (i, j) in s.jobs.iter().enumerate() {
            jobs.push(serde_json::json!({"job_id": j.id, "server": name, "label": j.name, "priority": 10 - i as i64}));
        }
    }
    let config = serde_json::json!({
        "servers": servers,
        "jobs": jobs,
        "orchestrator": {
            "poll_interval": 0.2, "startup_timeout": 5, "job_timeout": 30, "stop_timeout": 5,
            "stop_poll_interval": 0.2, "call_timeout": 10, "retry_backoff": 0.1,
            "lock_file": dir.join("jbr.lock"), "log_file": dir.join("jbr.log"),
            "state_file": dir.join("last-run.json"), "journal_file": dir.join("last-run.json.journal"),
        },
    });
    let path = dir.join("config.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    path
}

fn jbr() -> &'static str {
    env!("CARGO_BIN_EXE_jbr")
}

#[test]
fn a_terminal_gets_a_live_line_on_stderr_and_the_report_below_it() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: no `script` (util-linux) to provide a terminal");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let config = lab(tmp.path());
    // stdout and stderr both on the pseudo-terminal, as at an operator's shell.
    let cmd = format!("{} -c {} run --force-activate", jbr(), config.display());
    let out = Command::new("timeout")
        .args(["60", "script", "-qec", &cmd, "/dev/null"])
        .env_remove("RUST_LOG")
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let r = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{r:?}");

    // The job's progress is redrawn in place while it runs…
    assert!(r.contains("\r\x1b[2Kweb-01  accounts  processing"), "{r:?}");
    // …each outcome stays on a line of its own…
    let shown: Vec<&str> = r
        .split("\r\n")
        .map(|l| l.rsplit("\x1b[2K").next().unwrap_or(""))
        .collect();
    for job in ["accounts", "databases"] {
        let outcome = format!("web-01  {job}  completed  ");
        assert!(
            shown
                .iter()
                .any(|l| l.starts_with(&outcome) && l.ends_with('s')),
            "{shown:#?}"
        );
    }
    // …and the report follows on a cleared line, after the last outcome, whole.
    let report = r.find("jbr run ").expect("the report");
    assert!(r[..report].ends_with("\r\x1b[2K"), "{r:?}");
    assert!(r[..report].contains("databases  completed"), "{r:?}");
    let report = &r[report..];
    assert!(report.contains(": 2 job(s): 2 completed"), "{r:?}");
    assert!(report.ends_with("\nexit 0\r\n"), "{r:?}");
    assert!(!report.contains('\x1b'), "{r:?}");
    // The info log lines that would tear the line are not on the terminal…
    assert!(!r.contains(" INFO "), "{r:?}");
    // …but the log file still has them.
    let log = std::fs::read_to_string(tmp.path().join("jbr.log")).unwrap();
    assert!(log.contains(" INFO "), "{log}");
    assert!(log.contains("completed"), "{log}");
}

#[test]
fn without_a_terminal_stderr_keeps_the_plain_log_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let config = lab(tmp.path());
    let out = Command::new("timeout")
        .arg("60")
        .arg(jbr())
        .arg("-c")
        .arg(&config)
        .args(["run", "--force-activate"])
        .env_remove("RUST_LOG")
        .env_remove("JOURNAL_STREAM")
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.starts_with("jbr run "), "{stdout}");
    assert!(stdout.ends_with("\nexit 0\n"), "{stdout}");
    // The same info lines as ever, one per state change, nothing drawn.
    assert!(!stderr.contains('\r'), "{stderr:?}");
    assert!(!stderr.contains('\x1b'), "{stderr:?}");
    let info: Vec<&str> = stderr.lines().filter(|l| l.contains(" INFO ")).collect();
    assert!(
        info.iter()
            .any(|l| l.contains(" INFO completed server=\"web-01\"")),
        "{stderr}"
    );
    assert!(
        info.iter()
            .any(|l| l.contains(" INFO processing server=\"web-01\"")),
        "{stderr}"
    );
    // Only log lines: no progress line printed as plain text beside them.
    assert!(
        stderr
            .lines()
            .all(|l| l.contains(" INFO ") || l.contains(" WARN ")),
        "{stderr}"
    );
}
