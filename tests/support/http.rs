//! A real HTTP server on loopback for the healthcheck ping tests: Python's `http.server`, driven
//! by `http_sink.py`. It logs every request before it answers, can answer any status, hang on
//! chosen paths, or speak HTTPS with a certificate from `smtp::Ca`.
//!
//! Tests skip with a printed reason when python3 (or openssl, for HTTPS) is missing, unless
//! `JBR_REQUIRE_TOOLS=1` (set by scripts/test), so CI cannot pass by skipping.

use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::smtp::Ca;

const SINK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/http_sink.py");

fn works(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn skip(test: &str, missing: Option<&str>) -> bool {
    let Some(what) = missing else {
        return false;
    };
    if std::env::var("JBR_REQUIRE_TOOLS").as_deref() == Ok("1") {
        panic!("{test}: JBR_REQUIRE_TOOLS=1 but {what} is missing");
    }
    eprintln!("SKIP {test}: {what} is missing");
    true
}

/// True when the calling test should stop: no python3 for the server (it says why).
pub fn skip_without_python(test: &str) -> bool {
    skip(test, (!works("python3", "--version")).then_some("python3"))
}

/// Like `skip_without_python`; HTTPS also needs the openssl CLI for its CA.
pub fn skip_without_https(test: &str) -> bool {
    skip_without_python(test)
        || skip(
            test,
            (!works("openssl", "version")).then_some("the openssl CLI"),
        )
}

/// One request as the server read it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: String,
    pub version: String,
    pub headers: std::collections::BTreeMap<String, String>,
    /// Decoded as UTF-8 (`utf8` says whether it was valid).
    pub body: String,
    pub body_len: usize,
    pub utf8: bool,
}

impl Request {
    /// The `rid` query parameter.
    pub fn rid(&self) -> &str {
        self.query
            .split('&')
            .find_map(|kv| kv.strip_prefix("rid="))
            .unwrap_or_default()
    }
}

pub struct Server {
    child: Child,
    pub port: u16,
    dir: TempDir,
}

#[derive(Default)]
pub struct Builder {
    status: Option<u16>,
    hang: Option<String>,
    tls: Option<(PathBuf, PathBuf)>,
}

impl Server {
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Answers every request 200 OK.
    pub fn ok() -> Server {
        Server::builder().start()
    }

    /// `http://127.0.0.1:PORT/ping/KEY` (https, and `localhost` as the certificate names it,
    /// for a TLS server).
    pub fn url(&self, key: &str) -> String {
        let tls = self.tls();
        let (scheme, host) = if tls {
            ("https", "localhost")
        } else {
            ("http", "127.0.0.1")
        };
        format!("{scheme}://{host}:{}/ping/{key}", self.port)
    }

    fn tls(&self) -> bool {
        self.dir.path().join("tls").exists()
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        let text = fs::read_to_string(self.dir.path().join("requests.jsonl")).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    /// What the server wrote on stderr (its access log), for failure messages.
    pub fn stderr(&self) -> String {
        fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default()
    }
}

impl Builder {
    /// Answer this status instead of 200.
    pub fn status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Never answer a request whose path matches `regex` (Python's `re`).
    pub fn hang(mut self, regex: &str) -> Self {
        self.hang = Some(regex.into());
        self
    }

    /// HTTPS with `ca`'s server certificate.
    pub fn tls(mut self, ca: &Ca) -> Self {
        self.tls = Some((ca.server_cert.clone(), ca.server_key.clone()));
        self
    }

    /// Starts it and waits (10 s at most) until it listens.
    pub fn start(self) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let stderr = fs::File::create(dir.path().join("stderr")).unwrap();
        let mut cmd = Command::new("python3");
        cmd.arg(SINK).arg(dir.path().join("requests.jsonl"));
        if let Some(s) = self.status {
            cmd.args(["--status", &s.to_string()]);
        }
        if let Some(h) = &self.hang {
            cmd.args(["--hang", h]);
        }
        if let Some((cert, key)) = &self.tls {
            cmd.arg("--tls").arg(cert).arg(key);
            fs::write(dir.path().join("tls"), b"").unwrap();
        }
        match super::server::spawn_listening(&mut cmd, stderr) {
            Ok((child, port)) => Server { child, port, dir },
            Err(e) => panic!(
                "HTTP server: {e}; stderr:\n{}",
                fs::read_to_string(dir.path().join("stderr")).unwrap_or_default()
            ),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits up to `timeout` until `server` has logged `n` requests, and returns them all.
pub fn wait_for(server: &Server, n: usize, timeout: Duration) -> Vec<Request> {
    let until = Instant::now() + timeout;
    loop {
        let r = server.requests();
        if r.len() >= n || Instant::now() > until {
            return r;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
