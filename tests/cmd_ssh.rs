//! The operator commands over real SSH: a real sshd on loopback whose forced command is
//! `server/jbr-gate`, with `jbr-sim` installed as `jetbackup5api` behind it. Every call the
//! commands make, on every server, must pass the gate's allowlist.

mod support;

use serde_json::json;
use support::cli::*;
use support::sshd::skip_without_sshd;

/// The standard fleet, every server behind a real sshd and the gate.
fn fleet_over_ssh() -> Fleet {
    cli_fleet_reached(standard_world(), default_jobs(), json!({}), Fleet::over_ssh)
}

#[test]
fn test_status_and_stop_pass_the_gate() {
    if skip_without_sshd("test_status_and_stop_pass_the_gate") {
        return;
    }
    let fleet = fleet_over_ssh();
    let sshd = fleet.sshd("web-01");

    let run = fleet.jbr(&["test"]);
    assert_eq!(run.code, Some(0), "{run}\n{}", sshd.log());
    assert_eq!(
        run.line("web-01 ssh"),
        "web-01 ssh + api ok SSH and jetbackup5api answer"
    );
    assert!(run.line("web-01 job 6a5e…0002").contains(" ok "), "{run}");

    let group = fleet.start_job("web-01", DEST1, JOB_A);
    let run = fleet.jbr(&["status", "--server", "web-01"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(
        run.line(&format!("web-01 group {group}"))
            .starts_with(&format!("web-01 group {group} processing (2)")),
        "{run}"
    );

    for cmd in [&["list"][..], &["destinations"][..]] {
        let run = fleet.jbr(cmd);
        assert_ne!(run.code, Some(2), "{cmd:?}: {run}");
        assert!(!run.stderr.contains("denied"), "{cmd:?}: {run}");
    }

    let run = fleet.jbr(&["stop", "--server", "web-01", &group]);
    assert_eq!(run.code, Some(0), "{run}\n{}", sshd.log());
    assert!(
        run.stdout.contains("stopped: aborted (status 103)"),
        "{run}"
    );
    assert!(!sshd.log().contains("denied"), "{}", sshd.log());
}
