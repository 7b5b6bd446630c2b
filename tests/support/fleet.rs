//! A fleet of simulated servers behind the real `jbr-sim` binary, sharing ONE simulator state, so
//! that the simulator's timeline spans the whole fleet and `jbr-sim --dump` can say whether two
//! servers ever wrote to the NAS at once. jbr reaches each server one of two ways:
//!
//! - `Fleet::local`: through `local_command` (`env JBR_SIM_STATE=… JBR_SIM_SERVER=… jbr-sim`);
//! - `Fleet::over_ssh`: through a real sshd on 127.0.0.1 per server (own port, own host key)
//!   whose forced command is `server/jbr-gate`, which execs `jbr-sim` installed as
//!   `jetbackup5api`.
//!
//! Either way the config names every server (its first destination as the NAS) and every job
//! (priority 10, 9, … in the server's order), with fractional-second waits and every run file in
//! the fleet's directory; `write_config` lets a test change anything before it is written.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use jbr::sim::World;
use serde_json::{Map, Value, json};

use super::bin::{self, Run, Running};
use super::gate::{install_as, open_dir};
use super::sshd::{Sshd, wait_until};

pub struct Fleet {
    /// World-writable over SSH: the simulator runs as the sshd test user and keeps its state here.
    pub dir: tempfile::TempDir,
    /// The simulator's state file.
    pub state: PathBuf,
    /// `dir/config.json`, where `write_config` writes and `jbr` reads.
    pub config: PathBuf,
    pub world: World,
    /// Server name → its sshd, in name order; empty for a local fleet.
    sshds: Vec<(String, Sshd)>,
}

impl Fleet {
    /// `world` saved where `jbr-sim` reads it, each server reached through `local_command`; the
    /// default config is written.
    pub fn local(world: World) -> Fleet {
        let fleet = Fleet::saved(world, tempfile::tempdir().expect("tempdir"));
        fleet.write_config(|_| {});
        fleet
    }

    /// One sshd per server of `world`, all answering from the one simulator state; the default
    /// config is written.
    pub fn over_ssh(world: World) -> Fleet {
        let dir = tempfile::Builder::new()
            .prefix("jbr-fleet-")
            .tempdir()
            .expect("tempdir");
        open_dir(dir.path(), 0o777);
        let bin = dir.path().join("bin");
        install_as(
            &bin,
            "jetbackup5api",
            Path::new(env!("CARGO_BIN_EXE_jbr-sim")),
        );
        let mut fleet = Fleet::saved(world, dir);
        // The simulator (as the test user) opens the lock for writing and replaces the state.
        for f in [fleet.state.clone(), fleet.path("sim.json.lock")] {
            if !f.exists() {
                fs::write(&f, b"").expect("create lock file");
            }
            fs::set_permissions(&f, fs::Permissions::from_mode(0o666)).expect("chmod");
        }
        let state = fleet.state.display().to_string();
        fleet.sshds = fleet
            .world
            .servers
            .keys()
            .map(|name| {
                let env = [("JBR_SIM_STATE", state.as_str()), ("JBR_SIM_SERVER", name)];
                (name.clone(), Sshd::start_with("127.0.0.1", &bin, &env))
            })
            .collect();
        fleet.write_config(|_| {});
        fleet
    }

    fn saved(world: World, dir: tempfile::TempDir) -> Fleet {
        let state = dir.path().join("sim.json");
        fs::write(&state, serde_json::to_vec(&world).expect("serialize world"))
            .expect("write sim state");
        Fleet {
            config: dir.path().join("config.json"),
            dir,
            state,
            world,
            sshds: Vec::new(),
        }
    }

    /// Each server's sshd, in name order (none for a local fleet).
    pub fn sshds(&self) -> impl Iterator<Item = (&str, &Sshd)> {
        self.sshds.iter().map(|(n, s)| (n.as_str(), s))
    }

    pub fn sshd(&self, name: &str) -> &Sshd {
        &self
            .sshds
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no sshd for server {name}"))
            .1
    }

    pub fn sshd_mut(&mut self, name: &str) -> &mut Sshd {
        &mut self
            .sshds
            .iter_mut()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no sshd for server {name}"))
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
        self.dir.path().join(name)
    }

    /// How jbr reaches `name`: its sshd with strict host keys, or `local_command`.
    fn link(&self, name: &str) -> Value {
        if self.sshds.is_empty() {
            return json!({
                "host": "127.0.0.1",
                "local_command": [
                    "env",
                    format!("JBR_SIM_STATE={}", self.state.display()),
                    format!("JBR_SIM_SERVER={name}"),
                    env!("CARGO_BIN_EXE_jbr-sim"),
                ],
            });
        }
        let sshd = self.sshd(name);
        json!({
            "host": sshd.addr,
            "port": sshd.port,
            "user": sshd.user,
            "ssh_key": sshd.client_key,
            "known_hosts": sshd.known_hosts,
            "ssh_timeout": 5,
        })
    }

    /// The default config, as JSON: every server and job, fast waits, run files in `dir`.
    pub fn default_config(&self) -> Value {
        let mut servers = Map::new();
        let mut jobs = Vec::new();
        for (name, s) in &self.world.servers {
            let mut server = self.link(name);
            server["destination_id"] = json!(s.destinations[0].id);
            servers.insert(name.clone(), server);
            for (i, j) in s.jobs.iter().enumerate() {
                jobs.push(json!({
                    "job_id": j.id, "server": name, "label": j.name, "priority": 10 - i as i64,
                }));
            }
        }
        let d = self.dir.path();
        json!({
            "servers": servers,
            "jobs": jobs,
            "orchestrator": {
                "poll_interval": 0.2, "startup_timeout": 5, "job_timeout": 30, "stop_timeout": 5,
                "stop_poll_interval": 0.2, "call_timeout": 10, "retry_backoff": 0.1,
                "lock_file": d.join("jbr.lock"), "log_file": d.join("jbr.log"),
                "state_file": d.join("last-run.json"),
                "journal_file": d.join("last-run.json.journal"),
            },
        })
    }

    /// Writes the default config, changed by `tweak`, as `config` and returns its path.
    pub fn write_config(&self, tweak: impl FnOnce(&mut Value)) -> PathBuf {
        let mut config = self.default_config();
        tweak(&mut config);
        fs::write(
            &self.config,
            serde_json::to_vec_pretty(&config).expect("serialize config"),
        )
        .expect("write config");
        self.config.clone()
    }

    /// `jbr -c CONFIG` (not yet run: add arguments, then `run()` or `spawn()`).
    pub fn cmd(&self) -> bin::Cmd {
        bin::jbr().config(&self.config)
    }

    /// `jbr -c CONFIG args…` to its end.
    pub fn jbr(&self, args: &[&str]) -> Run {
        self.cmd().args(args).run()
    }

    /// `jbr -c CONFIG args…` in the background.
    pub fn spawn_jbr(&self, args: &[&str]) -> Running {
        self.cmd().args(args).spawn()
    }

    /// One `jetbackup5api` call on a simulated server, as the server's own tools would make it.
    pub fn sim_call(&self, server: &str, function: &str, data: &str) -> Value {
        let mut cmd = bin::sim_on(&self.state)
            .env("JBR_SIM_SERVER", server)
            .args(["-F", function]);
        if !data.is_empty() {
            cmd = cmd.args(["-D", data]);
        }
        let run = cmd.args(["-O", "json"]).run();
        run.expect_success();
        run.json()
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

    /// `jbr-sim --dump`: the world, the timeline, max concurrent writers, the final state.
    pub fn dump(&self) -> Value {
        let run = bin::sim_on(&self.state).arg("--dump").run();
        run.expect_success();
        run.json()
    }

    /// The calls `server` answered, per function, in `dump`. An unknown server is a failure, not
    /// an empty map: an `is_empty()` check must not pass on a typo.
    pub fn calls_in(&self, dump: &Value, server: &str) -> Map<String, Value> {
        let Some(s) = dump["world"]["servers"].get(server) else {
            panic!("no simulated server {server:?} in {}", self.state.display());
        };
        s.get("calls")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    }

    /// The calls `server` answered so far, per function.
    pub fn calls(&self, server: &str) -> Map<String, Value> {
        self.calls_in(&self.dump(), server)
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

    /// The timeline's write intervals of `job` (by id).
    pub fn intervals_of(&self, dump: &Value, job: &str) -> Vec<Value> {
        dump["timeline"]
            .as_array()
            .expect("timeline")
            .iter()
            .filter(|w| w["job_id"] == job)
            .cloned()
            .collect()
    }

    /// Waits until `job` (by id, or any job for `None`) writes to the NAS: a timeline interval
    /// without an end.
    pub fn wait_writing(&self, job: Option<&str>, timeout: Duration) -> bool {
        wait_until(timeout, || {
            self.dump()["timeline"].as_array().is_some_and(|t| {
                t.iter()
                    .any(|w| w["end"].is_null() && job.is_none_or(|j| w["job_id"] == j))
            })
        })
    }

    /// The simulator's own verdict: never two NAS writers, nothing left enabled or running.
    #[track_caller]
    pub fn assert_clean(&self) {
        let d = self.dump();
        assert!(d["max_concurrent_writers"].as_u64().unwrap() <= 1, "{d:#}");
        assert_eq!(d["final_state"]["enabled"], json!([]), "{d:#}");
        assert_eq!(d["final_state"]["running"], json!([]), "{d:#}");
    }
}
