//! One multiplexed OpenSSH connection per server per run (openssh crate, `native-mux`).
//!
//! The master (`ssh -M -f -N`) is started on first use and every call after that is a channel
//! over it: no handshake per call (about 4 ms instead of about 220 ms on loopback; see
//! `benches/ssh_latency.rs`). Before each call the master is asked whether it is alive (a local
//! round trip over the control socket, no network); a dead one is dropped and a new one started,
//! so a master that died while we were idle costs no failed call and no command is ever sent
//! twice. A connection lost *during* a call is an error (`Disconnected`); the caller decides
//! whether and when to retry, and the next call reconnects.
//!
//! Decisions worth knowing:
//! - The operator's ssh configuration (`~/.ssh/config`, `/etc/ssh/ssh_config`) applies unless
//!   `SshOptions::config_file` says otherwise: ProxyJump, ciphers and the like are theirs to set.
//!   Tests pass `/dev/null` to stay isolated. jbr always sets host, port, user, key, BatchMode
//!   and host-key checking itself, and those win over the config files.
//! - Host keys: a server with `servers.NAME.known_hosts` is checked strictly against that file
//!   (`StrictHostKeyChecking=yes`: an unknown or changed key is refused, never learned). Without
//!   it, ssh's default files with `accept-new`: the first contact learns and logs the key, a
//!   changed key is refused (see `host_key_policy`).
//! - A remote exit status is passed through as it is, including 255: with native-mux, failures
//!   of ssh itself arrive as errors, not as status 255. Judging a status is the API layer's job.
//! - A call that exceeds `call_timeout` returns `Timeout` and leaves the connection usable, but
//!   the remote process may keep running: the mux protocol cannot signal it and the gate's
//!   grammar allows no remote `timeout` wrapper.
//! - `ControlPersist` is an idle bound (default 600 s), not "forever": if jbr is SIGKILLed, its
//!   orphaned master exits by itself once idle that long.

use std::fmt::Write as _;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use openssh::{ControlPersist, Error as SshError, KnownHosts, Session, SessionBuilder};
use tokio::sync::Mutex;
use tokio::time::timeout;

use super::{RawOutput, Transport, TransportError};
use crate::config::{Orchestrator, Server};

/// Where the control socket goes when nothing is configured: systemd's `RuntimeDirectory=jbr`.
pub const DEFAULT_CONTROL_DIR: &str = "/run/jbr";

/// Bound on asking a master whether it is alive (a local Unix-socket round trip).
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// Settings shared by every server's connection in one run.
#[derive(Debug, Clone)]
pub struct SshOptions {
    /// Directory for the master's control socket (a `.ssh-connection*` dir is made inside).
    /// `None`: `/run/jbr` when writable, else the system temp dir. Unix socket paths are limited
    /// to 108 bytes, so keep it short.
    pub control_dir: Option<PathBuf>,
    /// Bound on one call, measured locally.
    pub call_timeout: Duration,
    /// `ServerAliveInterval` (rounded up to whole seconds): a dead peer is noticed after about
    /// three intervals even while no call is running. `None`: ssh's default (off).
    pub server_alive_interval: Option<Duration>,
    /// `ssh -F FILE`. `None`: the operator's usual ssh configuration applies.
    pub config_file: Option<PathBuf>,
    /// How long an idle master lives on (`ControlPersist`), rounded up to whole seconds.
    pub control_persist_idle: Duration,
}

impl Default for SshOptions {
    fn default() -> Self {
        SshOptions {
            control_dir: None,
            call_timeout: Duration::from_secs(120),
            server_alive_interval: Some(Duration::from_secs(15)),
            config_file: None,
            control_persist_idle: Duration::from_secs(600),
        }
    }
}

impl SshOptions {
    /// From the config: `orchestrator.call_timeout`, and a master that outlives any pause
    /// between polls (so a job being followed keeps its one connection).
    pub fn from_orchestrator(o: &Orchestrator) -> Self {
        let idle = Duration::from_secs(600).max(o.poll_interval.saturating_mul(4));
        SshOptions {
            call_timeout: o.call_timeout,
            control_persist_idle: idle,
            ..SshOptions::default()
        }
    }
}

/// `Transport` over SSH to one server.
pub struct SshTransport {
    server: String,
    host: String,
    port: u16,
    user: String,
    key: Option<PathBuf>,
    known_hosts: Option<PathBuf>,
    ssh_timeout: Duration,
    call_timeout: Duration,
    builder: SessionBuilder,
    session: Mutex<Option<Arc<Session>>>,
    connects: AtomicU64,
}

impl SshTransport {
    /// Checks the host name (it becomes an ssh argument) and prepares the connection; nothing
    /// is opened until the first call.
    pub fn new(server: &Server, options: &SshOptions) -> Result<SshTransport, TransportError> {
        let other = |reason: String| TransportError::Other {
            server: server.name.clone(),
            reason,
        };
        // A host starting with '-' would be read by ssh as an option (-oProxyCommand=...).
        let host_ok = !server.host.is_empty()
            && !server.host.starts_with('-')
            && server
                .host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'));
        if !host_ok {
            return Err(other(format!(
                "host {:?} is not a host name or IP address",
                server.host
            )));
        }
        if server.user.is_empty() || server.user.starts_with('-') {
            return Err(other(format!(
                "user {:?} is not a valid user name",
                server.user
            )));
        }

        let control_dir = match &options.control_dir {
            Some(dir) => dir.clone(),
            None => default_control_dir(),
        };
        let mut b = SessionBuilder::default();
        b.port(server.port)
            .user(server.user.clone())
            .known_hosts_check(host_key_policy(server))
            .connect_timeout(whole_seconds(server.ssh_timeout))
            .control_directory(&control_dir)
            .control_persist(ControlPersist::IdleFor(idle_seconds(
                options.control_persist_idle,
            )));
        if let Some(key) = &server.ssh_key {
            b.keyfile(key);
        }
        if let Some(kh) = &server.known_hosts {
            b.user_known_hosts_file(kh);
        }
        if let Some(interval) = options.server_alive_interval {
            b.server_alive_interval(whole_seconds(interval));
        }
        if let Some(cfg) = &options.config_file {
            b.config_file(cfg);
        }
        Ok(SshTransport {
            server: server.name.clone(),
            host: server.host.clone(),
            port: server.port,
            user: server.user.clone(),
            key: server.ssh_key.clone(),
            known_hosts: server.known_hosts.clone(),
            ssh_timeout: server.ssh_timeout,
            call_timeout: options.call_timeout,
            builder: b,
            session: Mutex::new(None),
            connects: AtomicU64::new(0),
        })
    }

    /// How many SSH connections (masters) this transport has opened so far: 1 in a healthy run.
    pub fn connections_opened(&self) -> u64 {
        self.connects.load(Ordering::Relaxed)
    }

    /// Close the connection, if open. Dropping the transport does the same, synchronously.
    pub async fn close(&self) {
        let session = self.session.lock().await.take();
        if let Some(session) = session.and_then(|s| Arc::try_unwrap(s).ok()) {
            // The master may already be gone; there is nothing more to clean up then.
            let _ = session.close().await;
        }
    }

    /// `[host]:port` as ssh and known_hosts spell it.
    fn endpoint(&self) -> String {
        if self.port == 22 {
            self.host.clone()
        } else {
            format!("[{}]:{}", self.host, self.port)
        }
    }

    fn known_hosts_shown(&self) -> String {
        match &self.known_hosts {
            Some(p) => p.display().to_string(),
            None => "~/.ssh/known_hosts".to_string(),
        }
    }

    /// The live session, opening (or reopening) the master when needed.
    async fn session(&self) -> Result<Arc<Session>, TransportError> {
        let mut slot = self.session.lock().await;
        if let Some(s) = slot.as_ref() {
            match timeout(CHECK_TIMEOUT, s.check()).await {
                Ok(Ok(())) => return Ok(Arc::clone(s)),
                _ => {
                    tracing::warn!(
                        server = %self.server,
                        "SSH connection to {} is gone; reconnecting",
                        self.endpoint()
                    );
                    *slot = None;
                }
            }
        }
        // The master launch is bounded by ssh's ConnectTimeout for TCP and the banner; the
        // rest (key exchange, authentication) by this local bound.
        let bound = self.ssh_timeout + self.call_timeout;
        let session = match timeout(bound, self.builder.connect_mux(&self.host)).await {
            Err(_) => {
                return Err(TransportError::Connect {
                    server: self.server.clone(),
                    reason: format!(
                        "no SSH session with {} within {} s",
                        self.endpoint(),
                        bound.as_secs_f64()
                    ),
                });
            }
            Ok(Err(e)) => return Err(self.connect_error(&e)),
            Ok(Ok(s)) => Arc::new(s),
        };
        let n = self.connects.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::debug!(server = %self.server, connection = n, "SSH connection opened to {}", self.endpoint());
        if self.known_hosts.is_none()
            && let Some(line) = learned_host_key(session.control_socket())
        {
            tracing::warn!(
                server = %self.server,
                "first contact with {}: its host key was not known and is now pinned ({line}); \
                 a different key will be refused from now on. Set servers.{}.known_hosts to pin \
                 keys you checked yourself",
                self.endpoint(),
                self.server
            );
        }
        *slot = Some(Arc::clone(&session));
        Ok(session)
    }

    /// Forget `dead` if it is still the current session, so the next call reconnects.
    async fn forget(&self, dead: &Arc<Session>) {
        let mut slot = self.session.lock().await;
        if slot.as_ref().is_some_and(|s| Arc::ptr_eq(s, dead)) {
            *slot = None;
        }
    }

    fn connect_error(&self, e: &SshError) -> TransportError {
        let server = self.server.clone();
        let text = match e {
            SshError::Connect(io) => io.to_string(),
            SshError::Master(io) => {
                return TransportError::Other {
                    server,
                    reason: format!("cannot create the SSH control socket directory: {io}"),
                };
            }
            other => other.to_string(),
        };
        self.classify_connect_failure(&text)
    }

    /// Turn ssh's own words about a failed connect into one clear line (the server name is added by
    /// `TransportError`'s display).
    fn classify_connect_failure(&self, ssh_text: &str) -> TransportError {
        let (server, host, port, user) = (&self.server, &self.host, self.port, &self.user);
        let endpoint = self.endpoint();
        let known_hosts = self.known_hosts_shown();
        let t = ssh_text;
        let last_line = t
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty() && !l.starts_with('@'))
            .unwrap_or("ssh failed without a message")
            .to_string();
        let hostkey = |reason: String| TransportError::HostKey {
            server: server.to_string(),
            reason,
        };
        let connect = |reason: String| TransportError::Connect {
            server: server.to_string(),
            reason,
        };
        if t.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
            || t.contains("has changed and you have requested strict checking")
        {
            return hostkey(format!(
                "host key for {endpoint} does not match known_hosts ({known_hosts}): the server was \
                 reinstalled or someone is in between. Check its fingerprint on the server, then \
                 replace the line: ssh-keygen -R '{endpoint}' -f {known_hosts}"
            ));
        }
        if t.contains("host key is known for") || t.contains("No matching host key") {
            return hostkey(format!(
                "no host key for {endpoint} in known_hosts ({known_hosts}); enrol it after checking \
                 its fingerprint: ssh-keyscan -p {port} {host} >> {known_hosts} (see server/README.md)"
            ));
        }
        if t.contains("Host key verification failed") {
            return hostkey(format!(
                "host key for {endpoint} was refused (known_hosts: {known_hosts}): {last_line}"
            ));
        }
        if t.contains("Connection refused") {
            return connect(format!(
                "connection refused by {endpoint} (is sshd running on port {port}?)"
            ));
        }
        if t.contains("Permission denied") {
            let key = self
                .key
                .as_deref()
                .map_or("ssh's default keys".to_string(), |k| {
                    k.display().to_string()
                });
            return connect(format!(
                "{user}@{endpoint} refused the key {key}: {last_line} (is jbr's public key in the \
                 server's authorized_keys?)"
            ));
        }
        if t.contains("timed out") || t.contains("Operation timed out") {
            return connect(format!(
                "no answer from {endpoint} within ssh_timeout {} s",
                self.ssh_timeout.as_secs_f64()
            ));
        }
        if t.contains("Could not resolve hostname") {
            return connect(format!("cannot resolve host name {host:?}"));
        }
        connect(format!("{endpoint}: {last_line}"))
    }

    async fn call(&self, argv: &[String]) -> Result<RawOutput, TransportError> {
        let Some((program, args)) = argv.split_first() else {
            return Err(TransportError::Other {
                server: self.server.clone(),
                reason: "empty command".into(),
            });
        };
        let session = self.session().await?;
        let run = async {
            let mut cmd = session.command(program.as_str());
            cmd.args(args.iter().map(String::as_str));
            cmd.output().await
        };
        match timeout(self.call_timeout, run).await {
            Err(_) => Err(TransportError::Timeout {
                server: self.server.clone(),
                timeout: self.call_timeout,
            }),
            Ok(Ok(out)) => Ok(RawOutput {
                status: out.status.code(),
                stdout: out.stdout,
                stderr: out.stderr,
            }),
            Ok(Err(SshError::Remote(io))) if io.kind() == std::io::ErrorKind::NotFound => {
                Err(TransportError::Other {
                    server: self.server.clone(),
                    reason: format!(
                        "{program}: not found on the server (exit 127): is JetBackup 5 installed, \
                         and does jbr-gate's PATH include it?"
                    ),
                })
            }
            Ok(Err(SshError::Remote(io))) => Err(TransportError::Other {
                server: self.server.clone(),
                reason: format!("{program}: could not be run: {io}"),
            }),
            Ok(Err(e)) => {
                // The crate cannot tell a lost connection from a remote process killed by a
                // signal; either way there is no answer. Drop the master only if it is dead.
                let alive = matches!(timeout(CHECK_TIMEOUT, session.check()).await, Ok(Ok(())));
                let what = match e {
                    SshError::Disconnected | SshError::RemoteProcessTerminated => {
                        "ended without an exit status (connection dropped or process killed)"
                            .to_string()
                    }
                    other => other.to_string(),
                };
                let mut reason = format!("{program}: {what}");
                if !alive {
                    self.forget(&session).await;
                    if let Some(line) = master_log_tail(session.control_socket()) {
                        let _ = write!(reason, " ({line})");
                    }
                }
                reason.push_str("; the call may or may not have reached the server");
                Err(TransportError::Disconnected {
                    server: self.server.clone(),
                    reason,
                })
            }
        }
    }
}

impl Transport for SshTransport {
    fn server(&self) -> &str {
        &self.server
    }

    async fn run(&self, argv: &[String]) -> Result<RawOutput, TransportError> {
        self.call(argv).await
    }
}

/// `/run/jbr` when we may create sockets there, else the system temp dir.
pub fn default_control_dir() -> PathBuf {
    let run = Path::new(DEFAULT_CONTROL_DIR);
    if std::fs::create_dir_all(run).is_ok() && writable(run) {
        return run.to_path_buf();
    }
    std::env::temp_dir()
}

fn writable(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: access(2) reads a NUL-terminated path we own for the duration of the call.
    unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) == 0 }
}

/// ssh takes whole seconds; round up so 0.5 s means 1 s, never 0 (which would mean "no limit").
fn whole_seconds(d: Duration) -> Duration {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    Duration::from_secs(secs.max(1))
}

fn idle_seconds(d: Duration) -> NonZeroUsize {
    let secs = usize::try_from(whole_seconds(d).as_secs()).unwrap_or(usize::MAX);
    NonZeroUsize::new(secs).unwrap_or(NonZeroUsize::MIN)
}

/// How host keys are checked. A server with its own `known_hosts` file is checked strictly
/// against it: an unknown or changed key is refused, never added (the operator enrolled the
/// keys). Without one, ssh's default files apply with `accept-new`: the first contact learns
/// the key into `~/.ssh/known_hosts` (jbr logs it), and a *changed* key is always refused.
/// That keeps the older tool's configs working unchanged (they have no known_hosts key) while
/// still catching a server that is swapped out or someone in between after the first contact.
fn host_key_policy(server: &Server) -> KnownHosts {
    if server.known_hosts.is_some() {
        KnownHosts::Strict
    } else {
        KnownHosts::Add
    }
}

/// ssh's "Permanently added '...' (ED25519) to the list of known hosts." from the master's log,
/// when this connection learned a host key (accept-new).
fn learned_host_key(control_socket: &Path) -> Option<String> {
    master_log(control_socket)?
        .lines()
        .map(str::trim)
        .find(|l| l.contains("Permanently added"))
        .map(|l| {
            l.trim_start_matches("Warning: ")
                .chars()
                .take(200)
                .collect()
        })
}

/// The last meaningful line of the master's log (`-E <dir>/log`), for "why did it drop".
fn master_log_tail(control_socket: &Path) -> Option<String> {
    master_log(control_socket)?
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .map(|l| l.chars().take(200).collect())
}

/// The master's own log: the openssh crate starts it with `-E <dir>/log`, beside its socket.
fn master_log(control_socket: &Path) -> Option<String> {
    std::fs::read_to_string(control_socket.parent()?.join("log")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(text: &str) -> TransportError {
        let mut s = server("127.0.0.1");
        s.port = 2222;
        s.ssh_key = Some("/etc/jbr/id_ed25519".into());
        s.known_hosts = Some("/etc/jbr/known_hosts".into());
        let opts = SshOptions {
            control_dir: Some(std::env::temp_dir()),
            ..SshOptions::default()
        };
        SshTransport::new(&s, &opts)
            .expect("valid server")
            .classify_connect_failure(text)
    }

    #[test]
    fn changed_host_key_is_a_host_key_error_with_advice() {
        let text = "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n\
            @    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n\
            @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n\
            Host key for [127.0.0.1]:2222 has changed and you have requested strict checking.\n\
            Host key verification failed.";
        let e = classify(text);
        assert!(!e.is_retryable());
        assert_eq!(
            e.to_string(),
            "server web-01: host key verification failed: host key for [127.0.0.1]:2222 does \
             not match known_hosts (/etc/jbr/known_hosts): the server was reinstalled or someone \
             is in between. Check its fingerprint on the server, then replace the line: \
             ssh-keygen -R '[127.0.0.1]:2222' -f /etc/jbr/known_hosts"
        );
    }

    #[test]
    fn unknown_host_key_says_how_to_enrol() {
        let e = classify(
            "No ED25519 host key is known for [127.0.0.1]:2222 and you have requested strict \
             checking.\nHost key verification failed.",
        );
        assert!(matches!(e, TransportError::HostKey { .. }));
        assert!(
            e.to_string()
                .contains("ssh-keyscan -p 2222 127.0.0.1 >> /etc/jbr/known_hosts")
        );
    }

    #[test]
    fn refused_and_denied_are_connect_errors() {
        let e = classify("ssh: connect to host 127.0.0.1 port 2222: Connection refused");
        assert_eq!(
            e.to_string(),
            "server web-01: cannot connect: connection refused by [127.0.0.1]:2222 (is sshd \
             running on port 2222?)"
        );
        let e = classify("root@127.0.0.1: Permission denied (publickey).");
        assert!(e.is_retryable());
        assert!(
            e.to_string()
                .contains("root@[127.0.0.1]:2222 refused the key /etc/jbr/id_ed25519"),
            "{e}"
        );
    }

    #[test]
    fn ssh_gets_whole_seconds_never_zero() {
        assert_eq!(
            whole_seconds(Duration::from_millis(300)),
            Duration::from_secs(1)
        );
        assert_eq!(
            whole_seconds(Duration::from_millis(2500)),
            Duration::from_secs(3)
        );
        assert_eq!(
            whole_seconds(Duration::from_secs(30)),
            Duration::from_secs(30)
        );
        assert_eq!(whole_seconds(Duration::ZERO), Duration::from_secs(1));
    }

    fn server(host: &str) -> Server {
        Server {
            name: "web-01".into(),
            host: host.into(),
            port: 51514,
            user: "root".into(),
            ssh_key: None,
            ssh_timeout: Duration::from_secs(30),
            destination_id: None,
            known_hosts: None,
            local_command: None,
        }
    }

    #[test]
    fn a_host_that_ssh_would_read_as_an_option_is_refused() {
        let opts = SshOptions {
            control_dir: Some(std::env::temp_dir()),
            ..SshOptions::default()
        };
        for bad in [
            "-oProxyCommand=touch /tmp/x",
            "",
            "a b",
            "host;id",
            "user@host",
        ] {
            let e = SshTransport::new(&server(bad), &opts).err();
            assert!(matches!(e, Some(TransportError::Other { .. })), "{bad:?}");
        }
        for good in ["web-01.example.com", "192.0.2.10", "::1", "fe80::1"] {
            assert!(SshTransport::new(&server(good), &opts).is_ok(), "{good}");
        }
    }
}
