//! `jbr run` as an operator sees it: at a terminal a live progress line on stderr (rewritten in
//! place, outcomes kept above it) and the report on stdout below it; anywhere else (journald,
//! pipes) the plain log lines, with no `\r` and no escape codes.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use jbr::sim::{SimWorld, World};
use support::fleet::Fleet;

fn world() -> World {
    world_with("accounts", 1.5)
}

fn world_with(first: &str, secs: f64) -> World {
    SimWorld::builder()
        .server("web-01", |s| {
            s.destination("nas").job(first, secs).job("databases", 0.5)
        })
        .build_state()
}

/// `world()` behind `local_command`, every run file in the fleet's directory.
fn lab() -> Fleet {
    Fleet::local(world())
}

fn jbr() -> &'static str {
    env!("CARGO_BIN_EXE_jbr")
}

#[test]
fn a_terminal_gets_a_live_line_on_stderr_and_the_report_below_it() {
    if !support::tools::available("script", "(util-linux) to provide a terminal") {
        return;
    }
    let tmp = lab();
    let config = tmp.config.clone();
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
    let log = std::fs::read_to_string(tmp.path("jbr.log")).unwrap();
    assert!(log.contains(" INFO "), "{log}");
    assert!(log.contains("completed"), "{log}");
}

#[test]
fn without_a_terminal_stderr_keeps_the_plain_log_lines() {
    let tmp = lab();
    let config = tmp.config.clone();
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

fn skip_without_script() -> bool {
    !support::tools::available("script", "(util-linux) to provide a terminal")
}

/// The simulator shows a run writing to the NAS.
fn writing(fleet: &Fleet) -> bool {
    fleet.dump()["timeline"]
        .as_array()
        .is_some_and(|t| t.iter().any(|w| w["end"].is_null()))
}

#[test]
fn a_warning_at_a_terminal_erases_the_live_line_instead_of_gluing_to_it() {
    if skip_without_script() {
        return;
    }
    let tmp = Fleet::local(world_with("accounts", 20.0));
    let config = tmp.config.clone();
    // A shell on the terminal starts jbr and tells us its pid, so the test can SIGTERM it
    // (systemd's stop) while the live line shows the job processing.
    let pid_file = tmp.path("jbr.pid");
    let sh = tmp.path("run.sh");
    std::fs::write(
        &sh,
        "\"$JBR\" -c \"$CONFIG\" run --force-activate &\necho $! > \"$PID_FILE\"\nwait $!\n",
    )
    .unwrap();
    let child = Command::new("timeout")
        .args(["60", "script", "-qec"])
        .arg(format!("sh {}", sh.display()))
        .arg("/dev/null")
        .env_remove("RUST_LOG")
        .env("TERM", "xterm")
        .env("JBR", jbr())
        .env("CONFIG", &config)
        .env("PID_FILE", &pid_file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !writing(&tmp) {
        assert!(Instant::now() < deadline, "the job never started writing");
        std::thread::sleep(Duration::from_millis(100));
    }
    // A poll or two after it started, so the line shows "processing".
    std::thread::sleep(Duration::from_millis(1200));
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // SAFETY: kill(2) on the jbr our shell started; no memory is involved.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let out = child.wait_with_output().unwrap();
    let r = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{r:?}");

    let before = r.find("signal received").expect("the warning");
    assert!(
        r[..before].contains("web-01  accounts  processing"),
        "{r:?}"
    );
    // What the terminal shows on the warning's row: the warning alone, not the live line with
    // the warning glued to its end.
    let row = r[..before].rsplit("\r\n").next().unwrap_or("");
    let shown = row.rsplit("\r\x1b[2K").next().unwrap_or("");
    assert!(shown.contains("WARN"), "{shown:?} in {r:?}");
    assert!(!shown.contains("processing"), "{shown:?} in {r:?}");
    // The run still cleans up and reports below.
    let report = &r[r.find("jbr run ").expect("the report")..];
    assert!(
        report.lines().next().unwrap().contains("— CANCELLED"),
        "{r:?}"
    );
    assert!(report.ends_with("\nexit 1\r\n"), "{r:?}");
}
