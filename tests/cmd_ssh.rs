//! The operator commands over real SSH: a real sshd on loopback whose forced command is
//! `server/jbr-gate`, with `jbr-sim` installed as `jetbackup5api` behind it. Every call the
//! commands make must pass the gate's allowlist.

mod cmd_common;
mod support;

use cmd_common::*;
use serde_json::json;
use support::sshd::{Sshd, skip_without_sshd};

/// web-01 behind a real sshd and the gate; web-02 stays a local `jbr-sim`.
fn fleet_over_ssh() -> (Fleet, Sshd) {
    let fleet = Fleet::standard();
    // The gate runs as the unprivileged test user: it must write the simulator's state.
    support::open_dir(fleet.dir.path(), 0o777);
    support::open_dir(&fleet.state, 0o666);
    // Root's local jbr-sim calls and the gate's share the simulator's lock file.
    let lock = fleet.path("sim.json.lock");
    std::fs::write(&lock, "").unwrap();
    support::open_dir(&lock, 0o666);
    let bin = fleet.path("bin");
    support::install_as(
        &bin,
        "jetbackup5api",
        std::path::Path::new(env!("CARGO_BIN_EXE_jbr-sim")),
    );
    let state = fleet.state.display().to_string();
    let sshd = Sshd::start_with(
        "127.0.0.1",
        &bin,
        &[("JBR_SIM_STATE", &state), ("JBR_SIM_SERVER", "web-01")],
    );
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&fleet.config).unwrap()).unwrap();
    v["servers"]["web-01"] = json!({
        "host": sshd.addr,
        "port": sshd.port,
        "user": sshd.user,
        "ssh_key": sshd.client_key,
        "known_hosts": sshd.known_hosts,
        "ssh_timeout": 5,
        "destination_id": DEST1,
    });
    std::fs::write(&fleet.config, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    (fleet, sshd)
}

#[test]
fn test_status_and_stop_pass_the_gate() {
    if skip_without_sshd("test_status_and_stop_pass_the_gate") {
        return;
    }
    let (fleet, sshd) = fleet_over_ssh();

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
