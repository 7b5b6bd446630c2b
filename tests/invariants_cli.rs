//! The email report from a real `jbr run`: the binary against a `jbr-sim` server
//! (`local_command`), mailing a real SMTP server on loopback (aiosmtpd, tests/support/smtp.rs).
//! A failed run sends exactly one mail whose body is the report printed on stdout; a mail
//! server that is not there changes nothing about the exit code (1 stays 1, 0 stays 0).

mod support;

use jbr::sim::{Outcome, SimWorld, World};
use support::fleet::Fleet;
use support::smtp::{Sink, skip_without_smtp};

/// `world` behind `local_command`, with a config whose notification goes to
/// 127.0.0.1:`smtp_port` (every outcome mailed).
fn lab(world: World, smtp_port: u16) -> Fleet {
    lab_with(world, smtp_port, |_| {})
}

/// `lab`, with `tweak` applied to the config last.
fn lab_with(world: World, smtp_port: u16, tweak: impl FnOnce(&mut serde_json::Value)) -> Fleet {
    let fleet = Fleet::local(world);
    fleet.write_config(|config| {
        config["notification"] = serde_json::json!({
            "enabled": true, "smtp_host": "127.0.0.1", "smtp_port": smtp_port, "smtp_tls": false,
            "from_address": "jbr@backup.example.org", "to_addresses": ["ops@example.org"],
            "on_failure": true, "on_timeout": true, "on_complete": true, "on_partial": true,
        });
        tweak(config);
    });
    fleet
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

/// `jbr -c CONFIG run --force-activate` (bounded in time).
fn run(fleet: &Fleet) -> (Option<i32>, String, String) {
    let out = fleet.jbr(&["run", "--force-activate"]);
    (out.code, out.stdout, out.stderr)
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
    let fleet = lab(failing_world(), sink.port);
    let (code, stdout, stderr) = run(&fleet);
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
    // And its picture: the HTML alternative draws the real run's job as a bar.
    let kinds: Vec<&str> = m.parts.iter().map(|p| p.content_type.as_str()).collect();
    assert_eq!(kinds, ["text/plain", "text/html"], "{}", m.raw);
    let html = &m.parts[1].body;
    assert!(
        html.contains("data-kind=\"job\"") && html.contains("&quot;accounts&quot;: failed, "),
        "{html}"
    );
}

#[test]
fn a_dead_mail_server_never_changes_the_exit_code() {
    let port = closed_port();
    let fleet = lab(failing_world(), port);
    let (code, stdout, stderr) = run(&fleet);
    assert_eq!(code, Some(1), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.ends_with("\nexit 1\n"), "{stdout}");
    assert!(stderr.contains("exit code is unaffected"), "{stderr}");

    let fleet = lab(clean_world(), port);
    let (code, stdout, stderr) = run(&fleet);
    assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("exit code is unaffected"), "{stderr}");
}

/// Issue 11, item 3: a run refused because another has held the lock longer than
/// `orchestrator.lock_alert_after` (last night's run is still going) mails a failure that names
/// the holder; below that threshold the refusal is only exit 3. Nothing reaches the servers.
#[test]
fn a_lock_held_past_lock_alert_after_mails_a_stuck_failure() {
    if skip_without_smtp("a_lock_held_past_lock_alert_after_mails_a_stuck_failure") {
        return;
    }
    let sink = Sink::plain();
    for (after, mailed) in [(3600.0, false), (0.5, true)] {
        let fleet = lab_with(clean_world(), sink.port, |c| {
            c["orchestrator"]["lock_alert_after"] = serde_json::json!(after);
        });
        let before = sink.messages().len();
        let _held = jbr::lock::acquire(&fleet.path("jbr.lock")).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(700));
        let (code, stdout, stderr) = run(&fleet);
        assert_eq!(code, Some(3), "stdout:\n{stdout}\nstderr:\n{stderr}");
        let mail = sink.messages();
        assert_eq!(
            mail.len() - before,
            usize::from(mailed),
            "after {after}: {mail:#?}\n{stderr}"
        );
        assert!(fleet.dump()["timeline"].as_array().unwrap().is_empty());
        if !mailed {
            continue;
        }
        let m = &mail[before];
        assert!(
            m.subject
                .starts_with("[jbr] STUCK: a run has held the lock for "),
            "{}",
            m.subject
        );
        let holder = format!("is held by pid {} on ", std::process::id());
        assert!(m.body.contains(&holder), "{}", m.body);
        assert!(m.body.contains("lock_alert_after"), "{}", m.body);
        assert!(stderr.contains("the failure mail was sent"), "{stderr}");
    }
}
