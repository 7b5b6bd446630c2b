//! Shared by the `tests/cmd_*.rs` files: a fleet of simulated servers behind the real `jbr-sim`
//! binary (one state file, one timeline), a config pointing at them via `local_command`, and a
//! way to run the real `jbr` binary and look at what a user sees.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use jbr::sim::{SimWorld, WorldBuilder};
use serde_json::{Value, json};

pub const DEST1: &str = "6a5e070000000000000d0001";
pub const DEST2: &str = "6a5e070000000000000d0002";
pub const JOB_A: &str = "6a5e070000000000000a0001";
pub const JOB_B: &str = "6a5e070000000000000a0002";
/// On web-01, targets the NAS, not in the config.
pub const STRAY: &str = "6a5e070000000000000a0003";
pub const JOB_C: &str = "6a5e070000000000000c0001";

pub struct Fleet {
    pub dir: tempfile::TempDir,
    pub state: PathBuf,
    pub config: PathBuf,
}

/// web-01: destination DEST1 ("NAS"), jobs JOB_A "accounts", JOB_B "databases", STRAY "stray"
/// (all targeting DEST1). web-02: destination DEST2, job JOB_C "files".
pub fn two_servers() -> WorldBuilder {
    SimWorld::builder()
        .server("web-01", |s| {
            s.destination(DEST1)
                .job(JOB_A, 60.0)
                .job(JOB_B, 60.0)
                .job(STRAY, 60.0)
                .startup_delay(0.2)
                .abort_delay(0.3)
        })
        .server("web-02", |s| {
            s.destination(DEST2)
                .job(JOB_C, 60.0)
                .startup_delay(0.2)
                .abort_delay(0.3)
        })
}

/// The default config of these tests: web-01 with JOB_A and JOB_B, web-02 with JOB_C.
pub fn default_jobs() -> Value {
    json!([
        {"job_id": JOB_A, "server": "web-01", "label": "accounts", "type": "accounts", "priority": 10},
        {"job_id": JOB_B, "server": "web-01", "label": "databases", "type": "database"},
        {"job_id": JOB_C, "server": "web-02", "label": "files", "type": "directories"}
    ])
}

impl Fleet {
    /// The world saved where `jbr-sim` reads it, and a config for `servers` with `jobs`.
    /// `extra_servers` are added as given (e.g. an unreachable one).
    pub fn new(world: WorldBuilder, jobs: Value, extra_servers: Value) -> Fleet {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("sim.json");
        let mut w = world.build_state();
        // Readable names on the servers (the builder names them after their ids).
        for s in w.servers.values_mut() {
            for d in &mut s.destinations {
                d.name = "NAS".into();
            }
            for j in &mut s.jobs {
                j.name = match j.id.as_str() {
                    JOB_A => "accounts",
                    JOB_B => "databases",
                    STRAY => "stray",
                    JOB_C => "files",
                    _ => "other",
                }
                .into();
            }
        }
        std::fs::write(&state, serde_json::to_vec(&w).unwrap()).unwrap();
        let mut servers = serde_json::Map::new();
        for (name, dest) in [("web-01", DEST1), ("web-02", DEST2)] {
            if !w.servers.contains_key(name) {
                continue;
            }
            servers.insert(
                name.into(),
                json!({
                    "host": "127.0.0.1",
                    "destination_id": dest,
                    "local_command": [
                        "env",
                        format!("JBR_SIM_STATE={}", state.display()),
                        format!("JBR_SIM_SERVER={name}"),
                        env!("CARGO_BIN_EXE_jbr-sim"),
                    ],
                }),
            );
        }
        if let Value::Object(extra) = extra_servers {
            servers.extend(extra);
        }
        let d = dir.path();
        let config = json!({
            "servers": servers,
            "jobs": jobs,
            "orchestrator": {
                "lock_file": d.join("jbr.lock"),
                "log_file": d.join("jbr.log"),
                "state_file": d.join("last-run.json"),
                "call_timeout": 10,
                "stop_timeout": 3,
                "stop_poll_interval": 0.1,
            },
        });
        let config_path = d.join("config.json");
        std::fs::write(&config_path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
        Fleet {
            dir,
            state,
            config: config_path,
        }
    }

    pub fn standard() -> Fleet {
        Fleet::new(two_servers(), default_jobs(), json!({}))
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `jbr -c CONFIG args…` and returns what the user sees.
    pub fn jbr(&self, args: &[&str]) -> Run {
        let mut all = vec!["-c", self.config.to_str().unwrap()];
        all.extend_from_slice(args);
        run_jbr(&all)
    }

    /// One `jetbackup5api` call on a simulated server, as the server's own tools would make it.
    pub fn sim_call(&self, server: &str, function: &str, data: &str) -> Value {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_jbr-sim"));
        cmd.env("JBR_SIM_STATE", &self.state)
            .env("JBR_SIM_SERVER", server)
            .args(["-F", function]);
        if !data.is_empty() {
            cmd.args(["-D", data]);
        }
        let out = cmd.args(["-O", "json"]).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Enables the destination and `job` on `server` and triggers it (as an operator or the
    /// server's scheduler might); returns the new queue group's id once it is processing.
    pub fn start_job(&self, server: &str, dest: &str, job: &str) -> String {
        self.sim_call(
            server,
            "manageDestination",
            &format!("_id={dest}&action=modify&disabled=0"),
        );
        self.sim_call(
            server,
            "manageBackupJob",
            &format!("_id={job}&action=modify&disabled=0"),
        );
        let r = self.sim_call(server, "runBackupJobManually", &format!("_id={job}"));
        assert_eq!(r["success"], 1, "{r}");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let groups = self.sim_call(server, "listQueueGroups", "type=1");
            let found = groups["data"]["groups"]
                .as_array()
                .unwrap()
                .iter()
                .find(|g| g["data"]["_id"] == job && g["status"] == 2)
                .map(|g| g["_id"].as_str().unwrap().to_string());
            if let Some(id) = found {
                return id;
            }
            assert!(Instant::now() < deadline, "job {job} never started");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `jbr-sim --dump`: the whole simulated state.
    pub fn dump(&self) -> Value {
        let out = Command::new(env!("CARGO_BIN_EXE_jbr-sim"))
            .env("JBR_SIM_STATE", &self.state)
            .arg("--dump")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Every function called on `server` so far, with its count.
    /// The calls `server` saw, per function. An unknown server is a failure, not an empty
    /// map: an `is_empty()` check must not pass on a typo.
    pub fn calls(&self, server: &str) -> serde_json::Map<String, Value> {
        let dump = self.dump();
        let Some(s) = dump["world"]["servers"].get(server) else {
            panic!("no simulated server {server:?} in {}", self.state.display());
        };
        s.get("calls")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    }

    /// No function that changes anything was called on `server`.
    pub fn assert_only_reads(&self, server: &str) {
        for f in self.calls(server).keys() {
            assert!(
                !jbr::contract::is_write(f),
                "write call {f} reached {server}"
            );
        }
    }
}

/// A server whose `local_command` program does not exist: every API call fails to connect.
pub fn dead_server(name: &str) -> Value {
    json!({ name: {
        "host": "127.0.0.1",
        "destination_id": DEST1,
        "local_command": ["/nonexistent/jbr-sim"],
    }})
}

pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{self}"))
    }
    /// The first stdout line that starts with `prefix`, both compared with whitespace runs as
    /// one space (table columns widen with their contents), or a failure showing everything.
    pub fn line(&self, prefix: &str) -> String {
        let prefix = words(prefix);
        self.stdout
            .lines()
            .map(words)
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{self}"))
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?} after {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.took, self.stdout, self.stderr
        )
    }
}

pub fn run_jbr(args: &[&str]) -> Run {
    let started = Instant::now();
    let out: Output = Command::new(env!("CARGO_BIN_EXE_jbr"))
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("JBR_SIM_STATE")
        .env_remove("JBR_SIM_SERVER")
        .output()
        .unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took: started.elapsed(),
    }
}

pub fn exists(p: &Path) -> bool {
    p.exists()
}

/// Text with every run of whitespace as one space (help text is wrapped to the terminal).
pub fn words(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
