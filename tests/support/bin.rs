//! The one way the tests run `jbr` and `jbr-sim` as processes (after just's and ripgrep's
//! harnesses): build a `Cmd`, then `run()` it to its end or `spawn()` it. Every run is bounded in
//! time, so a hang fails its test instead of stalling CI. A `Run` prints as the command, its exit
//! status, stdout and stderr, and its `expect_*` methods fail with all of that shown.

use std::ffi::OsStr;
use std::fmt;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The longest any one process may run in the tests before it is killed and its test fails.
pub const BOUND: Duration = Duration::from_secs(120);

/// How long, after a process exits, its output may still arrive: a helper it started (an ssh
/// master, say) can hold the pipes open after a SIGKILL.
const DRAIN: Duration = Duration::from_secs(2);

/// `jbr`, with none of the environment that would change what it does (log filter, simulator).
pub fn jbr() -> Cmd {
    Cmd::new(env!("CARGO_BIN_EXE_jbr"))
        .env_remove("RUST_LOG")
        .env_remove("JBR_SIM_STATE")
        .env_remove("JBR_SIM_SERVER")
}

/// `jbr-sim` answering as no particular server until the test says which.
pub fn sim() -> Cmd {
    Cmd::new(env!("CARGO_BIN_EXE_jbr-sim")).env_remove("JBR_SIM_SERVER")
}

/// `jbr-sim` on the state file `state` (`--dump`, `-F …`, `soak` …).
pub fn sim_on(state: &Path) -> Cmd {
    sim().env("JBR_SIM_STATE", state)
}

pub struct Cmd {
    inner: Command,
    shown: String,
    bound: Duration,
}

impl Cmd {
    pub fn new(program: impl AsRef<OsStr>) -> Cmd {
        let program = program.as_ref();
        let name = Path::new(program)
            .file_name()
            .unwrap_or(program)
            .to_string_lossy()
            .into_owned();
        let mut inner = Command::new(program);
        // No test types at it; a test that feeds stdin sets it through `command_mut`.
        inner.stdin(Stdio::null());
        Cmd {
            inner,
            shown: name,
            bound: BOUND,
        }
    }

    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Cmd {
        self.shown.push(' ');
        self.shown.push_str(&shell_word(a.as_ref()));
        self.inner.arg(a);
        self
    }

    pub fn args<I, S>(self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        args.into_iter().fold(self, Cmd::arg)
    }

    /// `-c CONFIG`: the config file.
    pub fn config(self, path: &Path) -> Cmd {
        self.arg("-c").arg(path)
    }

    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Cmd {
        self.inner.env(key, value);
        self
    }

    pub fn env_remove(mut self, key: &str) -> Cmd {
        self.inner.env_remove(key);
        self
    }

    pub fn current_dir(mut self, dir: &Path) -> Cmd {
        self.inner.current_dir(dir);
        self
    }

    /// A shorter (or longer) limit than `BOUND` for this process.
    pub fn bound(mut self, bound: Duration) -> Cmd {
        self.bound = bound;
        self
    }

    /// Anything the builder does not cover (stdin, pre-exec hooks).
    pub fn command_mut(&mut self) -> &mut Command {
        &mut self.inner
    }

    /// Runs it to its end and returns what a user sees.
    pub fn run(self) -> Run {
        self.spawn().wait()
    }

    /// Starts it with stdout and stderr captured.
    pub fn spawn(mut self) -> Running {
        self.inner.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = self
            .inner
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{}`: {e}", self.shown));
        let stdout = Captured::start(child.stdout.take());
        let stderr = Captured::start(child.stderr.take());
        Running {
            child: Some(child),
            started: Instant::now(),
            shown: self.shown,
            bound: self.bound,
            stdout,
            stderr,
        }
    }
}

/// Quotes a word the way a shell would need it, for the `$ command` line only.
fn shell_word(w: &OsStr) -> String {
    let w = w.to_string_lossy();
    let plain = !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        w.into_owned()
    } else {
        format!("'{}'", w.replace('\'', r"'\''"))
    }
}

/// One output stream, read on its own thread as it arrives (a test can look at it while the
/// process runs).
struct Captured {
    bytes: Arc<Mutex<Vec<u8>>>,
    reader: Option<JoinHandle<()>>,
}

impl Captured {
    fn start(pipe: Option<impl Read + Send + 'static>) -> Captured {
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let reader = pipe.map(|mut pipe| {
            let sink = Arc::clone(&bytes);
            thread::spawn(move || {
                let mut chunk = [0u8; 8192];
                while let Ok(n) = pipe.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    sink.lock().unwrap().extend_from_slice(&chunk[..n]);
                }
            })
        });
        Captured { bytes, reader }
    }

    fn so_far(&self) -> String {
        String::from_utf8_lossy(&self.bytes.lock().unwrap()).into_owned()
    }

    /// Everything, once the writer has closed the pipe or `DRAIN` has passed.
    fn finish(&mut self) -> String {
        let until = Instant::now() + DRAIN;
        while self.reader.as_ref().is_some_and(|r| !r.is_finished()) && Instant::now() < until {
            thread::sleep(Duration::from_millis(5));
        }
        if let Some(r) = self.reader.take().filter(|r| r.is_finished()) {
            let _ = r.join();
        }
        self.so_far()
    }
}

/// A process started by `Cmd::spawn`. Killed if dropped while still running.
pub struct Running {
    child: Option<Child>,
    started: Instant,
    shown: String,
    bound: Duration,
    stdout: Captured,
    stderr: Captured,
}

impl Running {
    pub fn pid(&self) -> i32 {
        self.child.as_ref().map_or(0, |c| c.id() as i32)
    }

    /// Sends `signal` (SIGTERM, SIGINT, …) to the process.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid; no memory is involved.
        let rc = unsafe { libc::kill(self.pid(), signal) };
        assert_eq!(rc, 0, "kill({}, {signal}) for `{}`", self.pid(), self.shown);
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    pub fn stdout_so_far(&self) -> String {
        self.stdout.so_far()
    }

    pub fn stderr_so_far(&self) -> String {
        self.stderr.so_far()
    }

    /// Waits for its exit; past its bound it is killed and the test fails, showing its output.
    pub fn wait(mut self) -> Run {
        let mut child = self.child.take().expect("started");
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for the process") {
                break status;
            }
            if self.started.elapsed() > self.bound {
                let _ = child.kill();
                let status = child.wait().expect("reap the process");
                let run = self.finish(status);
                panic!("still running after {:?}, killed:\n{run}", self.bound);
            }
            thread::sleep(Duration::from_millis(10));
        };
        self.finish(status)
    }

    /// SIGKILL, as the OOM killer or a power cut would: no cleanup of any kind runs.
    pub fn kill(mut self) -> Run {
        let mut child = self.child.take().expect("started");
        let _ = child.kill();
        let status = child.wait().expect("reap the process");
        self.finish(status)
    }

    fn finish(&mut self, status: ExitStatus) -> Run {
        Run {
            command: self.shown.clone(),
            status,
            code: status.code(),
            took: self.started.elapsed(),
            stdout: self.stdout.finish(),
            stderr: self.stderr.finish(),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// What a process did, as its user saw it.
pub struct Run {
    pub command: String,
    pub status: ExitStatus,
    /// `None` when a signal ended it.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

impl Run {
    /// Fails, showing everything, unless it exited with `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(self.code, Some(code), "expected exit {code}:\n{self}");
        self
    }

    /// Fails, showing everything, unless it exited 0.
    #[track_caller]
    pub fn expect_success(&self) -> &Run {
        self.expect_code(0)
    }

    /// stdout as one JSON document.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{self}"))
    }

    /// The first stdout line that starts with `prefix`, both compared with whitespace runs as
    /// one space (table columns widen with their contents), or a failure showing everything.
    #[track_caller]
    pub fn line(&self, prefix: &str) -> String {
        let prefix = words(prefix);
        self.stdout
            .lines()
            .map(words)
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{self}"))
    }
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "$ {}\n{} after {:.1?}\n--- stdout\n{}--- stderr\n{}--- end",
            self.command, self.status, self.took, self.stdout, self.stderr
        )
    }
}

impl fmt::Debug for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Text with every run of whitespace as one space (help text is wrapped to the terminal).
pub fn words(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
