//! The dead-man's switch (issue 11, item 1): Healthchecks-protocol pings around each run
//! (config `monitoring.*`).
//!
//! A run pings `URL/start?rid=R` when it starts, then `URL?rid=R` on exit 0 or `URL/fail?rid=R`
//! otherwise, with the text report as the POST body (cut to `BODY_LIMIT`). A refused run pings
//! `/fail` alone (`refused`). When no ping arrives, Healthchecks itself raises the alarm: that
//! covers the nights email cannot, a NAS that is off or a timer that never fired.
//!
//! A ping failure never changes the exit code: the backup's own result always wins (borgmatic's
//! monitoring hooks). Each ping is bounded by `healthcheck_timeout`, its two retries included,
//! and a failure is one warning line.
//!
//! The URL's path is the check's secret: it is only ever written into the HTTP request. Every
//! line here names the URL as scheme and host (`PingUrl`'s `Display`).
//!
//! The client is a few lines of HTTP/1.1 over tokio's `TcpStream`, with TLS from the same
//! rustls, ring and system roots the email report uses: one POST, `Connection: close`, the status
//! line read back. Call it on a real clock (see `notify::send_report`).

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::config::{Monitoring, PingUrl, Scheme};
use crate::exit::Exit;

/// Healthchecks keeps at most 100,000 bytes of a ping's body; jbr cuts it first, keeping the
/// head (the summary line and the job table come first in the report) and saying so.
pub const BODY_LIMIT: usize = 100_000;

/// One try and two retries, all within `healthcheck_timeout`.
const ATTEMPTS: u32 = 3;

/// The most of an answer read: the status line is all jbr needs.
const ANSWER_LIMIT: usize = 16 * 1024;

/// What a ping says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// `URL/start?rid=`: the run has begun.
    Start,
    /// `URL?rid=`: the run ended with exit 0.
    Success,
    /// `URL/fail?rid=`: the run ended with exit 1 or 4, or was refused.
    Fail,
}

impl Signal {
    fn suffix(self) -> &'static str {
        match self {
            Signal::Start => "/start",
            Signal::Success => "",
            Signal::Fail => "/fail",
        }
    }

    /// The signal the end of a run sends for its exit code.
    pub fn for_exit(exit: Exit) -> Signal {
        if exit == Exit::Ok {
            Signal::Success
        } else {
            Signal::Fail
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Signal::Start => "/start",
            Signal::Success => "success",
            Signal::Fail => "/fail",
        })
    }
}

/// Why a ping did not get through, after every attempt. One line; never the URL's path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("healthcheck ping {signal} to {url}: {reason} ({attempts} attempt(s) within {} s)", secs(*.within))]
pub struct PingError {
    pub signal: Signal,
    /// Scheme and host only.
    pub url: String,
    pub reason: String,
    pub attempts: u32,
    pub within: Duration,
}

fn secs(d: Duration) -> String {
    format!("{}", d.as_secs_f64())
}

/// The pings of one run: one URL, one timeout, one run id (`rid`) that ties the end to the start.
#[derive(Debug, Clone)]
pub struct Pinger {
    url: PingUrl,
    timeout: Duration,
    rid: String,
}

impl Pinger {
    /// `None` when no ping URL is configured.
    pub fn new(m: &Monitoring) -> Option<Pinger> {
        Some(Pinger {
            url: m.healthcheck_url.clone()?,
            timeout: m.healthcheck_timeout,
            rid: new_rid(),
        })
    }

    /// The UUID every ping of this run carries as `?rid=`.
    pub fn rid(&self) -> &str {
        &self.rid
    }

    /// Sends `signal` with `body` (cut to `BODY_LIMIT`): up to three attempts within the
    /// timeout, a server error or a dropped connection retried, a refusal (4xx) not.
    pub async fn send(&self, signal: Signal, body: &str) -> Result<(), PingError> {
        let body = cut(body);
        let request = self.request(signal, body.as_bytes());
        let started = Instant::now();
        let deadline = started + self.timeout;
        let mut reason = String::from("no attempt fit in the timeout");
        let mut attempts = 0;
        while attempts < ATTEMPTS {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            // Each attempt gets its share of what is left, so a server that hangs still leaves
            // time for the retries.
            let share = left / (ATTEMPTS - attempts);
            attempts += 1;
            let failure = match tokio::time::timeout(share, self.attempt(&request)).await {
                Ok(Ok(())) => {
                    tracing::info!(
                        "healthcheck ping {signal} sent to {} (rid {}, {} byte(s), {:.2} s)",
                        self.url,
                        self.rid,
                        body.len(),
                        started.elapsed().as_secs_f64()
                    );
                    return Ok(());
                }
                Ok(Err(f)) => f,
                Err(_) => Failure::Retry("no answer".into()),
            };
            let retry = matches!(failure, Failure::Retry(_));
            reason = self.scrub(failure.reason());
            tracing::debug!(
                "healthcheck ping {signal} to {}: attempt {attempts}: {reason}",
                self.url
            );
            if !retry {
                break;
            }
            // A short pause before a retry, never past the deadline.
            let left = deadline.saturating_duration_since(Instant::now());
            tokio::time::sleep((Duration::from_millis(200) * attempts).min(left / 4)).await;
        }
        Err(PingError {
            signal,
            url: self.url.redacted(),
            reason,
            attempts,
            within: self.timeout,
        })
    }

    /// `send`, a failure logged as one warning. Returns whether the ping got through.
    pub async fn send_and_log(&self, signal: Signal, body: &str) -> bool {
        match self.send(signal, body).await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!("{e} (the exit code is unaffected)");
                false
            }
        }
    }

    fn request(&self, signal: Signal, body: &[u8]) -> Vec<u8> {
        let head = format!(
            "POST {}{}?rid={} HTTP/1.1\r\nHost: {}\r\nUser-Agent: jbr/{}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.url.expose_path(),
            signal.suffix(),
            self.rid,
            self.url.authority(),
            env!("CARGO_PKG_VERSION"),
            body.len()
        );
        let mut request = head.into_bytes();
        request.extend_from_slice(body);
        request
    }

    async fn attempt(&self, request: &[u8]) -> Result<(), Failure> {
        let tcp = TcpStream::connect((self.url.host(), self.url.port()))
            .await
            .map_err(|e| Failure::Retry(format!("cannot connect: {e}")))?;
        let _ = tcp.set_nodelay(true);
        let status = match self.url.scheme() {
            Scheme::Http => exchange(tcp, request).await,
            Scheme::Https => {
                let name = rustls::pki_types::ServerName::try_from(self.url.host().to_string())
                    .map_err(|e| Failure::Give(format!("not a TLS server name: {e}")))?;
                let tls = tokio_rustls::TlsConnector::from(tls_config().map_err(Failure::Give)?)
                    .connect(name, tcp)
                    .await
                    .map_err(|e| Failure::Retry(explain_tls(&format!("TLS: {e}"))))?;
                exchange(tls, request).await
            }
        }?;
        match status.code {
            200..=299 => Ok(()),
            // A busy or broken server, or a rate limit: worth another try.
            408 | 429 | 500..=599 => Err(Failure::Retry(status.to_string())),
            300..=399 => Err(Failure::Give(format!(
                "{status} (redirects are not followed: give the ping URL itself)"
            ))),
            _ => Err(Failure::Give(status.to_string())),
        }
    }

    /// Belt and braces: a server's answer could echo the path it was sent, or a part of it.
    fn scrub(&self, text: &str) -> String {
        let path = self.url.expose_path();
        let mut out = text.replace(path, "/***");
        for part in path.split('/').filter(|p| p.len() >= 6) {
            out = out.replace(part, "***");
        }
        out
    }
}

/// A run that was refused (the lock held too long, a config it cannot use): one `/fail` with
/// `why` as its body, under a run id of its own. Nothing when no ping URL is configured; a
/// failure is one warning.
pub async fn refused(m: &Monitoring, why: &str) {
    if let Some(p) = Pinger::new(m) {
        p.send_and_log(Signal::Fail, why).await;
    }
}

/// One attempt's end.
enum Failure {
    /// Might go through on another try (no connection, no answer, 5xx, 429).
    Retry(String),
    /// Will not (a 4xx, a redirect, no TLS roots).
    Give(String),
}

impl Failure {
    fn reason(&self) -> &str {
        match self {
            Failure::Retry(r) | Failure::Give(r) => r,
        }
    }
}

/// An HTTP status line: `HTTP 404 Not Found`.
struct Status {
    code: u16,
    reason: String,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.code)?;
        if !self.reason.is_empty() {
            write!(f, " {}", self.reason)?;
        }
        Ok(())
    }
}

/// Writes the request, reads the answer's status line.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    request: &[u8],
) -> Result<Status, Failure> {
    let lost = |what: &str, e: std::io::Error| Failure::Retry(format!("{what}: {e}"));
    stream
        .write_all(request)
        .await
        .map_err(|e| lost("sending the ping", e))?;
    stream
        .flush()
        .await
        .map_err(|e| lost("sending the ping", e))?;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 2048];
    while !answer.contains(&b'\n') && answer.len() < ANSWER_LIMIT {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| lost("reading the answer", e))?;
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&chunk[..n]);
    }
    let line = answer.split(|b| *b == b'\n').next().unwrap_or_default();
    parse_status(&String::from_utf8_lossy(line)).ok_or_else(|| {
        if answer.is_empty() {
            Failure::Retry("the server closed the connection without an answer".into())
        } else {
            Failure::Retry("the answer is not HTTP".into())
        }
    })
}

/// `HTTP/1.1 200 OK` → 200, "OK". The reason is cut short and kept printable.
fn parse_status(line: &str) -> Option<Status> {
    let mut parts = line.trim_end().splitn(3, ' ');
    let version = parts.next()?;
    if !version.starts_with("HTTP/") {
        return None;
    }
    let code = parts.next()?;
    if code.len() != 3 {
        return None;
    }
    let code = code.parse::<u16>().ok()?;
    let reason = parts
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(80)
        .collect();
    Some(Status { code, reason })
}

/// rustls with ring and the system's roots (`/etc/ssl/certs`, or `SSL_CERT_FILE`), as the
/// email report trusts them; loaded once per process.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let mut roots = rustls::RootCertStore::empty();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                let why = found
                    .errors
                    .first()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default();
                return Err(format!(
                    "no trusted CA certificates on this machine{why} (install ca-certificates, or set SSL_CERT_FILE)"
                ));
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map(|b| Arc::new(b.with_root_certificates(roots).with_no_client_auth()))
                .map_err(|e| format!("TLS setup: {e}"))
        })
        .clone()
}

fn explain_tls(line: &str) -> String {
    if line.contains("UnknownIssuer") {
        format!(
            "{line} (no CA this machine trusts signed the server's certificate; for a private CA, put it in /usr/local/share/ca-certificates/ and run update-ca-certificates, or set SSL_CERT_FILE)"
        )
    } else {
        line.to_string()
    }
}

/// `body` cut to at most `BODY_LIMIT` bytes on a character boundary, the head kept and the cut
/// marked at the end.
pub fn cut(body: &str) -> Cow<'_, str> {
    if body.len() <= BODY_LIMIT {
        return Cow::Borrowed(body);
    }
    let mark = format!(
        "\n[jbr: report cut here; it has {} bytes, a ping carries at most {BODY_LIMIT}]\n",
        body.len()
    );
    let mut keep = BODY_LIMIT - mark.len();
    while !body.is_char_boundary(keep) {
        keep -= 1;
    }
    Cow::Owned(format!("{}{mark}", &body[..keep]))
}

/// A random (version 4) UUID: the kernel's, or one from std's random hash keys where
/// `/proc` has none.
fn new_rid() -> String {
    if let Ok(s) = std::fs::read_to_string("/proc/sys/kernel/random/uuid") {
        let s = s.trim();
        if s.len() == 36 {
            return s.to_ascii_lowercase();
        }
    }
    use std::hash::{BuildHasher, Hasher};
    let random = || {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        h.finish()
    };
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&random().to_le_bytes());
    b[8..].copy_from_slice(&random().to_le_bytes());
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_body_is_sent_whole() {
        assert_eq!(cut("report\n"), "report\n");
        let exact = "x".repeat(BODY_LIMIT);
        assert_eq!(cut(&exact).len(), BODY_LIMIT);
    }

    #[test]
    fn a_long_body_keeps_its_head_and_says_where_it_was_cut() {
        // Three-byte characters, so the limit falls inside one.
        let long = "é€".repeat(40_000);
        let c = cut(&long);
        assert!(c.len() <= BODY_LIMIT, "{}", c.len());
        assert!(c.len() > BODY_LIMIT - 200);
        assert!(c.ends_with(
            "[jbr: report cut here; it has 200000 bytes, a ping carries at most 100000]\n"
        ));
        let head = c.split("\n[jbr: report cut here").next().unwrap();
        assert!(long.starts_with(head));
    }

    #[test]
    fn run_ids_are_distinct_uuids() {
        let a = new_rid();
        let b = new_rid();
        assert_ne!(a, b);
        for r in [&a, &b] {
            assert_eq!(r.len(), 36, "{r}");
            assert_eq!(r.matches('-').count(), 4, "{r}");
            assert!(r.chars().all(|c| c.is_ascii_hexdigit() || c == '-'), "{r}");
        }
    }

    #[test]
    fn exit_0_is_success_and_1_and_4_are_fail() {
        assert_eq!(Signal::for_exit(Exit::Ok), Signal::Success);
        assert_eq!(Signal::for_exit(Exit::JobsFailed), Signal::Fail);
        assert_eq!(Signal::for_exit(Exit::Critical), Signal::Fail);
        assert_eq!(
            [Signal::Start, Signal::Success, Signal::Fail].map(Signal::suffix),
            ["/start", "", "/fail"]
        );
    }

    #[test]
    fn status_lines() {
        let s = parse_status("HTTP/1.1 200 OK\r").unwrap();
        assert_eq!((s.code, s.reason.as_str()), (200, "OK"));
        assert_eq!(
            parse_status("HTTP/1.0 404").unwrap().to_string(),
            "HTTP 404"
        );
        assert!(parse_status("SSH-2.0-OpenSSH").is_none());
        assert!(parse_status("HTTP/1.1 2000 OK").is_none());
    }

    #[test]
    fn the_request_carries_the_key_and_the_error_does_not() {
        let m = Monitoring {
            healthcheck_url: Some(PingUrl::parse("https://hc.example.org/ping/SECRETKEY").unwrap()),
            healthcheck_timeout: Duration::from_secs(10),
        };
        let p = Pinger::new(&m).unwrap();
        let r = String::from_utf8(p.request(Signal::Start, b"hi")).unwrap();
        assert!(
            r.starts_with(&format!(
                "POST /ping/SECRETKEY/start?rid={} HTTP/1.1\r\nHost: hc.example.org\r\n",
                p.rid()
            )),
            "{r}"
        );
        assert!(
            r.ends_with("Content-Length: 2\r\nConnection: close\r\n\r\nhi"),
            "{r}"
        );
        assert_eq!(
            p.scrub("HTTP 404 no check /ping/SECRETKEY"),
            "HTTP 404 no check /***"
        );
        let e = PingError {
            signal: Signal::Fail,
            url: p.url.redacted(),
            reason: "HTTP 503".into(),
            attempts: 3,
            within: Duration::from_secs_f64(2.5),
        };
        assert_eq!(
            e.to_string(),
            "healthcheck ping /fail to https://hc.example.org: HTTP 503 (3 attempt(s) within 2.5 s)"
        );
    }
}
