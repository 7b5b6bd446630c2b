//! The email report: after a run, mail the report to the operators (config `notification.*`):
//! multipart/alternative, the text report as `text/plain` and a picture of the night as
//! `text/html` (`report::html`). Notices that are not a run's report are text only.
//!
//! For the caller (`run`), one line is enough:
//!
//! ```ignore
//! notify::send_and_log(&config.notification, &record, notify::DEFAULT_TIMEOUT).await;
//! ```
//!
//! A mail failure never changes the run's exit code: the backups happened or not whatever the
//! SMTP server says. `send_report` returns the error so the caller can log it; `send_and_log`
//! does exactly that. Like borgmatic's monitoring hooks, a monitor never hides the work's result.
//!
//! The SMTP password is only ever handed to lettre's `Credentials`; it is not in the message,
//! the subject, a log line or an error.

use std::fmt;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::Notification;
use crate::exit::Exit;
use crate::report::{Outcome, RunRecord, html, text};

/// A sensible bound for the whole send (connect, greeting, TLS, auth, data) when the caller has
/// no better idea. One minute: a slow relay still gets through, a dead one cannot hold the run.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a run is mailed: the run's worst condition. It sets the subject's first word, which is
/// what operators filter on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    /// Exit 0, nothing to add.
    Complete,
    /// Exit 0, but a job finished with warnings, or there are alerts, or the journal replay
    /// undid something an earlier run left behind.
    Warnings,
    Partial,
    TimedOut,
    Failed,
    /// The run was stopped (SIGTERM) before it finished.
    Cancelled,
    /// A run was refused because another has held the lock past `lock_alert_after`: last
    /// night's run is still going.
    Stuck,
    /// Exit 4: something jbr enabled is still enabled. Always mailed when mail is enabled.
    Critical,
}

impl Reason {
    /// The subject's first word.
    pub fn word(self) -> &'static str {
        match self {
            Reason::Complete => "OK",
            Reason::Warnings => "WARNINGS",
            Reason::Partial => "PARTIAL",
            Reason::TimedOut => "TIMED OUT",
            Reason::Failed => "FAILED",
            Reason::Cancelled => "CANCELLED",
            Reason::Stuck => "STUCK",
            Reason::Critical => "CRITICAL",
        }
    }

    /// The config key that lets this condition send mail (named in the mail's footer, so an
    /// operator knows which switch to flip).
    pub fn flag(self) -> &'static str {
        match self {
            Reason::Complete => "notification.on_complete",
            Reason::Warnings | Reason::Partial => "notification.on_partial",
            Reason::TimedOut => "notification.on_timeout",
            Reason::Failed | Reason::Cancelled | Reason::Stuck => "notification.on_failure",
            Reason::Critical => "notification.enabled (critical always mails)",
        }
    }

    fn wanted(self, n: &Notification) -> bool {
        match self {
            Reason::Complete => n.on_complete,
            Reason::Warnings | Reason::Partial => n.on_partial,
            Reason::TimedOut => n.on_timeout,
            Reason::Failed | Reason::Cancelled | Reason::Stuck => n.on_failure,
            Reason::Critical => true,
        }
    }
}

/// Every condition the run shows, worst last.
fn conditions(record: &RunRecord) -> Vec<Reason> {
    let any = |f: &dyn Fn(Outcome) -> bool| record.jobs.iter().any(|j| f(j.outcome));
    let mut found = Vec::new();
    if record.exit() == Exit::Ok {
        found.push(Reason::Complete);
    }
    if any(&|o| o == Outcome::Warnings) || !record.alerts.is_empty() || !record.recovered.is_empty()
    {
        found.push(Reason::Warnings);
    }
    if any(&|o| o == Outcome::Partial) {
        found.push(Reason::Partial);
    }
    if any(&|o| matches!(o, Outcome::TimedOutAborted | Outcome::TimedOutNotStopped)) {
        found.push(Reason::TimedOut);
    }
    // Not started, skipped and missing jobs are failures too (exit 1): nothing was backed up.
    if any(&|o| {
        matches!(
            o,
            Outcome::Failed | Outcome::NotStarted | Outcome::Skipped | Outcome::MissingOnServer
        )
    }) {
        found.push(Reason::Failed);
    }
    if record.cancelled {
        found.push(Reason::Cancelled);
    }
    if !record.critical.is_empty() {
        found.push(Reason::Critical);
    }
    found
}

/// Whether to mail this run, and why. `None` when notification is off, or when none of the
/// run's conditions has its `on_*` flag set. A run with several conditions (a failure and a
/// timeout, say) is mailed when any of their flags is set, always under its worst condition:
/// an operator who only asked for timeouts still hears about that night, and the subject does
/// not understate it. Critical (exit 4) always mails when notification is enabled.
pub fn decide(n: &Notification, record: &RunRecord) -> Option<Reason> {
    if !n.enabled {
        return None;
    }
    let found = conditions(record);
    let worst = *found.last()?;
    found.iter().any(|r| r.wanted(n)).then_some(worst)
}

/// `[jbr] FAILED: 2 of 6 jobs not ok, 1 alert — nas01`: the word to filter on, the counts, and
/// the host the report came from. Jobs disabled in the config are not counted.
pub fn subject(reason: Reason, record: &RunRecord, host: &str) -> String {
    let counted = || {
        record
            .jobs
            .iter()
            .filter(|j| j.outcome != Outcome::DisabledInConfig)
    };
    let total = counted().count();
    let ok = counted().filter(|j| j.outcome.is_success()).count();
    let warned = counted().filter(|j| j.outcome == Outcome::Warnings).count();
    let mut parts = Vec::new();
    if !record.critical.is_empty() {
        parts.push(format!("{} left enabled", record.critical.len()));
    }
    if ok == total {
        parts.push(format!("{ok} of {total} jobs ok"));
    } else {
        parts.push(format!("{} of {total} jobs not ok", total - ok));
    }
    if warned > 0 {
        parts.push(format!("{warned} with warnings"));
    }
    match record.alerts.len() {
        0 => {}
        1 => parts.push("1 alert".into()),
        a => parts.push(format!("{a} alerts")),
    }
    if !record.recovered.is_empty() {
        parts.push("cleanup of an earlier run".into());
    }
    format!("[jbr] {}: {} — {host}", reason.word(), parts.join(", "))
}

/// This machine's name (the Pi's), for the subject and the footer.
pub fn host_name() -> String {
    hostname::get()
        .ok()
        .and_then(|h| h.into_string().ok())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown host".into())
}

/// The mail's text: the same report `jbr run` prints (alerts included), then where it came from
/// and which switch sent it.
pub fn body(reason: Reason, record: &RunRecord, host: &str) -> String {
    format!("{}{}", text::render(record), footer(reason.flag(), host))
}

/// The mail's HTML alternative: the table and the night's timeline, then the rest of the text
/// report and the same footer.
pub fn html_body(reason: Reason, record: &RunRecord, host: &str) -> String {
    html::render(record, &footer(reason.flag(), host))
}

/// Where a mail came from and which switch sent it, after a blank line and the signature mark.
fn footer(flag: &str, host: &str) -> String {
    format!(
        "\n-- \njbr {} on {host}; mailed because of {flag}.\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// What a mail carries: always the text; a run's report also its HTML alternative.
#[derive(Debug, Clone)]
struct Body {
    text: String,
    html: Option<String>,
}

/// How the connection is secured, from `smtp_tls` and `smtp_port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// `smtp_tls: false`: no TLS at all, as the older tool did (a relay on localhost:25).
    Plain,
    /// `smtp_tls: true`: STARTTLS, required (a server that does not offer it is an error).
    StartTls,
    /// `smtp_tls: true` on port 465: TLS from the first byte (SMTPS), which is what 465 speaks.
    Implicit,
}

impl Security {
    pub fn of(n: &Notification) -> Security {
        match (n.smtp_tls, n.smtp_port) {
            (false, _) => Security::Plain,
            (true, 465) => Security::Implicit,
            (true, _) => Security::StartTls,
        }
    }
}

impl fmt::Display for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Security::Plain => "plain, no TLS",
            Security::StartTls => "STARTTLS",
            Security::Implicit => "implicit TLS",
        })
    }
}

/// Why the report was not mailed. One line each, naming the config key or the SMTP server;
/// never the password.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("email report: at '{field}': {value:?} is not an email address ({reason})")]
    Address {
        field: String,
        value: String,
        reason: String,
    },
    #[error("email report: at 'notification.to_addresses': no recipients")]
    NoRecipients,
    #[error("email report: could not build the message: {0}")]
    Message(String),
    #[error("email report: TLS setup for {host}: {reason}")]
    Tls { host: String, reason: String },
    #[error("email report via {host}:{port} ({security}): {reason}")]
    Send {
        host: String,
        port: u16,
        security: Security,
        reason: String,
    },
    #[error(
        "email report via {host}:{port} ({security}): no answer within {} s, gave up",
        secs(*.after)
    )]
    Timeout {
        host: String,
        port: u16,
        security: Security,
        after: Duration,
    },
}

/// `0.5`, `60`: the fractional seconds the config and the tests speak.
fn secs(d: Duration) -> String {
    format!("{}", d.as_secs_f64())
}

/// Knobs the config does not have; `send_report` uses the defaults.
#[derive(Debug, Clone, Default)]
pub struct SendOptions {
    /// An extra trusted root (PEM), on top of the system's (`/etc/ssl/certs`). The tests use it
    /// for their private CA; in production, add a private CA the Debian way
    /// (`/usr/local/share/ca-certificates/`, `update-ca-certificates`) or set `SSL_CERT_FILE`.
    pub extra_root_pem: Option<Vec<u8>>,
}

/// Mail the report if `decide` says so; `Ok(())` also when there is nothing to send.
///
/// The whole exchange is bounded by `timeout` (fractional seconds welcome). lettre's own timeout
/// only bounds the TCP connect: a server that accepts but never greets would hang the run for
/// ever (lettre#1027), so the send runs inside `tokio::time::timeout`.
///
/// The caller logs an error and keeps the run's exit code (see the module doc).
///
/// Call it on a real clock: under tokio's paused, auto-advancing clock (`jbr demo`) the runtime
/// is idle while it waits for the network, so the timeout would fire at once.
pub async fn send_report(
    n: &Notification,
    record: &RunRecord,
    timeout: Duration,
) -> Result<(), NotifyError> {
    send_report_with(n, record, timeout, &SendOptions::default()).await
}

/// `send_report` with `SendOptions`.
pub async fn send_report_with(
    n: &Notification,
    record: &RunRecord,
    timeout: Duration,
    options: &SendOptions,
) -> Result<(), NotifyError> {
    let Some(reason) = decide(n, record) else {
        tracing::debug!("email report: not sent (notification off, or no on_* flag matches)");
        return Ok(());
    };
    let host = host_name();
    let subject = subject(reason, record, &host);
    let body = Body {
        text: body(reason, record, &host),
        html: Some(html_body(reason, record, &host)),
    };
    deliver(n, &subject, body, timeout, options).await
}

/// The mail of a run refused because the lock holder (`holder`, as `LockError` describes it)
/// has held it for `held_secs`, past `orchestrator.lock_alert_after`. Sent under `on_failure`.
pub async fn send_lock_alert(
    n: &Notification,
    lock_file: &std::path::Path,
    holder: &str,
    held_secs: f64,
    timeout: Duration,
) -> Result<bool, NotifyError> {
    if !n.enabled || !Reason::Stuck.wanted(n) {
        return Ok(false);
    }
    let held = crate::report::time::duration(held_secs.floor());
    let text = lock_alert_text(lock_file, holder, held_secs);
    send_notice(
        n,
        Reason::Stuck.word(),
        &format!("a run has held the lock for {held}"),
        &text,
        Reason::Stuck.flag(),
        timeout,
    )
    .await
    .map(|()| true)
}

/// What a run refused past `lock_alert_after` says (the mail's text, the `/fail` ping's body):
/// who holds the lock, for how long, and what that means.
pub fn lock_alert_text(lock_file: &std::path::Path, holder: &str, held_secs: f64) -> String {
    format!(
        "jbr run was refused: {} is held by {holder}.\n\nThat run has held it for {}, longer than orchestrator.lock_alert_after: last night's run may be stuck. `jbr status` shows what it is on; the servers' backups wait until it ends.",
        lock_file.display(),
        crate::report::time::duration(held_secs.floor())
    )
}

/// What `jbr daemon` mails besides each cycle's report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DaemonNotice {
    /// The daemon started (`on_daemon_lifecycle`).
    Started,
    /// The daemon stopped (`on_daemon_lifecycle`).
    Stopped,
    /// SIGHUP found the config invalid; the daemon keeps the one it had (`on_failure`).
    ConfigRejected,
}

impl DaemonNotice {
    pub fn word(self) -> &'static str {
        match self {
            DaemonNotice::Started => "DAEMON STARTED",
            DaemonNotice::Stopped => "DAEMON STOPPED",
            DaemonNotice::ConfigRejected => "CONFIG REJECTED",
        }
    }

    pub fn flag(self) -> &'static str {
        match self {
            DaemonNotice::Started | DaemonNotice::Stopped => "notification.on_daemon_lifecycle",
            DaemonNotice::ConfigRejected => "notification.on_failure",
        }
    }

    fn wanted(self, n: &Notification) -> bool {
        match self {
            DaemonNotice::Started | DaemonNotice::Stopped => n.on_daemon_lifecycle,
            DaemonNotice::ConfigRejected => n.on_failure,
        }
    }
}

/// Mail `notice` when notification is on and its switch is: the subject is
/// `[jbr] WORD: headline — host`, the body `text` and the usual footer. `Ok(false)`: not wanted.
pub async fn send_daemon_notice(
    n: &Notification,
    notice: DaemonNotice,
    headline: &str,
    text: &str,
    timeout: Duration,
) -> Result<bool, NotifyError> {
    if !n.enabled || !notice.wanted(n) {
        return Ok(false);
    }
    send_notice(n, notice.word(), headline, text, notice.flag(), timeout)
        .await
        .map(|()| true)
}

/// One mail that is not a run's report: `[jbr] WORD: headline — host`, `text`, and a footer
/// naming the version, the host and the switch that sent it.
async fn send_notice(
    n: &Notification,
    word: &str,
    headline: &str,
    text: &str,
    flag: &str,
    timeout: Duration,
) -> Result<(), NotifyError> {
    let host = host_name();
    let subject = format!("[jbr] {word}: {headline} — {host}");
    let body = Body {
        text: format!("{text}{}", footer(flag, &host)),
        html: None,
    };
    deliver(n, &subject, body, timeout, &SendOptions::default()).await
}

/// Send one mail within `timeout`.
async fn deliver(
    n: &Notification,
    subject: &str,
    body: Body,
    timeout: Duration,
    options: &SendOptions,
) -> Result<(), NotifyError> {
    let message = message(n, subject, body)?;
    let mailer = transport(n, options, timeout)?;
    let security = Security::of(n);
    let send_error = |reason: String| NotifyError::Send {
        host: n.smtp_host.clone(),
        port: n.smtp_port,
        security,
        reason,
    };
    let started = tokio::time::Instant::now();
    match tokio::time::timeout(timeout, mailer.send(message)).await {
        Ok(Ok(_)) => {
            tracing::info!(
                "email report sent via {}:{} ({security}) to {} recipient(s) in {:.2} s: {subject}",
                n.smtp_host,
                n.smtp_port,
                n.to_addresses.len(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Ok(Err(e)) => Err(send_error(explain(&scrub(&e.to_string(), n)))),
        Err(_) => Err(NotifyError::Timeout {
            host: n.smtp_host.clone(),
            port: n.smtp_port,
            security,
            after: timeout,
        }),
    }
}

/// `send_report`, logging a failure as a warning: for a caller that has nothing else to do with
/// it. Returns whether a mail went out, for the caller's own summary line if it wants one.
pub async fn send_and_log(n: &Notification, record: &RunRecord, timeout: Duration) -> bool {
    match send_report(n, record, timeout).await {
        Ok(()) => decide(n, record).is_some(),
        Err(e) => {
            tracing::warn!("{e} (the run's exit code is unaffected)");
            false
        }
    }
}

fn mailbox(field: String, value: &str) -> Result<Mailbox, NotifyError> {
    value.parse::<Mailbox>().map_err(|e| NotifyError::Address {
        field,
        value: value.to_string(),
        reason: e.to_string(),
    })
}

fn message(n: &Notification, subject: &str, body: Body) -> Result<Message, NotifyError> {
    if n.to_addresses.is_empty() {
        return Err(NotifyError::NoRecipients);
    }
    let mut builder = Message::builder()
        .from(mailbox(
            "notification.from_address".into(),
            &n.from_address,
        )?)
        .subject(subject)
        // lettre adds Date but not Message-ID; mail without one is often filed as spam.
        .message_id(None);
    for (i, to) in n.to_addresses.iter().enumerate() {
        builder = builder.to(mailbox(format!("notification.to_addresses[{i}]"), to)?);
    }
    let built = match body.html {
        // Plain first: a client shows the last alternative it can render, so one that cannot
        // show HTML falls back to exactly the text report.
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(body.text, html)),
        None => builder.header(ContentType::TEXT_PLAIN).body(body.text),
    };
    built.map_err(|e| NotifyError::Message(e.to_string()))
}

fn transport(
    n: &Notification,
    options: &SendOptions,
    timeout: Duration,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, NotifyError> {
    let tls_error = |reason: String| NotifyError::Tls {
        host: n.smtp_host.clone(),
        reason,
    };
    let tls = match Security::of(n) {
        Security::Plain => Tls::None,
        security => {
            let mut params = TlsParameters::builder(n.smtp_host.clone());
            if let Some(pem) = &options.extra_root_pem {
                let ca = Certificate::from_pem(pem)
                    .map_err(|e| tls_error(format!("extra root certificate: {e}")))?;
                params = params.add_root_certificate(ca);
            }
            let params = params.build().map_err(|e| tls_error(e.to_string()))?;
            if security == Security::Implicit {
                Tls::Wrapper(params)
            } else {
                Tls::Required(params)
            }
        }
    };
    // builder_dangerous only means "no TLS preset": `tls` below sets what the config asks for.
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&n.smtp_host)
        .port(n.smtp_port)
        .tls(tls)
        // Bounds only the TCP connect; the outer tokio timeout bounds the rest.
        .timeout(Some(timeout));
    if !n.smtp_user.is_empty() {
        builder = builder.credentials(Credentials::new(
            n.smtp_user.clone(),
            n.smtp_password.expose().to_string(),
        ));
    }
    Ok(builder.build())
}

/// lettre's message as one line, without its repeated prefixes ("Connection error: Connection
/// error: …"), plus what to do for the failures an operator can fix on this machine.
fn explain(text: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in text.split(": ") {
        if parts.last() != Some(&part) {
            parts.push(part);
        }
    }
    let mut line = parts.join(": ").replace(['\r', '\n'], " ");
    if line.contains("UnknownIssuer") {
        line.push_str(
            " (no CA this machine trusts signed the server's certificate; for a private CA, \
             put it in /usr/local/share/ca-certificates/ and run update-ca-certificates)",
        );
    } else if line.contains("STARTTLS is not supported") {
        line.push_str(" (smtp_tls: true requires STARTTLS, or implicit TLS on port 465)");
    }
    line
}

/// Belt and braces: lettre's errors carry server replies, and a server could echo what it got.
fn scrub(text: &str, n: &Notification) -> String {
    let secret = n.smtp_password.expose();
    if secret.is_empty() {
        text.to_string()
    } else {
        text.replace(secret, "***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use crate::report::{Alert, AlertKind, Critical, JobRecord};

    fn on() -> Notification {
        Notification {
            enabled: true,
            from_address: "jbr@nas01.example".into(),
            to_addresses: vec!["ops@example.com".into()],
            ..Notification::default()
        }
    }

    fn run(outcomes: &[Outcome]) -> RunRecord {
        let mut r = RunRecord::new("r1", 1_700_000_000.0);
        for (i, o) in outcomes.iter().enumerate() {
            r.jobs
                .push(JobRecord::new("web-01", &format!("job{i}"), "", *o));
        }
        r
    }

    #[test]
    fn defaults_mail_failures_timeouts_and_partials_but_not_clean_runs() {
        let n = on();
        assert_eq!(decide(&n, &run(&[Outcome::Completed])), None);
        assert_eq!(
            decide(&n, &run(&[Outcome::Completed, Outcome::Failed])),
            Some(Reason::Failed)
        );
        assert_eq!(
            decide(&n, &run(&[Outcome::TimedOutAborted])),
            Some(Reason::TimedOut)
        );
        assert_eq!(decide(&n, &run(&[Outcome::Partial])), Some(Reason::Partial));
        assert_eq!(
            decide(&n, &run(&[Outcome::Warnings])),
            Some(Reason::Warnings)
        );
        assert_eq!(decide(&n, &run(&[Outcome::Skipped])), Some(Reason::Failed));
    }

    #[test]
    fn disabled_never_mails_even_critical() {
        let mut r = run(&[Outcome::Failed]);
        r.critical.push(Critical {
            server: "web-01".into(),
            what: "job".into(),
            id: "job0".into(),
            message: "job job0 is ENABLED, disable it by hand".into(),
        });
        assert_eq!(decide(&Notification::default(), &r), None);
    }

    #[test]
    fn critical_mails_even_with_every_flag_off() {
        let n = Notification {
            on_failure: false,
            on_timeout: false,
            on_complete: false,
            on_partial: false,
            ..on()
        };
        let mut r = run(&[Outcome::Completed]);
        assert_eq!(decide(&n, &r), None);
        r.critical.push(Critical {
            server: "web-01".into(),
            what: "destination".into(),
            id: "d1".into(),
            message: "destination d1 is ENABLED".into(),
        });
        assert_eq!(decide(&n, &r), Some(Reason::Critical));
    }

    #[test]
    fn any_matching_flag_mails_under_the_worst_condition() {
        let n = Notification {
            on_failure: false,
            on_partial: false,
            ..on()
        };
        let r = run(&[Outcome::Failed, Outcome::TimedOutAborted]);
        assert_eq!(decide(&n, &r), Some(Reason::Failed));
        assert_eq!(decide(&n, &run(&[Outcome::Failed])), None);
    }

    #[test]
    fn on_complete_mails_clean_runs_and_alerts_count_as_warnings() {
        let n = Notification {
            on_complete: true,
            ..on()
        };
        assert_eq!(
            decide(&n, &run(&[Outcome::Completed])),
            Some(Reason::Complete)
        );
        let mut r = run(&[Outcome::Completed]);
        r.alerts.push(Alert {
            kind: AlertKind::NoRecentSuccess,
            server: Some("web-01".into()),
            job_id: Some("job0".into()),
            message: "no successful run for 4 days".into(),
        });
        assert_eq!(decide(&on(), &r), Some(Reason::Warnings));
    }

    #[test]
    fn journal_cleanup_of_an_earlier_run_is_worth_a_mail() {
        let mut r = run(&[Outcome::Completed]);
        r.recovered
            .push("disabled job job9 on web-01 (left enabled by run r0)".into());
        assert_eq!(decide(&on(), &r), Some(Reason::Warnings));
        assert_eq!(
            subject(Reason::Warnings, &r, "nas01"),
            "[jbr] WARNINGS: 1 of 1 jobs ok, cleanup of an earlier run — nas01"
        );
    }

    #[test]
    fn cancelled_is_worse_than_the_jobs_it_left_unstarted() {
        let mut r = run(&[Outcome::Completed, Outcome::NotStarted]);
        r.cancelled = true;
        assert_eq!(decide(&on(), &r), Some(Reason::Cancelled));
    }

    #[test]
    fn subject_names_the_word_counts_and_host() {
        let r = run(&[
            Outcome::Completed,
            Outcome::Failed,
            Outcome::TimedOutAborted,
            Outcome::Completed,
            Outcome::Warnings,
            Outcome::Completed,
            Outcome::DisabledInConfig,
        ]);
        assert_eq!(
            subject(Reason::Failed, &r, "nas01"),
            "[jbr] FAILED: 2 of 6 jobs not ok, 1 with warnings — nas01"
        );
        let clean = run(&[Outcome::Completed, Outcome::Completed]);
        assert_eq!(
            subject(Reason::Complete, &clean, "nas01"),
            "[jbr] OK: 2 of 2 jobs ok — nas01"
        );
        let mut crit = run(&[Outcome::Failed]);
        crit.critical.push(Critical {
            server: "web-01".into(),
            what: "job".into(),
            id: "job0".into(),
            message: "job job0 is ENABLED".into(),
        });
        assert_eq!(
            subject(Reason::Critical, &crit, "nas01"),
            "[jbr] CRITICAL: 1 left enabled, 1 of 1 jobs not ok — nas01"
        );
    }

    #[test]
    fn security_follows_smtp_tls_and_port() {
        let mut n = on();
        assert_eq!(Security::of(&n), Security::Plain);
        n.smtp_tls = true;
        n.smtp_port = 587;
        assert_eq!(Security::of(&n), Security::StartTls);
        n.smtp_port = 465;
        assert_eq!(Security::of(&n), Security::Implicit);
    }

    #[test]
    fn bad_addresses_name_their_field() {
        let n = Notification {
            to_addresses: vec!["ops@example.com".into(), "not an address".into()],
            ..on()
        };
        let body = Body {
            text: "b".into(),
            html: None,
        };
        let e = message(&n, "s", body).err().map(|e| e.to_string());
        let e = e.unwrap_or_default();
        assert!(
            e.starts_with(
                "email report: at 'notification.to_addresses[1]': \"not an address\" is not an email address"
            ),
            "{e}"
        );
    }

    #[test]
    fn explain_drops_repeated_prefixes_and_says_what_to_do() {
        assert_eq!(
            explain("Connection error: Connection error: Connection refused (os error 111)"),
            "Connection error: Connection refused (os error 111)"
        );
        assert!(
            explain("Connection error: Connection error: invalid peer certificate: UnknownIssuer")
                .starts_with(
                    "Connection error: invalid peer certificate: UnknownIssuer (no CA this machine trusts"
                )
        );
    }

    #[test]
    fn scrub_hides_an_echoed_password() {
        let n = Notification {
            smtp_password: Secret::new("s3cr3t-pw"),
            ..on()
        };
        assert_eq!(
            scrub("535 bad credentials s3cr3t-pw", &n),
            "535 bad credentials ***"
        );
    }
}
