//! The email report, end to end against a real SMTP server on loopback (aiosmtpd): what lands in
//! the operator's mailbox, when nothing does, TLS with a private CA, AUTH, a server that never
//! greets, and the password staying out of everything an operator or a log can see.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use jbr::config::{Notification, Secret};
use jbr::notify::{self, NotifyError, Reason, SendOptions};
use jbr::report::{self, Alert, AlertKind, Critical, JobRecord, Outcome, RunRecord};
use support::smtp::{Ca, Sink, SinkTls, can_listen, skip_without_smtp, skip_without_smtp_tls};

const T0: f64 = 1_795_000_000.0;
const PASSWORD: &str = "pw-Zq8!never-shown";
const WAIT: Duration = Duration::from_secs(10);

/// Six jobs on two servers: two did not make it, plus an alert. The night an operator must read.
fn failed_run() -> RunRecord {
    let mut r = RunRecord::new("20261122-0200", T0);
    r.ended = T0 + 5400.0;
    for (server, id, label, outcome) in [
        (
            "web-01",
            "650800000000000000a106d9",
            "accounts",
            Outcome::Completed,
        ),
        (
            "web-01",
            "650800000000000000a206d9",
            "databases",
            Outcome::Failed,
        ),
        (
            "web-01",
            "650800000000000000a306d9",
            "mail",
            Outcome::Completed,
        ),
        (
            "web-02",
            "650800000000000000b106d9",
            "accounts",
            Outcome::TimedOutAborted,
        ),
        (
            "web-02",
            "650800000000000000b206d9",
            "databases",
            Outcome::Completed,
        ),
        (
            "web-02",
            "650800000000000000b306d9",
            "mail",
            Outcome::Completed,
        ),
    ] {
        let mut j = JobRecord::new(server, id, label, outcome);
        if outcome == Outcome::Failed {
            j.message = "queue group finished with status 4 failed".into();
            j.failures = vec!["database shop_prod: mysqldump exited 2".into()];
        }
        r.jobs.push(j);
    }
    r.alerts.push(Alert {
        kind: AlertKind::UnconfiguredJob,
        server: Some("web-02".into()),
        job_id: Some("650800000000000000b906d9".into()),
        message: "web-02: job 6508…06d9 \"old\" targets the NAS but is not in the config".into(),
    });
    r
}

/// `failed_run` with a job name that looks like markup, and times for its bar.
fn hostile_run() -> RunRecord {
    let mut r = failed_run();
    let j = &mut r.jobs[1];
    j.label = "<script>alert('db')</script> & \"co\"".into();
    j.start = Some(T0 + 60.0);
    j.end = Some(T0 + 1260.0);
    j.duration_secs = Some(1200.0);
    r
}

fn clean_run() -> RunRecord {
    let mut r = RunRecord::new("20261122-0200", T0);
    r.ended = T0 + 600.0;
    r.jobs.push(JobRecord::new(
        "web-01",
        "650800000000000000a106d9",
        "accounts",
        Outcome::Completed,
    ));
    r
}

fn to(port: u16) -> Notification {
    Notification {
        enabled: true,
        smtp_host: "127.0.0.1".into(),
        smtp_port: port,
        from_address: "jbr <jbr@nas01.example>".into(),
        to_addresses: vec!["ops@example.com".into(), "oncall@example.com".into()],
        ..Notification::default()
    }
}

/// Every log line this test binary writes (tracing, all levels), as text. Global rather than
/// per-test: a thread-local subscriber misses events when another test thread first hits a
/// callsite (tracing caches callsite interest process-wide), and a global one also lets the
/// password check cover every test here.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logs() -> &'static Logs {
    static LOGS: OnceLock<Logs> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Logs::default();
        let w = logs.clone();
        let sub = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || w.clone())
            .finish();
        tracing::subscriber::set_global_default(sub).unwrap();
        logs
    })
}

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn failed_run_mails_once_with_subject_recipients_and_report() {
    if skip_without_smtp("failed_run_mails_once_with_subject_recipients_and_report") {
        return;
    }
    logs();
    let sink = Sink::plain();
    let record = failed_run();
    let started = Instant::now();
    notify::send_report(&to(sink.port), &record, WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", sink.stderr()));
    let took = started.elapsed();

    let mail = sink.messages();
    assert_eq!(mail.len(), 1, "{mail:#?}");
    let m = &mail[0];
    let host = notify::host_name();
    assert_eq!(
        m.subject,
        format!("[jbr] FAILED: 2 of 6 jobs not ok, 1 alert — {host}")
    );
    assert_eq!(m.mail_from, "jbr@nas01.example");
    assert_eq!(m.rcpt_tos, ["ops@example.com", "oncall@example.com"]);
    assert_eq!(m.from, "jbr <jbr@nas01.example>");
    assert_eq!(m.to, "ops@example.com, oncall@example.com");
    // The text report, and a picture of the night as its HTML alternative (issue 11, item 6).
    assert_eq!(m.content_type, "multipart/alternative");
    let kinds: Vec<&str> = m.parts.iter().map(|p| p.content_type.as_str()).collect();
    assert_eq!(kinds, ["text/plain", "text/html"], "{}", m.raw);
    // Mail without these is often filed as spam (lettre adds Date, jbr asks for Message-ID).
    assert!(
        m.raw.contains("\r\nDate: ") || m.raw.starts_with("Date: "),
        "{}",
        m.raw
    );
    assert!(m.raw.contains("Message-ID: <"), "{}", m.raw);
    // The same text `jbr run` prints, alerts included, then where it came from and why.
    let body = m.body.replace("\r\n", "\n");
    assert!(body.starts_with(&report::text::render(&record)), "{body}");
    assert!(body.contains("\nalerts:\n  ! web-02: job 6508…06d9 \"old\" targets the NAS"));
    assert!(body.contains("database shop_prod: mysqldump exited 2"));
    assert!(
        body.trim_end().ends_with(&format!(
            "-- \njbr {} on {host}; mailed because of notification.on_failure.",
            env!("CARGO_PKG_VERSION")
        )),
        "{body:?}"
    );
    eprintln!("measured: one plain send on loopback took {took:?}");
}

/// The mail as a MIME parser (Python's `email`) reads it: the text part is exactly the text
/// report, the HTML part exactly the rendering, and names from servers that look like markup
/// are text in the HTML and verbatim in the text.
#[tokio::test]
async fn the_report_is_mailed_as_text_and_html_alternatives() {
    if skip_without_smtp("the_report_is_mailed_as_text_and_html_alternatives") {
        return;
    }
    let sink = Sink::plain();
    let record = hostile_run();
    notify::send_report(&to(sink.port), &record, WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", sink.stderr()));
    let mail = sink.messages();
    assert_eq!(mail.len(), 1, "{mail:#?}");
    let m = &mail[0];
    let host = notify::host_name();
    assert_eq!(m.content_type, "multipart/alternative");
    assert_eq!(m.parts.len(), 2, "{:#?}", m.parts);
    let (plain, html) = (&m.parts[0], &m.parts[1]);
    // Plain first: a client shows the last part it can, so a text-only one shows the text.
    assert_eq!(plain.content_type, "text/plain");
    assert_eq!(html.content_type, "text/html");
    assert_eq!(plain.charset.as_deref(), Some("utf-8"));
    assert_eq!(html.charset.as_deref(), Some("utf-8"));
    assert_eq!(
        plain.body.replace("\r\n", "\n"),
        notify::body(Reason::Failed, &record, &host)
    );
    assert_eq!(m.body, plain.body, "a text-only reader sees the text part");
    assert_eq!(
        html.body.replace("\r\n", "\n"),
        notify::html_body(Reason::Failed, &record, &host)
    );
    assert!(
        plain
            .body
            .contains("\"<script>alert('db')</script> & \"co\"\"")
    );
    assert!(!html.body.contains("<script"), "{}", html.body);
    assert!(
        html.body
            .contains("&lt;script&gt;alert(&#39;db&#39;)&lt;/script&gt; &amp; &quot;co&quot;"),
        "{}",
        html.body
    );
    // The HTML's long lines were encoded for the wire: no line past SMTP's 998 octets.
    let longest = m.raw.split("\r\n").map(str::len).max().unwrap_or(0);
    assert!(longest <= 998, "a {longest}-octet line on the wire");
}

#[tokio::test]
async fn clean_run_with_on_complete_false_sends_nothing() {
    if skip_without_smtp("clean_run_with_on_complete_false_sends_nothing") {
        return;
    }
    let sink = Sink::plain();
    let n = to(sink.port);
    assert!(!n.on_complete, "the default is on_complete: false");
    notify::send_report(&n, &clean_run(), WAIT).await.unwrap();
    assert!(sink.messages().is_empty());

    // The same run with on_complete: true is mailed, as OK.
    let n = Notification {
        on_complete: true,
        ..n
    };
    notify::send_report(&n, &clean_run(), WAIT).await.unwrap();
    let mail = sink.messages();
    assert_eq!(mail.len(), 1);
    assert!(mail[0].subject.starts_with("[jbr] OK: 1 of 1 jobs ok — "));
}

#[tokio::test]
async fn disabled_notification_sends_nothing_even_when_critical() {
    if skip_without_smtp("disabled_notification_sends_nothing_even_when_critical") {
        return;
    }
    let sink = Sink::plain();
    let mut record = failed_run();
    record.critical.push(Critical {
        server: "web-01".into(),
        what: "job".into(),
        id: "650800000000000000a206d9".into(),
        message: "server web-01: job 6508…06d9 is ENABLED, disable it by hand".into(),
    });
    let off = Notification {
        enabled: false,
        ..to(sink.port)
    };
    notify::send_report(&off, &record, WAIT).await.unwrap();
    assert!(sink.messages().is_empty());

    // Enabled, with every on_* flag off: critical still mails.
    let quiet = Notification {
        on_failure: false,
        on_timeout: false,
        on_partial: false,
        on_complete: false,
        ..to(sink.port)
    };
    notify::send_report(&quiet, &record, WAIT).await.unwrap();
    let mail = sink.messages();
    assert_eq!(mail.len(), 1);
    assert!(
        mail[0]
            .subject
            .starts_with("[jbr] CRITICAL: 1 left enabled, 2 of 6 jobs not ok, 1 alert — "),
        "{}",
        mail[0].subject
    );
    assert!(mail[0].body.contains("CRITICAL — act now:"));
}

#[tokio::test]
async fn plain_with_auth_logs_in_and_a_wrong_password_is_a_clear_error() {
    if skip_without_smtp("plain_with_auth_logs_in_and_a_wrong_password_is_a_clear_error") {
        return;
    }
    let sink = Sink::builder().auth("jbr", PASSWORD).start();
    let n = Notification {
        smtp_user: "jbr".into(),
        smtp_password: Secret::new(PASSWORD),
        ..to(sink.port)
    };
    notify::send_report(&n, &failed_run(), WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", sink.stderr()));
    assert_eq!(sink.messages().len(), 1);
    assert!(
        sink.auth_log().ends_with(" jbr ok\n"),
        "{}",
        sink.auth_log()
    );

    // Without smtp_user, jbr does not log in, and this server refuses the mail.
    let anonymous = Notification {
        smtp_user: String::new(),
        ..n.clone()
    };
    let e = notify::send_report(&anonymous, &failed_run(), WAIT)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&format!(
            "email report via 127.0.0.1:{} (plain, no TLS): permanent error (530)",
            sink.port
        )),
        "{e}"
    );

    let wrong = Notification {
        smtp_password: Secret::new("not-the-password"),
        ..n
    };
    let e = notify::send_report(&wrong, &failed_run(), WAIT)
        .await
        .unwrap_err();
    assert!(matches!(e, NotifyError::Send { .. }), "{e:?}");
    assert!(
        e.to_string().starts_with(&format!(
            "email report via 127.0.0.1:{} (plain, no TLS): permanent error (535)",
            sink.port
        )),
        "{e}"
    );
    assert!(!e.to_string().contains("not-the-password"));
    assert!(!format!("{e:?}").contains("not-the-password"));
    assert_eq!(sink.messages().len(), 1, "nothing more was delivered");
}

#[tokio::test]
async fn starttls_with_a_private_ca_and_auth_delivers() {
    if skip_without_smtp_tls("starttls_with_a_private_ca_and_auth_delivers") {
        return;
    }
    let ca = Ca::new();
    let sink = Sink::builder()
        .tls(SinkTls::StartTls, &ca)
        .auth("jbr", PASSWORD)
        .start();
    let n = Notification {
        smtp_tls: true,
        smtp_user: "jbr".into(),
        smtp_password: Secret::new(PASSWORD),
        ..to(sink.port)
    };
    let trust = SendOptions {
        extra_root_pem: Some(ca.ca_pem.clone()),
    };
    let started = Instant::now();
    notify::send_report_with(&n, &failed_run(), WAIT, &trust)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", sink.stderr()));
    eprintln!(
        "measured: one STARTTLS + AUTH send on loopback took {:?}",
        started.elapsed()
    );
    assert_eq!(sink.messages().len(), 1);
    assert!(
        sink.auth_log().ends_with(" jbr ok\n"),
        "{}",
        sink.auth_log()
    );

    // Without the private CA the certificate is not trusted: nothing is sent, and the error
    // says why. The password never left this process.
    let e = notify::send_report(&n, &failed_run(), WAIT)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&format!(
            "email report via 127.0.0.1:{} (STARTTLS): ",
            sink.port
        )) && e
            .contains("UnknownIssuer (no CA this machine trusts signed the server's certificate"),
        "{e}"
    );
    assert_eq!(sink.messages().len(), 1);
    assert_eq!(sink.auth_log().lines().count(), 1);
}

#[tokio::test]
async fn starttls_required_refuses_a_server_without_it() {
    if skip_without_smtp("starttls_required_refuses_a_server_without_it") {
        return;
    }
    let sink = Sink::plain();
    let n = Notification {
        smtp_tls: true,
        ..to(sink.port)
    };
    let e = notify::send_report(&n, &failed_run(), WAIT)
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        format!(
            "email report via 127.0.0.1:{} (STARTTLS): internal client error: STARTTLS is not \
             supported on this server (smtp_tls: true requires STARTTLS, or implicit TLS on port 465)",
            sink.port
        )
    );
    assert!(sink.messages().is_empty(), "never in clear text");
}

#[tokio::test]
async fn port_465_speaks_implicit_tls() {
    if skip_without_smtp_tls("port_465_speaks_implicit_tls") {
        return;
    }
    if !can_listen(465) {
        eprintln!(
            "SKIP port_465_speaks_implicit_tls: cannot listen on 127.0.0.1:465 (not root, or taken)"
        );
        return;
    }
    let ca = Ca::new();
    let sink = match Sink::builder()
        .tls(SinkTls::Implicit, &ca)
        .port(465)
        .try_start()
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("SKIP port_465_speaks_implicit_tls: {e}");
            return;
        }
    };
    let n = Notification {
        smtp_tls: true,
        ..to(465)
    };
    let trust = SendOptions {
        extra_root_pem: Some(ca.ca_pem.clone()),
    };
    notify::send_report_with(&n, &failed_run(), WAIT, &trust)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", sink.stderr()));
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn server_that_never_greets_times_out_after_the_configured_seconds() {
    // Accepts TCP and then says nothing: lettre alone would wait for ever (lettre#1027).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let started = Instant::now();
    let e = notify::send_report(&to(port), &failed_run(), Duration::from_secs_f64(0.4))
        .await
        .unwrap_err();
    let took = started.elapsed();
    held.abort();
    assert_eq!(
        e.to_string(),
        format!(
            "email report via 127.0.0.1:{port} (plain, no TLS): no answer within 0.4 s, gave up"
        )
    );
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(3),
        "{took:?}"
    );
    eprintln!("measured: a silent server was given up on after {took:?}");
}

#[tokio::test]
async fn server_that_stalls_after_its_greeting_times_out_too() {
    // Greets, then never answers EHLO: the bound covers the whole exchange, not just the greeting.
    // (aiosmtpd did this after a rejected AUTH until the sink was fixed: it happens.)
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((mut socket, _)) = listener.accept().await {
            let _ = socket.write_all(b"220 stall.jbr.test ESMTP\r\n").await;
            open.push(socket);
        }
    });
    let started = Instant::now();
    let e = notify::send_report(&to(port), &failed_run(), Duration::from_secs_f64(0.3))
        .await
        .unwrap_err();
    let took = started.elapsed();
    held.abort();
    assert!(matches!(e, NotifyError::Timeout { .. }), "{e:?}");
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[tokio::test]
async fn the_password_never_appears_in_mail_logs_or_errors() {
    if skip_without_smtp("the_password_never_appears_in_mail_logs_or_errors") {
        return;
    }
    let logs = logs();
    let sink = Sink::builder().auth("jbr", PASSWORD).start();
    let n = Notification {
        smtp_user: "jbr".into(),
        smtp_password: Secret::new(PASSWORD),
        ..to(sink.port)
    };
    let mut shown = Vec::new();

    // Delivered: the message, as stored and as decoded.
    assert!(notify::send_and_log(&n, &failed_run(), WAIT).await);
    for m in sink.messages() {
        shown.extend(m.parts.into_iter().map(|p| p.body));
        shown.extend([m.raw, m.subject, m.body]);
    }
    shown.extend(sink.maildir_files());
    assert_eq!(sink.messages().len(), 1);

    // Refused (the server wants another password), timed out, and nobody listening: the errors
    // and the warnings send_and_log writes.
    let refused = Notification {
        smtp_user: "someone-else".into(),
        ..n.clone()
    };
    let e = notify::send_report(&refused, &failed_run(), WAIT)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("permanent error (535)"), "{e}");
    shown.extend([e.to_string(), format!("{e:?}")]);
    assert!(!notify::send_and_log(&refused, &failed_run(), WAIT).await);

    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_n = to(silent.local_addr().unwrap().port());
    let silent_n = Notification {
        smtp_user: "jbr".into(),
        smtp_password: Secret::new(PASSWORD),
        ..silent_n
    };
    let e = notify::send_report(&silent_n, &failed_run(), Duration::from_secs_f64(0.2))
        .await
        .unwrap_err();
    shown.extend([e.to_string(), format!("{e:?}")]);

    let nobody = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let nobody_n = Notification {
        smtp_port: nobody,
        ..n.clone()
    };
    assert!(!notify::send_and_log(&nobody_n, &failed_run(), WAIT).await);
    shown.push(format!("{n:?}"));

    let log = logs.text();
    assert!(
        log.contains(&format!(
            "email report sent via 127.0.0.1:{} (plain, no TLS) to 2 recipient(s) in ",
            sink.port
        )),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "email report via 127.0.0.1:{nobody} (plain, no TLS): Connection error"
        )) && log.contains("(the run's exit code is unaffected)"),
        "{log}"
    );
    shown.push(log);
    for text in &shown {
        assert!(!text.contains(PASSWORD), "password shown in:\n{text}");
    }
}
