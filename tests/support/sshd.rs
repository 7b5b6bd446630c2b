//! Real OpenSSH servers on loopback for the SSH tests (recipe: shared/research/crates-and-infra.md §6).
//!
//! Each `Sshd` has its own temp dir, port, host key (plus a second one for the changed-key test),
//! client key, `known_hosts` and `authorized_keys` whose only line forces `server/jbr-gate`,
//! exactly as production installs it. The gate runs as the test user `jbrtest` (shell `/bin/sh`)
//! with a PATH that starts with a directory of the test's choosing, where it finds a fake (or
//! later `jbr-sim`) as `jetbackup5api`.
//!
//! Needs root (sshd reads host keys and switches users) and `/usr/sbin/sshd`; `skip_reason()` says
//! why a test cannot run. `scripts/test` installs openssh-server and sets `JBR_REQUIRE_SSHD=1`, so
//! CI fails instead of silently skipping. Every process started here is killed by PID on drop.

use std::fs;
use std::io;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::thread;
use std::time::{Duration, Instant};

pub const SSHD: &str = "/usr/sbin/sshd";
pub const TEST_USER: &str = "jbrtest";

/// Why sshd-backed tests cannot run here, or `None` when they can.
pub fn skip_reason() -> Option<String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        return Some("not running as root (sshd needs root to switch to the test user)".into());
    }
    if !Path::new(SSHD).exists() {
        return Some(format!(
            "{SSHD} is missing (apt-get install openssh-server)"
        ));
    }
    if Command::new("ssh").arg("-V").output().is_err() {
        return Some("the ssh client is missing (apt-get install openssh-client)".into());
    }
    if Command::new("ssh-keygen").arg("--help").output().is_err() {
        return Some("ssh-keygen is missing (apt-get install openssh-client)".into());
    }
    None
}

/// Returns true when the calling test should stop because sshd cannot run here (it prints why).
/// Panics instead when `JBR_REQUIRE_SSHD=1`, so CI cannot pass by skipping.
pub fn skip_without_sshd(test: &str) -> bool {
    match skip_reason() {
        None => false,
        Some(reason) => {
            if std::env::var("JBR_REQUIRE_SSHD").as_deref() == Ok("1") {
                panic!("{test}: JBR_REQUIRE_SSHD=1 but {reason}");
            }
            eprintln!("SKIP {test}: {reason}; run scripts/test as root to install openssh-server");
            true
        }
    }
}

static USER: Once = Once::new();

/// The unprivileged login user: shell /bin/sh (root's bash would source .bashrc on every call),
/// home /tmp (a missing home prints "Could not chdir" on every call's stderr).
fn ensure_test_user() {
    USER.call_once(|| {
        // /run is tmpfs and nothing creates sshd's privilege-separation dir without systemd.
        let _ = fs::create_dir_all("/run/sshd");
        let _ = fs::set_permissions("/run/sshd", fs::Permissions::from_mode(0o755));
        let exists = || {
            Command::new("id")
                .arg(TEST_USER)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
        };
        if !exists() {
            // Another worktree's tests may add it at the same moment: check again on failure.
            let _ = Command::new("useradd")
                .args(["--system", "--no-create-home", "--home-dir", "/tmp"])
                .args(["--shell", "/bin/sh", TEST_USER])
                .stderr(Stdio::null())
                .status();
            assert!(exists(), "could not create the test user {TEST_USER}");
        }
        // useradd leaves '!' (locked) in shadow; with UsePAM no sshd refuses even key logins.
        let ok = Command::new("usermod")
            .args(["-p", "*", TEST_USER])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "usermod -p '*' {TEST_USER} failed");
    });
}

fn keygen(path: &Path) {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "jbr-test", "-f"])
        .arg(path)
        .output()
        .expect("run ssh-keygen");
    assert!(
        out.status.success(),
        "ssh-keygen {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn free_port(addr: &str) -> u16 {
    let l = TcpListener::bind((addr, 0)).expect("bind a free loopback port");
    l.local_addr().expect("local addr").port()
}

/// Public key text `type base64` (no comment) of `<key>.pub`.
fn public_key(key: &Path) -> String {
    let text = fs::read_to_string(key.with_extension("pub")).expect("read public key");
    text.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

pub struct Sshd {
    pub dir: tempfile::TempDir,
    pub addr: String,
    pub port: u16,
    pub user: String,
    pub client_key: PathBuf,
    pub known_hosts: PathBuf,
    pub log_path: PathBuf,
    /// The directory put first on the gate's PATH.
    pub path_dir: PathBuf,
    host_key: PathBuf,
    second_host_key: PathBuf,
    config: PathBuf,
    /// Extra `NAME=value` for every session.
    env: Vec<String>,
    listener: Option<Child>,
}

impl Sshd {
    /// jbr's config for server `name` reached through this sshd: the test user and key, strict
    /// host keys from its own known_hosts, no NAS destination.
    pub fn server_config(&self, name: &str, ssh_timeout: Duration) -> jbr::config::Server {
        jbr::config::Server {
            name: name.into(),
            host: self.addr.clone(),
            port: self.port,
            user: self.user.clone(),
            ssh_key: Some(self.client_key.clone()),
            ssh_timeout,
            destination_id: None,
            known_hosts: Some(self.known_hosts.clone()),
            local_command: None,
        }
    }

    /// Start an sshd on 127.0.0.1 (a free port) whose forced command is `server/jbr-gate`, with
    /// `path_dir` first on the gate's PATH.
    pub fn start(path_dir: &Path) -> Sshd {
        Sshd::start_on("127.0.0.1", path_dir)
    }

    pub fn start_on(addr: &str, path_dir: &Path) -> Sshd {
        Sshd::start_with(addr, path_dir, &[])
    }

    /// Like `start_on`, and every session (so the gate and what it execs) also gets `env`, for
    /// example `JBR_SIM_STATE` for a `jbr-sim` behind the gate. Values must not hold spaces.
    pub fn start_with(addr: &str, path_dir: &Path, env: &[(&str, &str)]) -> Sshd {
        ensure_test_user();
        let dir = tempfile::Builder::new()
            .prefix("jbr-sshd-")
            .tempdir()
            .expect("tempdir");
        // The gate runs as the test user: it must reach the gate copy inside this dir.
        super::gate::open_dir(dir.path(), 0o755);
        let d = dir.path();
        let host_key = d.join("host_key");
        let second_host_key = d.join("host_key_2");
        let client_key = d.join("client_key");
        keygen(&host_key);
        keygen(&second_host_key);
        keygen(&client_key);

        // A copy, so the test user need not traverse the checkout's parent dirs.
        let gate = d.join("jbr-gate");
        fs::copy(super::gate::gate_path(), &gate).expect("copy server/jbr-gate");
        fs::set_permissions(&gate, fs::Permissions::from_mode(0o755)).expect("chmod gate");

        // Exactly the production line (server/README.md).
        let authorized_keys = d.join("authorized_keys");
        fs::write(
            &authorized_keys,
            format!(
                "command=\"{}\",no-port-forwarding,no-agent-forwarding,no-X11-forwarding,no-pty {} jbr\n",
                gate.display(),
                public_key(&client_key)
            ),
        )
        .expect("write authorized_keys");
        // Read as the target user.
        fs::set_permissions(&authorized_keys, fs::Permissions::from_mode(0o644))
            .expect("chmod authorized_keys");

        let mut sshd = Sshd {
            addr: addr.to_string(),
            port: 0,
            user: TEST_USER.to_string(),
            client_key,
            known_hosts: d.join("known_hosts"),
            log_path: d.join("sshd.log"),
            path_dir: path_dir.to_path_buf(),
            host_key,
            second_host_key,
            config: d.join("sshd_config"),
            env: env
                .iter()
                .map(|(k, v)| {
                    assert!(
                        !v.contains(char::is_whitespace),
                        "SetEnv value with a space: {v:?}"
                    );
                    format!("{k}={v}")
                })
                .collect(),
            listener: None,
            dir,
        };
        // A port can be taken between probing and binding: try a few.
        let mut last = String::new();
        for _ in 0..5 {
            sshd.port = free_port(addr);
            sshd.write_config(false);
            sshd.write_known_hosts(false);
            match sshd.try_start_listener() {
                Ok(()) => return sshd,
                Err(e) => last = e,
            }
        }
        panic!("could not start sshd: {last}");
    }

    fn write_config(&self, second_key: bool) {
        let key = if second_key {
            &self.second_host_key
        } else {
            &self.host_key
        };
        let cfg = format!(
            "Port {port}\nListenAddress {addr}\nHostKey {key}\nPidFile none\n\
             AuthorizedKeysFile {ak}\nAllowUsers {user}\nStrictModes no\nUsePAM no\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
             PermitRootLogin no\nMaxSessions 50\nMaxStartups 100\nPrintMotd no\nLogLevel VERBOSE\n\
             SetEnv PATH={path}:/usr/local/bin:/usr/bin:/bin{extra}\n",
            port = self.port,
            addr = self.addr,
            key = key.display(),
            ak = self.dir.path().join("authorized_keys").display(),
            user = self.user,
            path = self.path_dir.display(),
            extra = self.env.iter().map(|e| format!(" {e}")).collect::<String>(),
        );
        fs::write(&self.config, cfg).expect("write sshd_config");
    }

    /// `known_hosts` with the first (or second) host key for `[addr]:port`.
    fn write_known_hosts(&self, second_key: bool) {
        let key = if second_key {
            &self.second_host_key
        } else {
            &self.host_key
        };
        fs::write(&self.known_hosts, self.known_hosts_line_for(key)).expect("write known_hosts");
    }

    fn known_hosts_line_for(&self, key: &Path) -> String {
        format!("[{}]:{} {}\n", self.addr, self.port, public_key(key))
    }

    /// The known_hosts line for the key sshd serves now.
    pub fn known_hosts_line(&self) -> String {
        self.known_hosts_line_for(&self.host_key)
    }

    fn try_start_listener(&mut self) -> Result<(), String> {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .map_err(|e| format!("open sshd log: {e}"))?;
        let before = fs::read_to_string(&self.log_path).unwrap_or_default().len();
        let mut child = Command::new(SSHD)
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("spawn {SSHD}: {e}"))?;
        let ready = format!("Server listening on {} port {}", self.addr, self.port);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = fs::read_to_string(&self.log_path).unwrap_or_default();
            if log.get(before..).is_some_and(|l| l.contains(&ready)) {
                self.listener = Some(child);
                return Ok(());
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("sshd exited with {status}: {}", &log[before..]));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("sshd not listening after 10 s: {}", &log[before..]));
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Start the listener again on the same port (after `stop_listener`).
    pub fn start_listener(&mut self) {
        assert!(self.listener.is_none(), "listener already running");
        // The old socket may linger for a moment: retry briefly.
        let mut last = String::new();
        for _ in 0..20 {
            match self.try_start_listener() {
                Ok(()) => return,
                Err(e) => last = e,
            }
            thread::sleep(Duration::from_millis(100));
        }
        panic!("could not restart sshd on port {}: {last}", self.port);
    }

    /// Stop the listener, wait `down`, start it again on the same port (established connections
    /// are not touched; `kill_connections` first for a full server restart).
    pub fn restart_listener(&mut self, down: Duration) {
        self.stop_listener();
        thread::sleep(down);
        self.start_listener();
    }

    /// Kill the listening sshd only: new connections are refused, established ones live on.
    pub fn stop_listener(&mut self) {
        if let Some(mut child) = self.listener.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn listener_pid(&self) -> Option<u32> {
        self.listener.as_ref().map(Child::id)
    }

    /// SIGKILL every per-connection sshd (and what runs under it): established SSH connections
    /// drop as if the network had gone. Returns how many processes were killed.
    pub fn kill_connections(&self) -> usize {
        let Some(root) = self.listener_pid() else {
            return 0;
        };
        let pids = descendants(root);
        for &pid in &pids {
            // SAFETY: plain kill(2) on a PID we just found under our own sshd.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
        }
        pids.len()
    }

    /// SIGSTOP (or SIGCONT) every per-connection sshd: the peer hangs without closing anything,
    /// as a frozen server or a silent network drop would. Only keepalives can notice.
    pub fn freeze_connections(&self, frozen: bool) -> usize {
        let Some(root) = self.listener_pid() else {
            return 0;
        };
        let sig = if frozen { libc::SIGSTOP } else { libc::SIGCONT };
        let pids = descendants(root);
        for &pid in &pids {
            // SAFETY: plain kill(2) on a PID we just found under our own sshd.
            unsafe {
                libc::kill(pid as libc::pid_t, sig);
            }
        }
        pids.len()
    }

    /// SIGSTOP (or SIGCONT) the listener: new connections get no banner.
    pub fn freeze_listener(&self, frozen: bool) {
        if let Some(pid) = self.listener_pid() {
            let sig = if frozen { libc::SIGSTOP } else { libc::SIGCONT };
            // SAFETY: plain kill(2) on our own child.
            unsafe {
                libc::kill(pid as libc::pid_t, sig);
            }
        }
    }

    /// Serve the second host key from now on (restarts the listener); `known_hosts` is left
    /// alone, so clients see a changed key.
    pub fn change_host_key(&mut self) {
        self.stop_listener();
        self.write_config(true);
        std::mem::swap(&mut self.host_key, &mut self.second_host_key);
        self.start_listener();
    }

    pub fn log(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Successful logins so far: one per SSH connection.
    pub fn logins(&self) -> usize {
        self.log().matches("Accepted publickey for").count()
    }

    /// A plain `ssh` client for this server (one process, one connection), isolated from the
    /// machine's ssh config. `remote` is sent verbatim as the command line.
    pub fn ssh(&self, remote: &str) -> Command {
        let mut c = Command::new("ssh");
        c.args(["-F", "/dev/null", "-p", &self.port.to_string(), "-i"])
            .arg(&self.client_key)
            .args(["-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"])
            .args(["-o", "StrictHostKeyChecking=yes", "-o"])
            .arg(format!("UserKnownHostsFile={}", self.known_hosts.display()))
            .args(["-o", "ConnectTimeout=10", "-T"])
            .arg(format!("{}@{}", self.user, self.addr))
            .arg(remote)
            .stdin(Stdio::null());
        c
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.kill_connections();
        self.stop_listener();
    }
}

/// Every process below `root` (children, grandchildren, ...), from /proc.
fn descendants(root: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(entries) = fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            if let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) {
                // "pid (comm) state ppid ...": comm may hold spaces, so cut after the last ')'.
                let ppid = stat
                    .rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                    .and_then(|p| p.parse().ok());
                if let Some(ppid) = ppid {
                    parents.push((pid, ppid));
                }
            }
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for &(pid, ppid) in &parents {
            if ppid == p && !out.contains(&pid) {
                out.push(pid);
                frontier.push(pid);
            }
        }
    }
    out
}

/// Wait until `f` holds, polling; false after `timeout`.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        thread::sleep(Duration::from_millis(20));
    }
    f()
}

/// Run a command with a bound; kills it on timeout.
pub fn output_within(cmd: &mut Command, timeout: Duration) -> io::Result<std::process::Output> {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let deadline = Instant::now() + timeout;
    loop {
        if child.try_wait()?.is_some() {
            return child.wait_with_output();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::new(io::ErrorKind::TimedOut, "command timed out"));
        }
        thread::sleep(Duration::from_millis(5));
    }
}
