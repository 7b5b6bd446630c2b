//! A fleet of sshd-fronted `jbr-sim` "servers" sharing ONE simulator state, and the real `jbr`
//! binary run against them: the end-to-end harness of `tests/ssh_run*.rs`.
//!
//! Each server is a real sshd on 127.0.0.1 (own port, own host key) whose forced command is
//! `server/jbr-gate`, which execs `jbr-sim` installed as `jetbackup5api`. Every session gets
//! `JBR_SIM_STATE` (the shared state) and `JBR_SIM_SERVER` (which server of it answers), so the
//! simulator's timeline spans the whole fleet and `jbr-sim --dump` can say whether two servers
//! ever wrote to the NAS at once.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use jbr::sim::World;

use super::sshd::{Sshd, wait_until};

/// The longest a `jbr run` may take in these tests before it is killed and the test fails.
pub const RUN_BOUND: Duration = Duration::from_secs(120);

pub struct Fleet {
    /// World-writable: the simulator runs as the sshd test user and keeps its state here.
    pub work: tempfile::TempDir,
    pub state: PathBuf,
    /// Server name → its sshd, in name order.
    pub servers: Vec<(String, Sshd)>,
    pub world: World,
}

impl Fleet {
    /// One sshd per server of `world`, all answering from one shared simulator state.
    pub fn start(world: World) -> Fleet {
        let work = tempfile::Builder::new()
            .prefix("jbr-fleet-")
            .tempdir()
            .expect("tempdir");
        super::open_dir(work.path(), 0o777);
        let bin = work.path().join("bin");
        super::install_as(
            &bin,
            "jetbackup5api",
            Path::new(env!("CARGO_BIN_EXE_jbr-sim")),
        );
        let state = work.path().join("sim.json");
        fs::write(&state, serde_json::to_vec(&world).expect("serialize world"))
            .expect("write sim state");
        // The simulator (as the test user) opens the lock for writing and replaces the state.
        for f in [state.clone(), work.path().join("sim.json.lock")] {
            if !f.exists() {
                fs::write(&f, b"").expect("create lock file");
            }
            fs::set_permissions(&f, fs::Permissions::from_mode(0o666)).expect("chmod");
        }
        let state_text = state.display().to_string();
        let servers = world
            .servers
            .keys()
            .map(|name| {
                let sshd = Sshd::start_with(
                    "127.0.0.1",
                    &bin,
                    &[
                        ("JBR_SIM_STATE", state_text.as_str()),
                        ("JBR_SIM_SERVER", name.as_str()),
                    ],
                );
                (name.clone(), sshd)
            })
            .collect();
        Fleet {
            work,
            state,
            servers,
            world,
        }
    }

    pub fn sshd(&self, name: &str) -> &Sshd {
        &self
            .servers
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no server {name}"))
            .1
    }

    pub fn sshd_mut(&mut self, name: &str) -> &mut Sshd {
        &mut self
            .servers
            .iter_mut()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no server {name}"))
            .1
    }

    /// The simulator's id of job `name` on `server`.
    pub fn job_id(&self, server: &str, name: &str) -> String {
        let s = &self.world.servers[server];
        s.jobs
            .iter()
            .find(|j| j.name == name)
            .map(|j| j.id.clone())
            .unwrap_or_else(|| panic!("no job {name} on {server}"))
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.work.path().join(name)
    }

    /// A config for `jbr run` over SSH to every server (strict host keys, the sshd's own
    /// `known_hosts`), every job configured (priority in the order the world lists them), and
    /// fractional-second timings. `tweak` may change anything before it is written.
    pub fn write_config(&self, tweak: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
        let mut servers = serde_json::Map::new();
        let mut jobs = Vec::new();
        for (name, sshd) in &self.servers {
            let s = &self.world.servers[name];
            servers.insert(
                name.clone(),
                serde_json::json!({
                    "host": sshd.addr,
                    "port": sshd.port,
                    "user": sshd.user,
                    "ssh_key": sshd.client_key,
                    "known_hosts": sshd.known_hosts,
                    "ssh_timeout": 5,
                    "destination_id": s.destinations[0].id,
                }),
            );
            for (i, j) in s.jobs.iter().enumerate() {
                jobs.push(serde_json::json!({
                    "job_id": j.id, "server": name, "label": j.name, "priority": 10 - i as i64,
                }));
            }
        }
        let d = self.work.path();
        let mut config = serde_json::json!({
            "servers": servers,
            "jobs": jobs,
            "orchestrator": {
                "poll_interval": 0.2, "startup_timeout": 5, "job_timeout": 30, "stop_timeout": 5,
                "stop_poll_interval": 0.2, "call_timeout": 10, "retry_backoff": 0.1,
                "lock_file": d.join("jbr.lock"), "log_file": d.join("jbr.log"),
                "state_file": d.join("last-run.json"),
                "journal_file": d.join("last-run.json.journal"),
            },
        });
        tweak(&mut config);
        let path = d.join("config.json");
        fs::write(
            &path,
            serde_json::to_vec_pretty(&config).expect("serialize config"),
        )
        .expect("write config");
        path
    }

    /// Start `jbr -c CONFIG ARGS...` in the background; stdout and stderr go to files.
    pub fn spawn_jbr(&self, config: &Path, args: &[&str]) -> Running {
        let stdout = self.path("jbr.stdout");
        let stderr = self.path("jbr.stderr");
        let child = Command::new(env!("CARGO_BIN_EXE_jbr"))
            .arg("-c")
            .arg(config)
            .args(args)
            .stdin(Stdio::null())
            .stdout(fs::File::create(&stdout).expect("create stdout file"))
            .stderr(fs::File::create(&stderr).expect("create stderr file"))
            .spawn()
            .expect("start jbr");
        Running {
            child: Some(child),
            started: Instant::now(),
            stdout,
            stderr,
        }
    }

    /// `jbr -c CONFIG ARGS...` to its end (bounded by `RUN_BOUND`).
    pub fn run_jbr(&self, config: &Path, args: &[&str]) -> Finished {
        self.spawn_jbr(config, args).wait()
    }

    /// `jbr-sim --dump`: state, timeline, max concurrent writers, final state.
    pub fn dump(&self) -> serde_json::Value {
        let out = Command::new(env!("CARGO_BIN_EXE_jbr-sim"))
            .arg("--dump")
            .env("JBR_SIM_STATE", &self.state)
            .output()
            .expect("run jbr-sim --dump");
        assert!(
            out.status.success(),
            "jbr-sim --dump: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("dump is JSON")
    }

    /// The timeline's write intervals of `job` (by id).
    pub fn intervals_of(&self, dump: &serde_json::Value, job: &str) -> Vec<serde_json::Value> {
        dump["timeline"]
            .as_array()
            .expect("timeline")
            .iter()
            .filter(|w| w["job_id"] == job)
            .cloned()
            .collect()
    }

    /// Wait until `job` is writing to the NAS (a timeline interval without an end).
    pub fn wait_writing(&self, job: &str, timeout: Duration) -> bool {
        wait_until(timeout, || {
            self.intervals_of(&self.dump(), job)
                .iter()
                .any(|w| w["end"].is_null())
        })
    }

    /// Every simulator call `server` answered, by function.
    pub fn calls(&self, dump: &serde_json::Value, server: &str) -> serde_json::Value {
        dump["world"]["servers"][server]["calls"].clone()
    }
}

/// A `jbr` process started by `Fleet::spawn_jbr`. Killed (by PID) if dropped while running.
pub struct Running {
    child: Option<Child>,
    started: Instant,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Running {
    pub fn stderr_so_far(&self) -> String {
        fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// SIGKILL, as the OOM killer or a power cut would: no cleanup of any kind runs.
    pub fn kill(mut self) -> Finished {
        let mut child = self.child.take().expect("jbr was started");
        let _ = child.kill();
        let status = child.wait().expect("reap jbr");
        Finished {
            status,
            elapsed: self.started.elapsed(),
            stdout: fs::read_to_string(&self.stdout).unwrap_or_default(),
            stderr: fs::read_to_string(&self.stderr).unwrap_or_default(),
        }
    }

    /// Wait for it to exit (at most `RUN_BOUND` since it started; killed and failed after).
    pub fn wait(mut self) -> Finished {
        let mut child = self.child.take().expect("jbr was started");
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for jbr") {
                break status;
            }
            if self.started.elapsed() > RUN_BOUND {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "jbr still running after {RUN_BOUND:?}; stderr:\n{}",
                    fs::read_to_string(&self.stderr).unwrap_or_default()
                );
            }
            thread::sleep(Duration::from_millis(20));
        };
        Finished {
            status,
            elapsed: self.started.elapsed(),
            stdout: fs::read_to_string(&self.stdout).unwrap_or_default(),
            stderr: fs::read_to_string(&self.stderr).unwrap_or_default(),
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

pub struct Finished {
    pub status: ExitStatus,
    pub elapsed: Duration,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Everything, for assertion messages.
    pub fn shown(&self) -> String {
        format!(
            "exit {:?} after {:?}\n--- stdout\n{}--- stderr\n{}",
            self.status.code(),
            self.elapsed,
            self.stdout,
            self.stderr
        )
    }
}
