//! The dead-man's switch (issue 11, item 1), with real parts: the `jbr` binary against a
//! `jbr-sim` server (`local_command`), pinging a real HTTP(S) server on loopback (Python's
//! http.server, tests/support/http.rs).
//!
//! Every path: `/start` then success or `/fail` under one `rid`, the report as the body (cut at
//! 100,000 bytes), a refused run's lone `/fail` (lock held too long, a config error), a server
//! that hangs, one that is down, HTTPS with a private CA, and each `jbr daemon` cycle. The ping
//! key never shows in stdout, stderr or the log, and a ping never changes the exit code.

mod support;

use std::time::Duration;

use jbr::sim::{Outcome, SimWorld, World};
use serde_json::json;
use support::bin::Run;
use support::fleet::Fleet;
use support::http::{self, Request, Server, skip_without_https, skip_without_python};

/// The check's secret, distinctive enough to find anywhere it leaks.
const KEY: &str = "k3y-5ecret-0f-the-check";

fn clean_world() -> World {
    SimWorld::builder()
        .server("web-01", |s| s.destination("nas").job("accounts", 0.3))
        .build_state()
}

fn failing_world() -> World {
    SimWorld::builder()
        .server("web-01", |s| {
            s.destination("nas")
                .job_with("accounts", 0.3, |j| j.outcome(Outcome::Failed))
        })
        .build_state()
}

/// `world` behind `local_command`, pinging `url` with `timeout`; `tweak` applied last.
fn lab(world: World, url: &str, timeout: f64, tweak: impl FnOnce(&mut serde_json::Value)) -> Fleet {
    let fleet = Fleet::local(world);
    fleet.write_config(|c| {
        c["monitoring"] = json!({"healthcheck_url": url, "healthcheck_timeout": timeout});
        tweak(c);
    });
    fleet
}

fn run(fleet: &Fleet) -> Run {
    fleet.jbr(&["run", "--force-activate"])
}

/// The key is nowhere the operator (or a log shipper) can see it.
#[track_caller]
fn assert_no_key(run: &Run, fleet: &Fleet) {
    let log = std::fs::read_to_string(fleet.path("jbr.log")).unwrap_or_default();
    for (what, text) in [
        ("stdout", &run.stdout),
        ("stderr", &run.stderr),
        ("log", &log),
    ] {
        assert!(
            !text.contains(KEY),
            "the ping key is in {what}:\n{run}\nlog:\n{log}"
        );
    }
}

fn warnings(run: &Run) -> Vec<&str> {
    run.stderr
        .lines()
        .filter(|l| l.contains("healthcheck ping") && l.contains("WARN"))
        .collect()
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.chars().enumerate().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

fn paths(requests: &[Request]) -> Vec<&str> {
    requests.iter().map(|r| r.path.as_str()).collect()
}

#[test]
fn a_clean_run_pings_start_then_success_with_one_rid_and_the_report() {
    if skip_without_python("a_clean_run_pings_start_then_success_with_one_rid_and_the_report") {
        return;
    }
    let server = Server::ok();
    let fleet = lab(clean_world(), &server.url(KEY), 5.0, |_| {});
    let out = run(&fleet);
    out.expect_success();
    let got = server.requests();
    let start = format!("/ping/{KEY}/start");
    let end = format!("/ping/{KEY}");
    assert_eq!(
        paths(&got),
        [start.as_str(), end.as_str()],
        "{out}\n{}",
        server.stderr()
    );
    for r in &got {
        assert_eq!(r.method, "POST");
        assert_eq!(r.version, "HTTP/1.1");
        assert_eq!(r.headers["host"], format!("127.0.0.1:{}", server.port));
        assert!(r.utf8);
    }
    assert!(is_uuid(got[0].rid()), "{:?}", got[0]);
    assert_eq!(got[0].rid(), got[1].rid());
    assert!(got[0].body.contains(" started on "), "{}", got[0].body);
    // The end ping carries the text report, exactly as printed.
    assert_eq!(got[1].body, out.stdout);
    assert!(got[1].body.contains("1 completed"), "{}", got[1].body);
    assert!(warnings(&out).is_empty(), "{out}");
    assert_no_key(&out, &fleet);
    let log = std::fs::read_to_string(fleet.path("jbr.log")).unwrap();
    assert!(
        log.contains(&format!(
            "healthcheck ping success sent to http://127.0.0.1:{}",
            server.port
        )),
        "{log}"
    );

    // validate says pings are on, without the key.
    let v = fleet.jbr(&["validate"]);
    v.expect_success();
    assert!(
        v.stdout.trim_end().ends_with(&format!(
            "; healthcheck pings to http://127.0.0.1:{})",
            server.port
        )),
        "{v}"
    );
    assert!(!v.stdout.contains(KEY) && !v.stderr.contains(KEY), "{v}");

    // A second run has a new rid.
    run(&fleet).expect_success();
    let again = server.requests();
    assert_eq!(again.len(), 4);
    assert_eq!(again[2].rid(), again[3].rid());
    assert_ne!(again[2].rid(), got[0].rid());
}

#[test]
fn a_failed_run_pings_fail_with_its_report() {
    if skip_without_python("a_failed_run_pings_fail_with_its_report") {
        return;
    }
    let server = Server::ok();
    let fleet = lab(failing_world(), &server.url(KEY), 5.0, |_| {});
    let out = run(&fleet);
    out.expect_code(1);
    let got = server.requests();
    let start = format!("/ping/{KEY}/start");
    let fail = format!("/ping/{KEY}/fail");
    assert_eq!(paths(&got), [start.as_str(), fail.as_str()], "{out}");
    assert_eq!(got[0].rid(), got[1].rid());
    assert_eq!(got[1].body, out.stdout);
    assert!(got[1].body.contains("failed"), "{}", got[1].body);
    assert_no_key(&out, &fleet);
}

#[test]
fn run_json_still_pings_the_text_report() {
    if skip_without_python("run_json_still_pings_the_text_report") {
        return;
    }
    let server = Server::ok();
    let fleet = lab(clean_world(), &server.url(KEY), 5.0, |_| {});
    let out = fleet.jbr(&["run", "--force-activate", "--json"]);
    out.expect_success();
    let got = server.requests();
    assert_eq!(got.len(), 2, "{out}");
    assert!(out.stdout.trim_start().starts_with('{'), "{out}");
    assert!(got[1].body.starts_with("jbr run "), "{}", got[1].body);
}

#[test]
fn a_report_over_100000_bytes_is_cut_on_a_char_boundary_head_kept_and_marked() {
    if skip_without_python(
        "a_report_over_100000_bytes_is_cut_on_a_char_boundary_head_kept_and_marked",
    ) {
        return;
    }
    let server = Server::ok();
    // A label of two-byte characters that makes the report well over the limit; the cut
    // falls wherever it falls, inside a character or not.
    let label = "é".repeat(60_001);
    let fleet = lab(clean_world(), &server.url(KEY), 5.0, |c| {
        c["jobs"][0]["label"] = json!(label);
    });
    let out = run(&fleet);
    out.expect_success();
    assert!(out.stdout.len() > 120_000, "{}", out.stdout.len());
    let got = server.requests();
    assert_eq!(got.len(), 2, "{}", server.stderr());
    let body = &got[1];
    assert!(body.utf8, "the cut split a character");
    assert!(body.body_len <= 100_000, "{}", body.body_len);
    assert!(body.body_len > 99_000, "{}", body.body_len);
    let mark = format!(
        "\n[jbr: report cut here; it has {} bytes, a ping carries at most 100000]\n",
        out.stdout.len()
    );
    assert!(
        body.body.ends_with(&mark),
        "{}",
        &body.body[body.body.len() - 200..]
    );
    let head = &body.body[..body.body.len() - mark.len()];
    assert!(out.stdout.starts_with(head), "the head is not the report's");
}

#[test]
fn a_server_that_hangs_costs_the_timeout_once_and_one_warning() {
    if skip_without_python("a_server_that_hangs_costs_the_timeout_once_and_one_warning") {
        return;
    }
    // /start is answered; the end ping is read and never answered.
    let server = Server::builder().hang(&format!("^/ping/{KEY}$")).start();
    let timeout = 2.0;
    let fleet = lab(clean_world(), &server.url(KEY), timeout, |_| {});
    let out = run(&fleet);
    out.expect_success();
    let w = warnings(&out);
    assert_eq!(w.len(), 1, "{out}");
    assert!(
        w[0].contains(&format!(
            "healthcheck ping success to http://127.0.0.1:{}: no answer (3 attempt(s) within 2 s) (the exit code is unaffected)",
            server.port
        )),
        "{out}"
    );
    // Three attempts, all within the timeout: each hung attempt got its share.
    let got = http::wait_for(&server, 4, Duration::from_secs(2));
    assert_eq!(got.len(), 4, "{:?}", paths(&got));
    assert!(got[1..].iter().all(|r| r.rid() == got[0].rid()));
    // The whole run: a second or two of backup, the timeout once, a margin for a busy machine.
    assert!(out.took < Duration::from_secs_f64(timeout + 10.0), "{out}");
    assert_no_key(&out, &fleet);
}

#[test]
fn a_server_that_is_down_is_a_warning_per_ping_and_changes_no_exit_code() {
    if skip_without_python("a_server_that_is_down_is_a_warning_per_ping_and_changes_no_exit_code") {
        return;
    }
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/ping/{KEY}");
    for (world, code, end) in [(clean_world(), 0, "success"), (failing_world(), 1, "/fail")] {
        let fleet = lab(world, &url, 3.0, |_| {});
        let out = run(&fleet);
        out.expect_code(code);
        let w = warnings(&out);
        assert_eq!(w.len(), 2, "{out}");
        for (line, signal) in w.iter().zip(["/start", end]) {
            assert!(
                line.contains(&format!(
                    "healthcheck ping {signal} to http://127.0.0.1:{port}: cannot connect"
                )) && line.contains("(3 attempt(s) within 3 s)"),
                "{out}"
            );
        }
        assert!(out.took < Duration::from_secs(15), "{out}");
        assert_no_key(&out, &fleet);
    }
}

#[test]
fn a_refusing_server_is_not_retried() {
    if skip_without_python("a_refusing_server_is_not_retried") {
        return;
    }
    let server = Server::builder().status(404).start();
    let fleet = lab(clean_world(), &server.url(KEY), 5.0, |_| {});
    let out = run(&fleet);
    out.expect_success();
    assert_eq!(server.requests().len(), 2, "{out}");
    let w = warnings(&out);
    assert_eq!(w.len(), 2, "{out}");
    assert!(
        w[0].contains("HTTP 404") && w[0].contains("(1 attempt(s)"),
        "{out}"
    );
    assert_no_key(&out, &fleet);
}

#[test]
fn https_with_a_private_ca_trusted_through_ssl_cert_file() {
    if skip_without_https("https_with_a_private_ca_trusted_through_ssl_cert_file") {
        return;
    }
    let ca = support::smtp::Ca::new();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca.ca_pem).unwrap();
    let server = Server::builder().tls(&ca).start();
    let fleet = lab(clean_world(), &server.url(KEY), 5.0, |_| {});
    let out = fleet
        .cmd()
        .args(["run", "--force-activate"])
        .env("SSL_CERT_FILE", &ca_file)
        .run();
    out.expect_success();
    let got = server.requests();
    assert_eq!(got.len(), 2, "{out}\n{}", server.stderr());
    assert_eq!(got[0].path, format!("/ping/{KEY}/start"));
    assert_eq!(got[1].body, out.stdout);
    assert!(warnings(&out).is_empty(), "{out}");
    assert_no_key(&out, &fleet);

    // With only the system's CAs, the certificate is refused: a warning, exit 0.
    let out = fleet
        .cmd()
        .args(["run", "--force-activate"])
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .run();
    out.expect_success();
    let w = warnings(&out);
    assert_eq!(w.len(), 2, "{out}");
    assert!(
        w[0].contains(&format!("to https://localhost:{}: TLS: ", server.port))
            && w[0].contains("UnknownIssuer (no CA this machine trusts"),
        "{out}"
    );
    assert_eq!(
        server.requests().len(),
        2,
        "nothing reached the server without TLS"
    );
    assert_no_key(&out, &fleet);
}

/// Issue 11, item 3 with item 1: a run refused because the lock has been held past
/// `lock_alert_after` pings `/fail` alone, naming the holder; below it, nothing is sent.
#[test]
fn a_lock_held_past_lock_alert_after_pings_fail() {
    if skip_without_python("a_lock_held_past_lock_alert_after_pings_fail") {
        return;
    }
    let server = Server::ok();
    for (after, pinged) in [(3600.0, false), (0.5, true)] {
        let fleet = lab(clean_world(), &server.url(KEY), 5.0, |c| {
            c["orchestrator"]["lock_alert_after"] = json!(after);
        });
        let before = server.requests().len();
        let _held = jbr::lock::acquire(&fleet.path("jbr.lock")).unwrap();
        std::thread::sleep(Duration::from_millis(700));
        let out = run(&fleet);
        out.expect_code(3);
        let got = server.requests();
        assert_eq!(
            got.len() - before,
            usize::from(pinged),
            "after {after}: {out}"
        );
        assert!(fleet.dump()["timeline"].as_array().unwrap().is_empty());
        assert_no_key(&out, &fleet);
        if !pinged {
            continue;
        }
        let r = &got[before];
        assert_eq!(r.path, format!("/ping/{KEY}/fail"));
        assert!(is_uuid(r.rid()), "{r:?}");
        let holder = format!("is held by pid {} on ", std::process::id());
        assert!(r.body.contains(&holder), "{}", r.body);
        assert!(r.body.contains("lock_alert_after"), "{}", r.body);
    }
}

/// A config that `run` refuses still pings `/fail` when its monitoring section reads on its
/// own; a bad monitoring section, or a file that is not JSON, sends nothing (and never shows
/// the key).
#[test]
fn a_config_error_pings_fail_when_the_url_can_be_read() {
    if skip_without_python("a_config_error_pings_fail_when_the_url_can_be_read") {
        return;
    }
    let server = Server::ok();
    let fleet = lab(clean_world(), &server.url(KEY), 5.0, |c| {
        c["jobs"][0]["server"] = json!("web-99");
    });
    let out = run(&fleet);
    out.expect_code(2);
    let got = server.requests();
    assert_eq!(paths(&got), [format!("/ping/{KEY}/fail").as_str()], "{out}");
    assert!(
        got[0].body.contains("the config cannot be used"),
        "{}",
        got[0].body
    );
    assert!(
        got[0].body.contains("\"web-99\" is not a key of 'servers'"),
        "{}",
        got[0].body
    );
    assert_no_key(&out, &fleet);

    // --dry-run is a rehearsal: no ping.
    fleet.jbr(&["run", "--dry-run"]).expect_code(2);
    assert_eq!(server.requests().len(), 1);

    // The URL itself is bad: exit 2, the error names the field, not the key; nothing sent.
    for bad in [
        format!("ftp://127.0.0.1:{}/ping/{KEY}", server.port),
        format!("{}?x=1", server.url(KEY)),
    ] {
        let fleet = lab(clean_world(), &bad, 5.0, |_| {});
        let out = run(&fleet);
        out.expect_code(2);
        assert!(
            out.stderr.contains("at 'monitoring.healthcheck_url': "),
            "{out}"
        );
        assert_no_key(&out, &fleet);
        let v = fleet.jbr(&["validate"]);
        v.expect_code(2);
        assert!(!v.stdout.contains(KEY) && !v.stderr.contains(KEY), "{v}");
    }
    // Not JSON: nothing can be read.
    std::fs::write(
        &fleet.config,
        format!(
            "{{\"monitoring\": {{\"healthcheck_url\": \"{}\"",
            server.url(KEY)
        ),
    )
    .unwrap();
    run(&fleet).expect_code(2);
    assert_eq!(server.requests().len(), 1);
}

/// `jbr daemon`: each cycle is a run, so each pings `/start` then success under its own rid.
#[test]
fn each_daemon_cycle_pings_as_a_run() {
    if skip_without_python("each_daemon_cycle_pings_as_a_run") {
        return;
    }
    let server = Server::ok();
    let fleet = lab(clean_world(), &server.url(KEY), 5.0, |c| {
        // A pause longer than the time it takes to see the second end ping: SIGTERM lands in it.
        c["loop"] = json!({"target_interval": 1.0, "min_pause": 1.5});
        c["destination"] = json!({"force_activate": true});
    });
    let daemon = fleet.spawn_jbr(&["daemon"]);
    let got = http::wait_for(&server, 4, Duration::from_secs(20));
    daemon.signal(libc::SIGTERM);
    let out = daemon.wait();
    out.expect_success();
    assert!(got.len() >= 4, "{:?}\n{out}", paths(&got));
    let start = format!("/ping/{KEY}/start");
    let end = format!("/ping/{KEY}");
    for cycle in got[..4].chunks(2) {
        assert_eq!(paths(cycle), [start.as_str(), end.as_str()], "{out}");
        assert_eq!(cycle[0].rid(), cycle[1].rid());
    }
    assert_ne!(got[0].rid(), got[2].rid());
    assert_no_key(&out, &fleet);
}
