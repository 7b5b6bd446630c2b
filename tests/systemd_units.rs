//! The shipped systemd units are valid (`systemd-analyze verify`, offline: no systemd as PID 1
//! needed) and the service stays hardened. Skips, saying so, where systemd-analyze is missing.

use std::path::Path;
use std::process::Command;

/// The two ways to schedule jbr: `jbr.service` started by `jbr.timer`, or `jbr-daemon.service`.
const SERVICES: [&str; 2] = ["jbr.service", "jbr-daemon.service"];

fn systemd_analyze_available() -> bool {
    Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Copies the units to a temp dir with ExecStart pointing at the freshly built binary
/// (verify refuses a unit whose binary does not exist).
fn units_in_tempdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd");
    for unit in SERVICES {
        let service = std::fs::read_to_string(root.join(unit)).unwrap();
        let service = service.replace("/usr/local/bin/jbr", env!("CARGO_BIN_EXE_jbr"));
        std::fs::write(dir.path().join(unit), service).unwrap();
    }
    std::fs::copy(root.join("jbr.timer"), dir.path().join("jbr.timer")).unwrap();
    dir
}

#[test]
fn units_verify_without_any_output() {
    if !systemd_analyze_available() {
        eprintln!("SKIP: systemd-analyze not installed");
        return;
    }
    let dir = units_in_tempdir();
    let out = Command::new("systemd-analyze")
        .args([
            "verify",
            "--man=no",
            "./jbr.service",
            "./jbr.timer",
            "./jbr-daemon.service",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    // An unknown key only warns with rc 0, so any output at all is a failure.
    assert!(
        out.status.success() && stderr.trim().is_empty() && stdout.trim().is_empty(),
        "systemd-analyze verify: status {:?}\nstdout: {stdout}\nstderr: {stderr}",
        out.status
    );
}

#[test]
fn service_exposure_stays_low() {
    if !systemd_analyze_available() {
        eprintln!("SKIP: systemd-analyze not installed");
        return;
    }
    let dir = units_in_tempdir();
    for unit in SERVICES {
        // --threshold=30 makes the command fail when the exposure score is above 3.0.
        let out = Command::new("systemd-analyze")
            .args(["security", "--offline=true", "--threshold=30"])
            .arg(format!("./{unit}"))
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{unit}: exposure above 3.0:\n{}",
            stdout.lines().rev().take(3).collect::<Vec<_>>().join("\n")
        );
    }
}

#[test]
fn service_lets_jbr_clean_up_on_sigterm() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd");
    let service = std::fs::read_to_string(root.join("jbr.service")).unwrap();
    // Only jbr gets SIGTERM: its ssh master must survive long enough to abort and disable.
    assert!(service.contains("KillMode=mixed"));
    assert!(service.contains("Type=oneshot"));
    let timer = std::fs::read_to_string(root.join("jbr.timer")).unwrap();
    // Lesson 7: Persistent=true chained day-long runs back to back.
    assert!(timer.contains("Persistent=false"));
}

#[test]
fn the_daemon_unit_is_notify_reloads_with_sighup_and_is_hardened_like_the_service() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd");
    let daemon = std::fs::read_to_string(root.join("jbr-daemon.service")).unwrap();
    for line in [
        "Type=notify",
        "ExecStart=/usr/local/bin/jbr -c /etc/jbr/config.json daemon",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "KillMode=mixed",
        "Restart=on-failure",
        "RestartPreventExitStatus=2",
    ] {
        assert!(
            daemon.lines().any(|l| l == line),
            "no {line:?} in jbr-daemon.service"
        );
    }
    // Every hardening line of jbr.service is in the daemon's unit too.
    let service = std::fs::read_to_string(root.join("jbr.service")).unwrap();
    let hardening = service
        .split("# Hardening.")
        .nth(1)
        .expect("jbr.service has a hardening section");
    for line in hardening.lines().filter(|l| l.contains('=')) {
        assert!(
            daemon.lines().any(|l| l == line),
            "jbr-daemon.service lacks {line:?}"
        );
    }
}
