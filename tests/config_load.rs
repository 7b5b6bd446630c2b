//! The loader's results as the rest of jbr sees them: the older tool's config read unchanged,
//! defaults, FROM_ENV secrets and their redaction, and `load_for_run`'s strictness.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::bin;

use jbr::config::{self, CheckMode, ConfigError, JobType, Loaded};

const SECRET: &str = "s3cr3t-Pa55w0rd-nobody-may-see";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/config")
        .join(name)
}

fn env_with_secret(var: &str) -> Option<String> {
    match var {
        "JBR_OLDER_TOOL_SMTP_PASSWORD" | "JBR_TEST_SMTP_PASSWORD" => Some(SECRET.to_string()),
        "HOME" => Some("/home/ops".to_string()),
        _ => None,
    }
}

/// Problems that depend on this machine (files of a production NAS that are not here).
fn only_machine_problems(loaded: &Loaded) -> bool {
    loaded
        .problems
        .iter()
        .all(|p| matches!(p.code, "missing_file" | "not_writable"))
}

#[test]
fn an_older_tool_config_loads_unchanged_with_every_value() {
    let path = fixture("older-tool.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let loaded = config::load_str(&text, &path, CheckMode::Validate, &env_with_secret).unwrap();
    assert!(only_machine_problems(&loaded), "{:#?}", loaded.problems);
    let c = &loaded.config;

    assert_eq!(c.path, path);
    assert_eq!(
        c.ssh_key.as_deref(),
        Some(Path::new("/root/.ssh/id_jetbackup"))
    );
    assert_eq!(c.servers.len(), 2);
    let s1 = &c.servers["cpanel-01"];
    assert_eq!(s1.name, "cpanel-01");
    assert_eq!(s1.host, "cpanel-01.example.net");
    assert_eq!(s1.port, 2202);
    assert_eq!(s1.user, "backup");
    assert_eq!(
        s1.ssh_key.as_deref(),
        Some(Path::new("/root/.ssh/id_cpanel01"))
    );
    assert_eq!(s1.ssh_timeout, Duration::from_secs(45));
    assert_eq!(
        s1.destination_id.as_deref(),
        Some("64f0c1d2e3f4a5b6c7d8e9f0")
    );
    assert_eq!(s1.known_hosts, None);
    assert_eq!(s1.local_command, None);
    let s2 = &c.servers["cpanel-02"];
    assert_eq!(s2.host, "203.0.113.7");
    assert_eq!(s2.port, 51514, "default port");
    assert_eq!(s2.user, "root", "default user");
    assert_eq!(s2.ssh_key, c.ssh_key, "falls back to the top-level key");
    assert_eq!(s2.ssh_timeout, Duration::from_secs(30));
    assert_eq!(s2.destination_id, None);

    assert_eq!(c.jobs.len(), 4);
    let j = &c.jobs[0];
    assert_eq!(
        (j.job_id.as_str(), j.server.as_str(), j.label.as_str()),
        ("6508c1d2e3f4a5b6c7d806d9", "cpanel-01", "Accounts nightly")
    );
    assert_eq!(j.kind, JobType::Accounts);
    assert_eq!(j.priority, 20);
    assert_eq!(j.timeout, Some(Duration::from_secs(43200)));
    assert!(
        j.enabled,
        "jobs are enabled unless the config says otherwise"
    );
    assert_eq!(c.jobs[1].kind, JobType::Database);
    assert_eq!(c.jobs[1].timeout, None);
    assert_eq!(
        c.jobs[1].effective_timeout(&c.orchestrator),
        Duration::from_secs(36000)
    );
    assert_eq!(c.jobs[2].kind, JobType::Directories);
    assert_eq!(c.jobs[2].priority, -5);
    assert_eq!(c.jobs[2].timeout, Some(Duration::from_secs_f64(7200.5)));
    let bare = &c.jobs[3];
    assert_eq!(
        (bare.label.as_str(), bare.kind, bare.priority),
        ("", JobType::Other, 0)
    );

    let o = &c.orchestrator;
    assert_eq!(o.poll_interval, Duration::from_secs(60));
    assert_eq!(o.startup_timeout, Duration::from_secs(300));
    assert_eq!(o.job_timeout, Duration::from_secs(36000));
    assert_eq!(
        o.lock_file,
        Path::new("/var/run/jetbackup-orchestrator.lock")
    );
    assert_eq!(
        o.log_file,
        Path::new("/var/log/jetbackup-orchestrator/orchestrator.log")
    );
    assert_eq!(o.log_max_bytes, 5_242_880);
    assert_eq!(o.log_backup_count, 3);
    assert_eq!(
        o.state_file,
        Path::new("/var/lib/jetbackup-orchestrator/state.json")
    );
    assert_eq!(
        o.journal_file,
        Path::new("/var/lib/jetbackup-orchestrator/state.json.journal"),
        "journal beside the state file"
    );
    // jbr's own additions keep their defaults in an older config.
    assert_eq!(o.stop_timeout, Duration::from_secs(60));
    assert_eq!(o.stop_poll_interval, Duration::from_secs(5));
    assert_eq!(o.call_timeout, Duration::from_secs(120));
    assert_eq!(o.retry_backoff, Duration::from_secs(2));

    let d = &c.destination;
    assert!(!d.skip_if_disabled);
    assert!(d.force_activate);
    assert_eq!(d.alert_days_without_jobs, 7.0);

    let n = &c.notification;
    assert!(n.enabled);
    assert_eq!(n.smtp_host, "mail.example.net");
    assert_eq!(n.smtp_port, 465);
    assert!(n.smtp_tls);
    assert_eq!(n.smtp_user, "alerts@example.net");
    assert_eq!(n.smtp_password.expose(), SECRET, "FROM_ENV resolved");
    assert_eq!(n.from_address, "alerts@example.net");
    assert_eq!(
        n.to_addresses,
        ["ops@example.net", "Night Shift <night@example.net>"]
    );
    assert!(!n.on_failure && !n.on_timeout && n.on_complete && !n.on_partial);
    assert!(!n.on_daemon_lifecycle);
}

#[test]
fn a_minimal_config_gets_every_default() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    let text = r#"{"servers": {"a": {"host": "h"}}, "jobs": [{"job_id": "j1", "server": "a"}]}"#;
    let loaded = config::load_str(text, &path, CheckMode::Validate, &|_| None).unwrap();
    assert!(only_machine_problems(&loaded), "{:#?}", loaded.problems);
    let c = loaded.config;
    assert_eq!(c.ssh_key, None);
    let a = &c.servers["a"];
    assert_eq!((a.port, a.user.as_str()), (51514, "root"));
    let o = &c.orchestrator;
    assert_eq!(o.poll_interval, Duration::from_secs(30));
    assert_eq!(o.startup_timeout, Duration::from_secs(120));
    assert_eq!(o.job_timeout, Duration::from_secs(28800));
    assert_eq!(o.lock_file, Path::new("/run/jbr/jbr.lock"));
    assert_eq!(o.log_file, Path::new("/var/log/jbr/jbr.log"));
    assert_eq!(o.log_max_bytes, 10 * 1024 * 1024);
    assert_eq!(o.log_backup_count, 5);
    assert_eq!(o.state_file, Path::new("/var/lib/jbr/last-run.json"));
    assert_eq!(
        o.journal_file,
        Path::new("/var/lib/jbr/last-run.json.journal")
    );
    assert!(c.destination.skip_if_disabled && !c.destination.force_activate);
    assert_eq!(c.destination.alert_days_without_jobs, 3.0);
    let n = &c.notification;
    assert!(!n.enabled);
    assert_eq!(
        (n.smtp_host.as_str(), n.smtp_port, n.smtp_tls),
        ("localhost", 25, false)
    );
    assert!(n.smtp_user.is_empty() && n.smtp_password.is_empty() && n.to_addresses.is_empty());
    assert!(
        n.on_failure && n.on_timeout && !n.on_complete && n.on_partial && n.on_daemon_lifecycle
    );
    // No pings unless a URL is given; 10 s per ping when there is one.
    assert!(c.monitoring.healthcheck_url.is_none());
    assert_eq!(c.monitoring.healthcheck_timeout, Duration::from_secs(10));
}

#[test]
fn null_means_default_and_fractions_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    let text = r#"{"ssh_key": null,
        "servers": {"a": {"host": "h", "port": null, "destination_id": null, "ssh_timeout": 0.25}},
        "jobs": [{"job_id": "j1", "server": "a", "timeout": null, "label": null}],
        "orchestrator": {"poll_interval": 0.05, "startup_timeout": 0.5, "job_timeout": 2.5,
                         "stop_timeout": 0.3, "stop_poll_interval": 0.01, "call_timeout": 1.5,
                         "retry_backoff": 0.02}}"#;
    let loaded = config::load_str(text, &path, CheckMode::Validate, &|_| None).unwrap();
    assert!(!loaded.has_errors(), "{:#?}", loaded.problems);
    let c = &loaded.config;
    assert_eq!(c.servers["a"].port, 51514);
    assert_eq!(c.servers["a"].ssh_timeout, Duration::from_millis(250));
    assert_eq!(c.jobs[0].timeout, None);
    let o = &c.orchestrator;
    assert_eq!(o.poll_interval, Duration::from_millis(50));
    assert_eq!(o.startup_timeout, Duration::from_millis(500));
    assert_eq!(o.job_timeout, Duration::from_millis(2500));
    assert_eq!(o.stop_timeout, Duration::from_millis(300));
    assert_eq!(o.stop_poll_interval, Duration::from_millis(10));
    assert_eq!(o.call_timeout, Duration::from_millis(1500));
    assert_eq!(o.retry_backoff, Duration::from_millis(20));
    // Values the older tool rejected are warnings, never errors.
    let warned: Vec<&str> = loaded.warnings().map(|p| p.json_path.as_str()).collect();
    assert!(warned.contains(&"orchestrator.poll_interval"), "{warned:?}");
    assert!(warned.contains(&"orchestrator.job_timeout"), "{warned:?}");
}

#[test]
fn relative_paths_follow_the_config_file_and_tilde_means_home() {
    let path = Path::new("/etc/jbr/config.json");
    let text = r#"{"ssh_key": "~/.ssh/id_ed25519",
        "servers": {"a": {"host": "h", "known_hosts": "known_hosts"}},
        "jobs": [], "orchestrator": {"state_file": "state/last.json"}}"#;
    let loaded = config::load_str(text, path, CheckMode::Validate, &env_with_secret).unwrap();
    let c = loaded.config;
    assert_eq!(
        c.ssh_key.as_deref(),
        Some(Path::new("/home/ops/.ssh/id_ed25519"))
    );
    assert_eq!(
        c.servers["a"].known_hosts.as_deref(),
        Some(Path::new("/etc/jbr/known_hosts"))
    );
    assert_eq!(
        c.orchestrator.state_file,
        Path::new("/etc/jbr/state/last.json")
    );
    assert_eq!(
        c.orchestrator.journal_file,
        Path::new("/etc/jbr/state/last.json.journal")
    );
}

/// A config whose every file lives in `dir`, with the password given directly or via FROM_ENV.
fn write_config(dir: &Path, password: &str) -> PathBuf {
    let key = dir.join("key");
    std::fs::write(&key, "k").unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let v = serde_json::json!({
        "ssh_key": key,
        "servers": {"a": {"host": "127.0.0.1"}},
        "jobs": [{"job_id": "j1", "server": "a"}],
        "orchestrator": {"lock_file": dir.join("jbr.lock"), "log_file": dir.join("jbr.log"),
                         "state_file": dir.join("state.json")},
        "notification": {"enabled": true, "smtp_password": password,
                         "from_address": "jbr@example.com", "to_addresses": ["ops@example.com"],
                         "smtp_pasword": password}
    });
    let path = dir.join("config.json");
    std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    path
}

#[test]
fn from_env_is_resolved_and_the_secret_is_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), "FROM_ENV:JBR_TEST_SMTP_PASSWORD");
    let text = std::fs::read_to_string(&path).unwrap();
    let loaded = config::load_str(&text, &path, CheckMode::Run, &env_with_secret).unwrap();
    assert_eq!(loaded.config.notification.smtp_password.expose(), SECRET);
    let debug = format!(
        "{:?} {:#?} {:?}",
        loaded.config, loaded.config, loaded.problems
    );
    assert!(!debug.contains(SECRET), "secret in Debug output");
    assert!(debug.contains("smtp_password: ***"), "{debug}");

    // Through the binary, with the variable set, in text and JSON, verbose.
    for args in [
        vec!["-vv", "validate", "-c"],
        vec!["validate", "--json", "-c"],
    ] {
        let out = bin::jbr()
            .args(&args)
            .arg(&path)
            .env("JBR_TEST_SMTP_PASSWORD", SECRET)
            .run();
        let all = format!("{}{}", out.stdout, out.stderr);
        assert_eq!(out.status.code(), Some(0), "{all}");
        assert!(all.contains("smtp_pasword"), "the typo is reported: {all}");
        assert!(!all.contains(SECRET), "secret printed: {all}");
    }
}

#[test]
fn a_literal_password_in_a_broken_config_is_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), SECRET);
    // Break it in several places so every message path runs.
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("\"127.0.0.1\"", "\"bad host\"")
        .replace("\"ops@example.com\"", "\"not an address\"");
    std::fs::write(&path, text).unwrap();
    for args in [vec!["validate", "-c"], vec!["validate", "--json", "-c"]] {
        let out = bin::jbr().args(&args).arg(&path).run();
        let all = format!("{}{}", out.stdout, out.stderr);
        assert_eq!(out.status.code(), Some(2), "{all}");
        assert!(!all.contains(SECRET), "secret printed: {all}");
    }
}

#[test]
fn load_for_run_refuses_any_error_and_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), "plain");
    // Valid: returns the config.
    let c = config::load_for_run(&path).unwrap();
    assert_eq!(c.servers["a"].host, "127.0.0.1");

    // A missing key file is an error for a run, as for validate.
    std::fs::remove_file(dir.path().join("key")).unwrap();
    let err = config::load_for_run(&path).unwrap_err();
    let shown = err.to_string();
    assert!(matches!(err, ConfigError::Invalid { .. }));
    assert!(
        shown.starts_with(&format!("{}: at 'ssh_key': ssh key ", path.display()))
            && shown.ends_with("key does not exist"),
        "{shown}"
    );
    assert!(config::load(&path).unwrap().has_errors());

    // Invalid JSON: one line with line and column.
    std::fs::write(&path, "{\"servers\": }").unwrap();
    let err = config::load_for_run(&path).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: line 1, column 13: invalid JSON: expected value",
            path.display()
        )
    );

    let err = config::load_for_run(&dir.path().join("absent.json")).unwrap_err();
    assert!(
        err.to_string()
            .contains("absent.json: cannot read config: "),
        "{err}"
    );
}

/// A ping URL over plain HTTP sends the check's key in the clear: a warning that names the
/// field and never the key; one on this machine (a local relay) is fine.
#[test]
fn a_plain_http_ping_url_is_warned_about_without_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    let with = |url: &str| {
        let text = format!(
            r#"{{"servers": {{"a": {{"host": "h"}}}}, "jobs": [{{"job_id": "j1", "server": "a"}}], "monitoring": {{"healthcheck_url": "{url}"}}}}"#
        );
        config::load_str(&text, &path, CheckMode::Validate, &|_| None).unwrap()
    };
    let loaded = with("http://hc.example.org/k3y-5ecret");
    assert!(!loaded.has_errors(), "{:#?}", loaded.problems);
    let p = loaded
        .problems
        .iter()
        .find(|p| p.json_path == "monitoring.healthcheck_url")
        .expect("a warning");
    assert_eq!(p.code, "insecure");
    assert!(p.message.contains("http://hc.example.org"), "{}", p.message);
    assert!(!format!("{p:?}").contains("k3y-5ecret"), "{p:?}");
    for fine in ["https://hc.example.org/k3y", "http://127.0.0.1:8000/k3y"] {
        let loaded = with(fine);
        assert!(
            !loaded.problems.iter().any(|p| p.code == "insecure"),
            "{fine}: {:#?}",
            loaded.problems
        );
    }
}
