//! The operator-command tests' (`tests/cmd_*.rs`) standard fleet: fixed ids and readable names,
//! a config with the jobs each test names, reached through `local_command`.

use jbr::sim::{SimWorld, WorldBuilder};
use serde_json::{Value, json};

#[allow(unused_imports)] // the cmd tests take everything from here
pub use super::bin::{Run, words};
pub use super::fleet::Fleet;

pub const DEST1: &str = "6a5e070000000000000d0001";
/// The destination id of [`dead_server`]s.
pub const DEAD_DEST: &str = "6a5e070000000000000d00de";
pub const DEST2: &str = "6a5e070000000000000d0002";
pub const JOB_A: &str = "6a5e070000000000000a0001";
pub const JOB_B: &str = "6a5e070000000000000a0002";
/// On web-01, targets the NAS, not in the config.
pub const STRAY: &str = "6a5e070000000000000a0003";
pub const JOB_C: &str = "6a5e070000000000000c0001";

/// web-01: destination DEST1 ("NAS"), jobs JOB_A "accounts", JOB_B "databases", STRAY "stray"
/// (all targeting DEST1). web-02: destination DEST2, job JOB_C "files".
pub fn standard_world() -> WorldBuilder {
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

/// `world` behind `local_command`, with readable names (the builder names everything after its
/// id), and a config for `jobs` only. `extra_servers` are added as given (an unreachable one,
/// say). The waits are the config file's defaults, but for a short stop.
pub fn cli_fleet(world: WorldBuilder, jobs: Value, extra_servers: Value) -> Fleet {
    cli_fleet_reached(world, jobs, extra_servers, Fleet::local)
}

/// `cli_fleet`, its servers reached the way `reach` sets up (`Fleet::local`, `Fleet::over_ssh`).
pub fn cli_fleet_reached(
    world: WorldBuilder,
    jobs: Value,
    extra_servers: Value,
    reach: fn(jbr::sim::World) -> Fleet,
) -> Fleet {
    let mut w = world.build_state();
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
    let fleet = reach(w);
    let d = fleet.dir.path().to_path_buf();
    fleet.write_config(|c| {
        c["jobs"] = jobs;
        if let (Some(servers), Value::Object(extra)) = (c["servers"].as_object_mut(), extra_servers)
        {
            servers.extend(extra);
        }
        c["orchestrator"] = json!({
            "lock_file": d.join("jbr.lock"),
            "log_file": d.join("jbr.log"),
            "state_file": d.join("last-run.json"),
            "call_timeout": 10,
            "stop_timeout": 3,
            "stop_poll_interval": 0.1,
        });
    });
    fleet
}

/// `standard_world` with `default_jobs`.
pub fn standard_fleet() -> Fleet {
    cli_fleet(standard_world(), default_jobs(), json!({}))
}

/// A server whose `local_command` program does not exist: every API call fails to connect. Its
/// destination id is its own (two servers sharing one is a `validate` warning).
pub fn dead_server(name: &str) -> Value {
    json!({ name: {
        "host": "127.0.0.1",
        "destination_id": DEAD_DEST,
        "local_command": ["/nonexistent/jbr-sim"],
    }})
}
