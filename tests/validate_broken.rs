//! `jbr validate` on broken configs, through the real binary: each case asserts the exit
//! status, the JSON path, the kind of problem (`code` in `--json`) and the line a user reads.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use support::bin::{self, Run};

struct Case {
    name: &'static str,
    /// Changes the valid base config into a broken one.
    edit: fn(&mut Value, &Path),
    /// The JSON path reported, e.g. `jobs[1].server`.
    path: &'static str,
    code: &'static str,
    /// Must appear in the plain line, right after `config.json: at 'PATH': `.
    says: &'static str,
}

/// A config that validates with no problem at all: every file jbr writes lives in `dir`, and
/// the SSH server has a real key file with mode 600.
fn base(dir: &Path) -> Value {
    let key = dir.join("id_ed25519");
    std::fs::write(&key, "not really a key\n").unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(dir.join("known_hosts"), "").unwrap();
    json!({
        "ssh_key": key,
        "servers": {
            "web-01": {
                "host": "127.0.0.1",
                "port": 2222,
                "user": "jbrtest",
                "known_hosts": dir.join("known_hosts"),
                "destination_id": "65a1f0c2e4b0a1b2c3d4e5f6"
            },
            "web-03": {
                "host": "localhost",
                "local_command": ["/bin/true"]
            }
        },
        "jobs": [
            {"job_id": "6508a1b2c3d4e5f6a7b806d9", "server": "web-01", "label": "accounts", "type": "accounts", "priority": 10},
            {"job_id": "6508a1b2c3d4e5f6a7b806da", "server": "web-03", "label": "dirs", "type": "directories"}
        ],
        "orchestrator": {
            "lock_file": dir.join("run/jbr.lock"),
            "log_file": dir.join("log/jbr.log"),
            "state_file": dir.join("state/last-run.json")
        },
        "notification": {
            "enabled": true,
            "smtp_host": "127.0.0.1",
            "smtp_port": 2525,
            "from_address": "jbr@example.com",
            "to_addresses": ["ops@example.com"]
        }
    })
}

/// Sets (or adds) the value at a JSON pointer whose parent exists.
fn set(v: &mut Value, pointer: &str, new: Value) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    match v.pointer_mut(parent) {
        Some(Value::Object(m)) => {
            m.insert(key.to_string(), new);
        }
        Some(Value::Array(a)) => a[key.parse::<usize>().unwrap()] = new,
        _ => panic!("no {parent} in base"),
    }
}

fn remove(v: &mut Value, pointer: &str) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    v.pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .unwrap()
        .remove(key)
        .unwrap_or_else(|| panic!("no {pointer} in base"));
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "top level is a list",
            edit: |v, _| *v = json!([1, 2]),
            path: "",
            code: "wrong_type",
            says: "expected an object, found a list",
        },
        Case {
            name: "servers missing",
            edit: |v, _| {
                remove(v, "/servers");
                set(v, "/jobs", json!([]));
            },
            path: "servers",
            code: "missing_key",
            says: "missing required key",
        },
        Case {
            name: "servers is a list",
            edit: |v, _| set(v, "/servers", json!(["web-01"])),
            path: "servers",
            code: "wrong_type",
            says: "expected an object, found a list",
        },
        Case {
            name: "host missing",
            edit: |v, _| remove(v, "/servers/web-01/host"),
            path: "servers.web-01.host",
            code: "missing_key",
            says: "missing required key",
        },
        Case {
            name: "port too large",
            edit: |v, _| set(v, "/servers/web-01/port", json!(70000)),
            path: "servers.web-01.port",
            code: "out_of_range",
            says: "port 70000 is out of range (1 to 65535)",
        },
        Case {
            name: "port zero",
            edit: |v, _| set(v, "/servers/web-01/port", json!(0)),
            path: "servers.web-01.port",
            code: "out_of_range",
            says: "port 0 is out of range",
        },
        Case {
            name: "port as a string",
            edit: |v, _| set(v, "/servers/web-01/port", json!("2222")),
            path: "servers.web-01.port",
            code: "wrong_type",
            says: "expected a whole number (port), found a string (write the number without quotes)",
        },
        Case {
            name: "host with shell characters",
            edit: |v, _| set(v, "/servers/web-01/host", json!("web01;reboot")),
            path: "servers.web-01.host",
            code: "bad_chars",
            says: "host \"web01;reboot\" has characters outside the allowed set",
        },
        Case {
            name: "host that ssh would read as an option",
            edit: |v, _| set(v, "/servers/web-01/host", json!("-oProxyCommand")),
            path: "servers.web-01.host",
            code: "bad_chars",
            says: "host \"-oProxyCommand\" starts with '-' (ssh would read it as an option)",
        },
        Case {
            name: "user with a space",
            edit: |v, _| set(v, "/servers/web-01/user", json!("ro ot")),
            path: "servers.web-01.user",
            code: "bad_chars",
            says: "user \"ro ot\" has characters outside the allowed set",
        },
        Case {
            name: "server name with a space",
            edit: |v, _| {
                let s = v["servers"].as_object_mut().unwrap();
                let web = s.remove("web-01").unwrap();
                s.insert("web 01".into(), web);
                set(v, "/jobs/0/server", json!("web-03"));
            },
            path: "servers[\"web 01\"]",
            code: "bad_chars",
            says: "server name \"web 01\" has characters outside the allowed set",
        },
        Case {
            name: "destination id with an ampersand",
            edit: |v, _| set(v, "/servers/web-01/destination_id", json!("abc&disabled=0")),
            path: "servers.web-01.destination_id",
            code: "bad_chars",
            says: "destination id \"abc&disabled=0\" has characters outside the allowed set",
        },
        Case {
            name: "ssh_timeout zero",
            edit: |v, _| set(v, "/servers/web-01/ssh_timeout", json!(0)),
            path: "servers.web-01.ssh_timeout",
            code: "out_of_range",
            says: "0 s is not a usable time",
        },
        Case {
            name: "ssh_timeout negative",
            edit: |v, _| set(v, "/servers/web-01/ssh_timeout", json!(-5)),
            path: "servers.web-01.ssh_timeout",
            code: "out_of_range",
            says: "-5 s is not a usable time",
        },
        Case {
            name: "job_timeout absurd",
            edit: |v, _| set(v, "/orchestrator/job_timeout", json!(1e9)),
            path: "orchestrator.job_timeout",
            code: "out_of_range",
            says: "1000000000 s is more than 30 days (times are in seconds)",
        },
        Case {
            name: "job timeout astronomically large",
            edit: |v, _| set(v, "/jobs/0/timeout", json!(1e300)),
            path: "jobs[0].timeout",
            code: "out_of_range",
            says: "1e300 s is more than 30 days (times are in seconds)",
        },
        Case {
            name: "poll_interval as text",
            edit: |v, _| set(v, "/orchestrator/poll_interval", json!("thirty")),
            path: "orchestrator.poll_interval",
            code: "wrong_type",
            says: "expected a number of seconds, found a string",
        },
        Case {
            name: "job without job_id",
            edit: |v, _| remove(v, "/jobs/0/job_id"),
            path: "jobs[0].job_id",
            code: "missing_key",
            says: "missing required key",
        },
        Case {
            name: "job naming an unknown server",
            edit: |v, _| set(v, "/jobs/1/server", json!("web-02")),
            path: "jobs[1].server",
            code: "unknown_server",
            says: "\"web-02\" is not a key of 'servers' (known: web-01, web-03)",
        },
        Case {
            name: "duplicate job id",
            edit: |v, _| set(v, "/jobs/1/job_id", json!("6508a1b2c3d4e5f6a7b806d9")),
            path: "jobs[1].job_id",
            code: "duplicate",
            says: "duplicate job id \"6508a1b2c3d4e5f6a7b806d9\" (first at jobs[0])",
        },
        Case {
            name: "job id with a quote",
            edit: |v, _| set(v, "/jobs/0/job_id", json!("6508'x")),
            path: "jobs[0].job_id",
            code: "bad_chars",
            says: "job id \"6508'x\" has characters outside the allowed set",
        },
        Case {
            name: "priority as a word",
            edit: |v, _| set(v, "/jobs/0/priority", json!("high")),
            path: "jobs[0].priority",
            code: "wrong_type",
            says: "expected a whole number, found a string",
        },
        Case {
            name: "jobs is an object",
            edit: |v, _| set(v, "/jobs", json!({"a": 1})),
            path: "jobs",
            code: "wrong_type",
            says: "expected a list, found an object",
        },
        Case {
            name: "job enabled as yes",
            edit: |v, _| set(v, "/jobs/0/enabled", json!("yes")),
            path: "jobs[0].enabled",
            code: "wrong_type",
            says: "expected true or false, found a string",
        },
        Case {
            name: "bad recipient",
            edit: |v, _| {
                set(
                    v,
                    "/notification/to_addresses",
                    json!(["ops@example.com", "ops at example"]),
                )
            },
            path: "notification.to_addresses[1]",
            code: "bad_address",
            says: "\"ops at example\" is not an email address",
        },
        Case {
            name: "two recipients in one string",
            edit: |v, _| {
                set(
                    v,
                    "/notification/to_addresses",
                    json!(["a@example.com, b@example.com"]),
                )
            },
            path: "notification.to_addresses[0]",
            code: "bad_address",
            says: "(one address per string)",
        },
        Case {
            name: "bad sender",
            edit: |v, _| set(v, "/notification/from_address", json!("jbr@")),
            path: "notification.from_address",
            code: "bad_address",
            says: "\"jbr@\" is not an email address",
        },
        Case {
            name: "no recipients while enabled",
            edit: |v, _| set(v, "/notification/to_addresses", json!([])),
            path: "notification.to_addresses",
            code: "empty",
            says: "no recipients while notification is enabled",
        },
        Case {
            name: "FROM_ENV variable unset",
            edit: |v, _| {
                set(
                    v,
                    "/notification/smtp_password",
                    json!("FROM_ENV:JBR_TEST_SURELY_UNSET_VAR"),
                )
            },
            path: "notification.smtp_password",
            code: "unset_env_var",
            says: "environment variable JBR_TEST_SURELY_UNSET_VAR is not set",
        },
        Case {
            name: "FROM_ENV with a bad name",
            edit: |v, _| set(v, "/notification/smtp_password", json!("FROM_ENV:1-BAD")),
            path: "notification.smtp_password",
            code: "bad_env_var",
            says: "FROM_ENV:\"1-BAD\" is not a valid environment variable name",
        },
        Case {
            name: "smtp_port zero",
            edit: |v, _| set(v, "/notification/smtp_port", json!(0)),
            path: "notification.smtp_port",
            code: "out_of_range",
            says: "port 0 is out of range",
        },
        Case {
            name: "ssh key readable by others",
            edit: |v, dir| {
                let key = dir.join("open_key");
                std::fs::write(&key, "k\n").unwrap();
                std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
                set(v, "/servers/web-01/ssh_key", json!(key));
            },
            path: "servers.web-01.ssh_key",
            code: "key_permissions",
            says: "is accessible by group or others (mode 0644) (chmod 600 ",
        },
        Case {
            name: "state directory blocked by a file",
            edit: |v, dir| {
                std::fs::write(dir.join("blocker"), "").unwrap();
                set(
                    v,
                    "/orchestrator/state_file",
                    json!(dir.join("blocker/sub/last-run.json")),
                );
            },
            path: "orchestrator.state_file",
            code: "not_a_directory",
            says: "blocker is not a directory",
        },
        Case {
            name: "log file is a directory",
            edit: |v, dir| {
                std::fs::create_dir_all(dir.join("logdir")).unwrap();
                set(v, "/orchestrator/log_file", json!(dir.join("logdir")));
            },
            path: "orchestrator.log_file",
            code: "not_a_file",
            says: "is a directory (name a file inside it)",
        },
        Case {
            name: "negative log_backup_count",
            edit: |v, _| set(v, "/orchestrator/log_backup_count", json!(-1)),
            path: "orchestrator.log_backup_count",
            code: "out_of_range",
            says: "-1 is out of range (old files kept: 0 to 1000)",
        },
        Case {
            name: "log_max_bytes zero",
            edit: |v, _| set(v, "/orchestrator/log_max_bytes", json!(0)),
            path: "orchestrator.log_max_bytes",
            code: "out_of_range",
            says: "0 is out of range",
        },
        Case {
            name: "journal_file same as state_file",
            edit: |v, dir| {
                set(
                    v,
                    "/orchestrator/journal_file",
                    json!(dir.join("state/last-run.json")),
                )
            },
            path: "orchestrator.journal_file",
            code: "conflict",
            says: "same file as orchestrator.state_file",
        },
        Case {
            name: "metrics_file same as state_file",
            edit: |v, dir| {
                set(
                    v,
                    "/orchestrator/metrics_file",
                    json!(dir.join("state/last-run.json")),
                )
            },
            path: "orchestrator.metrics_file",
            code: "conflict",
            says: "same file as orchestrator.state_file",
        },
        Case {
            name: "empty local_command",
            edit: |v, _| set(v, "/servers/web-03/local_command", json!([])),
            path: "servers.web-03.local_command",
            code: "empty",
            says: "empty command",
        },
        Case {
            name: "ping URL not http",
            edit: |v, _| {
                set(
                    v,
                    "/monitoring",
                    json!({"healthcheck_url": "ftp://hc-ping.com/k3y-5ecret"}),
                )
            },
            path: "monitoring.healthcheck_url",
            code: "bad_url",
            says: "scheme \"ftp\" is not http or https",
        },
        Case {
            name: "ping URL with a query",
            edit: |v, _| {
                set(
                    v,
                    "/monitoring",
                    json!({"healthcheck_url": "https://hc-ping.com/k3y-5ecret?create=1"}),
                )
            },
            path: "monitoring.healthcheck_url",
            code: "bad_url",
            says: "the URL has a query or fragment",
        },
        Case {
            name: "ping URL with a password",
            edit: |v, _| {
                set(
                    v,
                    "/monitoring",
                    json!({"healthcheck_url": "https://me:k3y-5ecret@hc.example.org/p"}),
                )
            },
            path: "monitoring.healthcheck_url",
            code: "bad_url",
            says: "a user name or password in the URL is not supported",
        },
        Case {
            name: "ping URL not a string",
            edit: |v, _| set(v, "/monitoring", json!({"healthcheck_url": 42})),
            path: "monitoring.healthcheck_url",
            code: "wrong_type",
            says: "expected a string, found a number",
        },
        Case {
            name: "ping timeout zero",
            edit: |v, _| set(v, "/monitoring", json!({"healthcheck_timeout": 0})),
            path: "monitoring.healthcheck_timeout",
            code: "out_of_range",
            says: "0 s is not a usable time",
        },
        Case {
            name: "alert days negative",
            edit: |v, _| set(v, "/destination", json!({"alert_days_without_jobs": -1})),
            path: "destination.alert_days_without_jobs",
            code: "out_of_range",
            says: "-1 days is out of range",
        },
    ]
}

/// `jbr args…` in `dir` (where the test's config lives), with the test's unset variable unset.
fn jbr(dir: &Path, args: &[&str]) -> Run {
    bin::jbr()
        .args(args)
        .current_dir(dir)
        .env_remove("JBR_TEST_SURELY_UNSET_VAR")
        .run()
}

fn write_config(dir: &Path, v: &Value) -> PathBuf {
    let path = dir.join("config.json");
    std::fs::write(&path, serde_json::to_string_pretty(v).unwrap()).unwrap();
    path
}

#[test]
fn the_base_config_has_no_problem_at_all() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &base(dir.path()));
    let out = jbr(dir.path(), &["validate", "-c", "config.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", out);
    assert_eq!(out.stdout.as_str(), "config.json: OK (2 servers, 2 jobs)\n");
    assert!(out.stderr.is_empty(), "{}", out);
}

#[test]
fn each_broken_config_exits_2_naming_its_path() {
    let cases = cases();
    assert!(cases.len() >= 25);
    let mut failures = Vec::new();
    for case in &cases {
        let dir = tempfile::tempdir().unwrap();
        let mut v = base(dir.path());
        (case.edit)(&mut v, dir.path());
        write_config(dir.path(), &v);

        let text = jbr(dir.path(), &["validate", "-c", "config.json"]);
        let stdout = text.stdout.as_str();
        let prefix = if case.path.is_empty() {
            "config.json: ".to_string()
        } else {
            format!("config.json: at '{}': ", case.path)
        };
        let line = stdout.lines().find(|l| l.starts_with(&prefix));
        let ok_text = text.status.code() == Some(2)
            && line.is_some_and(|l| l.contains(case.says))
            && text.stderr.is_empty()
            && stdout.lines().last().is_some_and(|l| l.contains("error"));

        let json = jbr(dir.path(), &["validate", "--json", "-c", "config.json"]);
        let report: Value = serde_json::from_str(&json.stdout).unwrap_or(Value::Null);
        let ok_json = json.status.code() == Some(2)
            && report["valid"] == json!(false)
            && report["problems"].as_array().is_some_and(|ps| {
                ps.iter().any(|p| {
                    p["path"] == json!(case.path)
                        && p["code"] == json!(case.code)
                        && p["severity"] == json!("error")
                })
            });
        // The ping URL's path is the check's secret: never echoed.
        let ok_secret = !text.stdout.contains("k3y-5ecret") && !json.stdout.contains("k3y-5ecret");
        if !(ok_text && ok_json && ok_secret) {
            failures.push(format!(
                "case {:?}: want {prefix}…{}… [{}]\n{}\n--- json\n{}",
                case.name,
                case.says,
                case.code,
                text,
                json.stdout.as_str()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn invalid_json_names_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.json"),
        "{\n  \"servers\": {},\n  \"jobs\": [,]\n}\n",
    )
    .unwrap();
    let out = jbr(dir.path(), &["validate", "-c", "config.json"]);
    assert_eq!(out.status.code(), Some(2), "{}", out);
    let stdout = out.stdout.as_str();
    assert_eq!(
        stdout.lines().next(),
        Some("config.json: line 3, column 12: invalid JSON: expected value"),
        "{}",
        out
    );
}

#[test]
fn a_missing_file_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = jbr(dir.path(), &["validate", "-c", "nope.json"]);
    assert_eq!(out.status.code(), Some(2));
    let stdout = out.stdout.as_str();
    assert!(
        stdout.starts_with("nope.json: cannot read config: No such file or directory"),
        "{}",
        out
    );
}

#[test]
fn every_problem_is_reported_in_one_pass() {
    let dir = tempfile::tempdir().unwrap();
    let mut v = base(dir.path());
    set(&mut v, "/servers/web-01/port", json!(0));
    set(&mut v, "/jobs/1/server", json!("nowhere"));
    set(&mut v, "/orchestrator/poll_interval", json!(-1));
    write_config(dir.path(), &v);
    let out = jbr(dir.path(), &["validate", "-c", "config.json"]);
    assert_eq!(out.status.code(), Some(2));
    let stdout = out.stdout.as_str();
    // In file order: servers, jobs, orchestrator.
    let mut last = 0;
    for path in [
        "servers.web-01.port",
        "jobs[1].server",
        "orchestrator.poll_interval",
    ] {
        let at = stdout.find(&format!("config.json: at '{path}': "));
        assert!(
            at.is_some_and(|i| i >= last),
            "{path} missing or out of order:\n{}",
            out
        );
        last = at.unwrap_or_default();
    }
    assert!(
        stdout.ends_with(
            "config.json: 3 errors, 0 warnings; no command will touch a server with this config\n"
        ),
        "{}",
        out
    );
}

/// The older tool's check, kept: two servers with one `destination_id` are almost always a
/// copy-paste slip (each server has its own destination object). A warning at the second,
/// naming the first.
#[test]
fn two_servers_with_one_destination_id_are_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let mut v = base(dir.path());
    set(
        &mut v,
        "/servers/web-03/destination_id",
        json!("65a1f0c2e4b0a1b2c3d4e5f6"),
    );
    write_config(dir.path(), &v);
    let out = jbr(dir.path(), &["validate", "-c", "config.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", out);
    assert!(
        out.stdout.contains(
            "at 'servers.web-03.destination_id': same destination id as servers.web-01 (65a1f0c2e4b0a1b2c3d4e5f6)"
        ),
        "{}",
        out
    );
    // Different ids: nothing to say.
    set(
        &mut v,
        "/servers/web-03/destination_id",
        json!("65a1f0c2e4b0a1b2c3d4e5f7"),
    );
    write_config(dir.path(), &v);
    let out = jbr(dir.path(), &["validate", "-c", "config.json"]);
    assert!(!out.stdout.contains("same destination id"), "{}", out);
}

#[test]
fn warnings_alone_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let mut v = base(dir.path());
    let n = v["notification"].as_object_mut().unwrap();
    n.insert("smtp_pasword".into(), json!("x"));
    set(&mut v, "/orchestrator/job_timeout", json!(60));
    set(&mut v, "/jobs/0/type", json!("mailboxes"));
    write_config(dir.path(), &v);
    let out = jbr(dir.path(), &["validate", "-c", "config.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", out);
    let stdout = out.stdout.as_str();
    let want = [
        "warning: config.json: at 'notification.smtp_pasword': unknown key, ignored (did you mean 'smtp_password'?)",
        "warning: config.json: at 'orchestrator.job_timeout': 60 s is below the older tool's minimum of 1800 s (fine for tests; too short for real backups)",
        "warning: config.json: at 'jobs[0].type': unknown job type \"mailboxes\", shown as \"other\" (accounts, directories, database or other)",
        "config.json: OK with 3 warnings (2 servers, 2 jobs)",
    ];
    for w in want {
        assert!(stdout.lines().any(|l| l == w), "missing {w:?}\n{}", out);
    }
}

#[test]
fn a_missing_key_file_is_an_error_in_validate() {
    let dir = tempfile::tempdir().unwrap();
    let mut v = base(dir.path());
    set(&mut v, "/ssh_key", json!(dir.path().join("absent_key")));
    write_config(dir.path(), &v);
    let out = jbr(dir.path(), &["validate", "-c", "config.json"]);
    assert_eq!(out.status.code(), Some(2), "{}", out);
    let stdout = out.stdout.as_str();
    assert!(
        stdout.starts_with("config.json: at 'ssh_key': ssh key ")
            && stdout.contains("absent_key does not exist"),
        "{}",
        out
    );
}

#[test]
fn the_example_config_validates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = jbr(root, &["validate", "-c", "config.example.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", out);
    let stdout = out.stdout.as_str();
    // The only thing it may mention: the key and known_hosts files, and the NAS's block device,
    // not being on this machine.
    for line in stdout.lines().filter(|l| l.starts_with("warning:")) {
        assert!(
            line.contains("does not exist (fine on a workstation")
                || line.contains("(fine on a workstation; on the NAS, no figures without it)"),
            "{}",
            out
        );
    }
    assert!(
        stdout
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("config.example.json: OK")),
        "{}",
        out
    );
}

#[test]
fn the_example_config_is_clean_where_its_files_exist() {
    // The same example with its key and known_hosts present (as on the NAS): no problem at all.
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut v: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("config.example.json")).unwrap())
            .unwrap();
    let b = base(dir.path());
    set(&mut v, "/ssh_key", b["ssh_key"].clone());
    set(&mut v, "/servers/web-01/ssh_key", b["ssh_key"].clone());
    for s in ["web-01", "web-02"] {
        set(
            &mut v,
            &format!("/servers/{s}/known_hosts"),
            b["servers"]["web-01"]["known_hosts"].clone(),
        );
    }
    let diskstats = dir.path().join("diskstats");
    std::fs::write(&diskstats, "   9 0 md0 1 0 8 0 1 0 8 0 0 0 0\n").unwrap();
    set(
        &mut v,
        "/nas/diskstats_file",
        Value::from(diskstats.to_str().unwrap()),
    );
    write_config(dir.path(), &v);
    let out = jbr(dir.path(), &["validate", "-c", "config.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", out);
    // One line; its end (the night window's next close) depends on today's date.
    assert_eq!(out.stdout.lines().count(), 1, "{}", out);
    assert!(
        out.stdout.starts_with(
            "config.json: OK (3 servers, 5 jobs; healthcheck pings to https://hc-ping.com; night window: no job starts at or after 07:00 in "
        ),
        "{}",
        out
    );
}

#[test]
fn a_state_directory_the_service_user_cannot_write_is_an_error() {
    // Needs a second user: run as root, validate as `nobody`. Root may write anywhere.
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 || !Path::new("/usr/sbin/runuser").exists() {
        eprintln!("skipped: needs root and runuser to validate as another user");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut v = base(dir.path());
    let root_only = dir.path().join("root-only");
    std::fs::create_dir(&root_only).unwrap();
    std::fs::set_permissions(&root_only, std::fs::Permissions::from_mode(0o755)).unwrap();
    set(
        &mut v,
        "/orchestrator/state_file",
        json!(root_only.join("last-run.json")),
    );
    // Keys are checked too; keep this test about the directory.
    remove(&mut v, "/ssh_key");
    remove(&mut v, "/servers/web-01/known_hosts");
    let config = write_config(dir.path(), &v);
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = bin::Cmd::new("/usr/sbin/runuser")
        .args(["-u", "nobody", "--", env!("CARGO_BIN_EXE_jbr"), "validate"])
        .config(&config)
        .run();
    if matches!(out.status.code(), Some(126 | 127)) {
        eprintln!("skipped: nobody cannot run the test binary here: {}", out);
        return;
    }
    assert_eq!(out.status.code(), Some(2), "{}", out);
    let stdout = out.stdout.as_str();
    let want = format!(
        "{}: at 'orchestrator.state_file': cannot create {}/last-run.json in {}: Permission denied (os error 13) (let the user jbr runs as write there)",
        config.display(),
        root_only.display(),
        root_only.display()
    );
    assert!(stdout.lines().any(|l| l == want), "want {want}\n{}", out);
}

#[test]
fn a_key_written_twice_warns_that_the_last_one_wins() {
    let dir = tempfile::tempdir().unwrap();
    let v = base(dir.path());
    let text = serde_json::to_string_pretty(&v).unwrap().replacen(
        "\"port\": 2222,",
        "\"port\": 2222,\n      \"host\": \"127.0.0.2\",",
        1,
    );
    std::fs::write(dir.path().join("config.json"), text).unwrap();
    let out = jbr(dir.path(), &["validate", "-c", "config.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", out);
    assert_eq!(
        out.stdout.as_str().lines().next(),
        Some(
            "warning: config.json: at 'servers.web-01.host': key appears more than once; the last value is used (remove the other occurrence)"
        ),
        "{}",
        out
    );
}
