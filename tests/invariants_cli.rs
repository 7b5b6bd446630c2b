//! The email report from a real `jbr run`: the binary against a `jbr-sim` server
//! (`local_command`), mailing a real SMTP server on loopback (aiosmtpd, tests/support_smtp).
//! A failed run sends exactly one mail whose body is the report printed on stdout; a mail
//! server that is not there changes nothing about the exit code (1 stays 1, 0 stays 0).

mod common;
mod support_smtp;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::SpawnPiped;
use jbr::sim::{Outcome, SimWorld, World};
use support_smtp::{Sink, skip_without_smtp};

/// Writes the sim state and a config whose notification goes to 127.0.0.1:`smtp_port`
/// (every outcome mailed). Returns the config path and the sim state path.
fn lab(dir: &Path, world: World, smtp_port: u16) -> (PathBuf, PathBuf) {
    let (state, mut config) = common::sim_lab(dir, &world);
    config["notification"] = serde_json::json!({
        "enabled": true, "smtp_host": "127.0.0.1", "smtp_port": smtp_port, "smtp_tls": false,
        "from_address": "jbr@backup.example.org", "to_addresses": ["ops@example.org"],
        "on_failure": true, "on_timeout": true, "on_complete": true, "on_partial": true,
    });
    (common::write_config(dir, &config), state)
}

fn failing_world() -> World {
    SimWorld::builder()
        .server("web-01", |s| {
            s.destination("nas")
                .job_with("accounts", 0.5, |j| j.outcome(Outcome::Failed))
                .job("databases", 0.3)
        })
        .build_state()
}

fn clean_world() -> World {
    SimWorld::builder()
        .server("web-01", |s| s.destination("nas").job("accounts", 0.3))
        .build_state()
}

/// `jbr -c CONFIG run --force-activate`, killed (and the test failed) after 60 s.
fn run(config: &Path) -> (Option<i32>, String, String) {
    let out = common::bounded(
        Command::new(env!("CARGO_BIN_EXE_jbr"))
            .arg("-c")
            .arg(config)
            .args(["run", "--force-activate"])
            .spawn_piped(),
    );
    let (stdout, stderr) = common::text(&out);
    (out.status.code(), stdout, stderr)
}

/// A loopback port nobody listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn a_failed_run_mails_its_report_once() {
    if skip_without_smtp("a_failed_run_mails_its_report_once") {
        return;
    }
    let sink = Sink::plain();
    let dir = tempfile::tempdir().unwrap();
    let (config, _) = lab(dir.path(), failing_world(), sink.port);
    let (code, stdout, stderr) = run(&config);
    assert_eq!(code, Some(1), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let mail = sink.messages();
    assert_eq!(mail.len(), 1, "{mail:#?}\nsink: {}", sink.stderr());
    let m = &mail[0];
    assert_eq!(m.rcpt_tos, ["ops@example.org"]);
    assert!(m.subject.contains("FAIL"), "{}", m.subject);
    let body = m.body.replace("\r\n", "\n");
    assert!(
        body.starts_with(stdout.trim_end()),
        "mail body:\n{body}\nstdout:\n{stdout}"
    );
    assert!(
        body.contains("\"accounts\"") && body.contains("failed"),
        "{body}"
    );
}

#[test]
fn a_dead_mail_server_never_changes_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let (config, _) = lab(dir.path(), failing_world(), port);
    let (code, stdout, stderr) = run(&config);
    assert_eq!(code, Some(1), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.ends_with("\nexit 1\n"), "{stdout}");
    assert!(stderr.contains("exit code is unaffected"), "{stderr}");

    let dir = tempfile::tempdir().unwrap();
    let (config, _) = lab(dir.path(), clean_world(), port);
    let (code, stdout, stderr) = run(&config);
    assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("exit code is unaffected"), "{stderr}");
}
