//! A real SMTP server on loopback for the email tests (aiosmtpd, driven by `sink.py`), and a
//! private CA made with the openssl CLI for the TLS ones.
//!
//! Tests skip with a printed `SKIP` line when aiosmtpd or openssl is missing, unless
//! `JBR_REQUIRE_SMTP=1` (set by scripts/test where it could install them), so CI cannot pass by
//! skipping.

use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use tempfile::TempDir;

const SINK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/smtp_sink.py");

/// The first Python that can import aiosmtpd: Debian's package lives under /usr/bin/python3,
/// which a pyenv or venv `python3` on PATH does not see.
fn python() -> Result<&'static str, String> {
    static FOUND: OnceLock<Result<&'static str, String>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            ["python3", "/usr/bin/python3"]
                .into_iter()
                .find(|py| {
                    Command::new(py)
                        .args(["-c", "import aiosmtpd.smtp"])
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .status()
                        .is_ok_and(|s| s.success())
                })
                .ok_or_else(|| {
                    "python3 -m aiosmtpd is not available (apt-get install python3-aiosmtpd)"
                        .to_string()
                })
        })
        .clone()
}

fn openssl() -> Result<(), String> {
    match Command::new("openssl").arg("version").output() {
        Ok(o) if o.status.success() => Ok(()),
        _ => Err("the openssl CLI is missing (apt-get install openssl)".into()),
    }
}

fn skip(test: &str, problem: Result<(), String>) -> bool {
    match problem {
        Ok(()) => false,
        Err(reason) => {
            if std::env::var("JBR_REQUIRE_SMTP").as_deref() == Ok("1") {
                panic!("{test}: JBR_REQUIRE_SMTP=1 but {reason}");
            }
            eprintln!("SKIP {test}: {reason}; run scripts/test as root to install it");
            true
        }
    }
}

/// True when the calling test should stop because the SMTP sink cannot run here (it says why).
pub fn skip_without_smtp(test: &str) -> bool {
    skip(test, python().map(|_| ()))
}

/// Like `skip_without_smtp`, and the TLS tests also need the openssl CLI for their CA.
pub fn skip_without_smtp_tls(test: &str) -> bool {
    skip(test, python().map(|_| ()).and_then(|()| openssl()))
}

/// How the sink secures its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkTls {
    Plain,
    /// STARTTLS offered and required before MAIL.
    StartTls,
    /// TLS from the first byte (SMTPS).
    Implicit,
}

/// One message as the sink received it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    pub from: String,
    pub to: String,
    /// Decoded, as a mail client shows it.
    pub subject: String,
    pub content_type: String,
    /// Decoded text body (of a multipart message: its text/plain part, what a text-only client
    /// shows).
    pub body: String,
    /// Every leaf MIME part in order, decoded by Python's `email` package.
    #[serde(default)]
    pub parts: Vec<ReceivedPart>,
    /// The message as it crossed the wire (after the DATA command).
    pub raw: String,
}

/// One leaf part of a received message.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ReceivedPart {
    pub content_type: String,
    pub charset: Option<String>,
    /// Decoded: transfer encoding undone, charset applied.
    pub body: String,
}

pub struct Sink {
    child: Child,
    pub port: u16,
    dir: TempDir,
}

pub struct SinkBuilder {
    tls: SinkTls,
    auth: Option<(String, String)>,
    cert: Option<(PathBuf, PathBuf)>,
    port: u16,
}

impl Sink {
    pub fn builder() -> SinkBuilder {
        SinkBuilder {
            tls: SinkTls::Plain,
            auth: None,
            cert: None,
            port: 0,
        }
    }

    /// A plain sink, no TLS, no AUTH.
    pub fn plain() -> Sink {
        Sink::builder().start()
    }

    /// Every message received so far, in arrival order. aiosmtpd stores a message before it
    /// answers 250, so after a successful send it is already here.
    pub fn messages(&self) -> Vec<Received> {
        let dir = self.dir.path().join("mail/json");
        let mut names: Vec<PathBuf> = fs::read_dir(&dir)
            .map(|d| {
                d.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "json"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
            .iter()
            .map(|p| {
                let text = fs::read_to_string(p).unwrap();
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            })
            .collect()
    }

    /// The Maildir's `new/` files, raw, for checks that must see every byte stored.
    pub fn maildir_files(&self) -> Vec<String> {
        let dir = self.dir.path().join("mail/new");
        fs::read_dir(&dir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| fs::read_to_string(e.path()).unwrap())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// One line per AUTH attempt: `MECHANISM LOGIN ok|bad`.
    pub fn auth_log(&self) -> String {
        fs::read_to_string(self.dir.path().join("auth.log")).unwrap_or_default()
    }

    /// What the sink wrote on stderr (for failure messages).
    pub fn stderr(&self) -> String {
        fs::read_to_string(self.dir.path().join("sink.stderr")).unwrap_or_default()
    }
}

impl SinkBuilder {
    pub fn tls(mut self, tls: SinkTls, ca: &Ca) -> Self {
        self.tls = tls;
        self.cert = Some((ca.server_cert.clone(), ca.server_key.clone()));
        self
    }

    pub fn auth(mut self, user: &str, password: &str) -> Self {
        self.auth = Some((user.into(), password.into()));
        self
    }

    /// A fixed port (465 for implicit TLS); 0 lets the OS pick.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Starts the sink and waits (10 s at most) until it listens. Panics with its stderr when it
    /// does not come up.
    pub fn start(self) -> Sink {
        self.try_start().unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn try_start(self) -> Result<Sink, String> {
        let py = python()?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let stderr = fs::File::create(dir.path().join("sink.stderr")).map_err(|e| e.to_string())?;
        let mut cmd = Command::new(py);
        cmd.arg(SINK)
            .arg(dir.path().join("mail"))
            .args(["--port", &self.port.to_string()]);
        match (self.tls, &self.cert) {
            (SinkTls::Plain, _) => {}
            (SinkTls::StartTls, Some((c, k))) => {
                cmd.arg("--starttls").arg(c).arg(k);
            }
            (SinkTls::Implicit, Some((c, k))) => {
                cmd.arg("--smtps").arg(c).arg(k);
            }
            (_, None) => return Err("a TLS sink needs a certificate".into()),
        }
        if let Some((u, p)) = &self.auth {
            cmd.args(["--auth", &format!("{u}:{p}")])
                .arg("--auth-log")
                .arg(dir.path().join("auth.log"));
        }
        match super::server::spawn_listening(&mut cmd, stderr) {
            Ok((child, port)) => Ok(Sink { child, port, dir }),
            Err(e) => Err(format!(
                "SMTP sink: {e}; stderr:\n{}",
                fs::read_to_string(dir.path().join("sink.stderr")).unwrap_or_default()
            )),
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A private CA and a server certificate for `localhost` / `127.0.0.1`, made with the openssl
/// CLI (EC P-256), as in shared/research/crates-and-infra.md §7.
pub struct Ca {
    _dir: TempDir,
    pub ca_pem: Vec<u8>,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

impl Ca {
    pub fn new() -> Ca {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let run = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(d)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "openssl {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=jbr test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        run(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ]);
        fs::write(
            d.join("ext.cnf"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        run(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            "server.pem",
            "-extfile",
            "ext.cnf",
        ]);
        Ca {
            ca_pem: fs::read(d.join("ca.pem")).unwrap(),
            server_cert: d.join("server.pem"),
            server_key: d.join("server.key"),
            _dir: dir,
        }
    }
}

/// Is `port` on 127.0.0.1 free for us to listen on (465 needs root)?
pub fn can_listen(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}
