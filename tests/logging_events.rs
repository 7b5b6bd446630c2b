//! Events reach stderr and the rotated file the way ops and journald want them, and never carry
//! a secret. One test per process owns the global subscriber, so the file test is alone here.

mod support;

use support::bin;

use jbr::config::{self, CheckMode};
use jbr::logging::{self, Settings};

const SECRET: &str = "hunter2-is-not-a-log-line";

#[test]
fn events_go_to_the_rotated_file_complete_and_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    let text = r#"{"servers": {"a": {"host": "h"}}, "jobs": [{"job_id": "j1", "server": "a"}],
        "notification": {"smtp_password": "FROM_ENV:JBR_LOG_TEST_PASSWORD"}}"#;
    let env = |k: &str| (k == "JBR_LOG_TEST_PASSWORD").then(|| SECRET.to_string());
    let loaded = config::load_str(text, &path, CheckMode::Validate, &env).unwrap();
    assert_eq!(loaded.config.notification.smtp_password.expose(), SECRET);

    let guard = logging::init(Settings {
        verbose: 0,
        quiet: true,
    })
    .unwrap();
    assert!(matches!(
        logging::init(Settings::default()),
        Err(logging::LogError::AlreadyInitialised)
    ));
    let log = dir.path().join("log/jbr.log");
    logging::attach_file(&log, 600, 2).unwrap();
    tracing::info!(target: "jbr::commands", config = ?loaded.config, "loaded");
    tracing::warn!(target: "jbr::notify", password = %loaded.config.notification.smtp_password, "smtp");
    for i in 0..40 {
        tracing::info!(target: "jbr::orchestrator", server = "web-01", "event {i:03}");
    }
    tracing::debug!(target: "jbr::orchestrator", "not in the file at the default level");
    drop(guard);

    let mut names: Vec<String> = std::fs::read_dir(dir.path().join("log"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["jbr.log", "jbr.log.1", "jbr.log.2"]);
    let mut all = String::new();
    for name in ["jbr.log.2", "jbr.log.1", "jbr.log"] {
        all.push_str(&std::fs::read_to_string(dir.path().join("log").join(name)).unwrap());
    }
    assert!(!all.contains(SECRET));
    assert!(!all.contains('\x1b'), "no colour codes in the file");
    assert!(!all.contains("not in the file"));
    assert!(all.ends_with("event 039 server=\"web-01\"\n"), "{all}");
    let events: Vec<usize> = all
        .lines()
        .filter_map(|l| l.split("event ").nth(1))
        .map(|rest| rest[..3].parse().unwrap())
        .collect();
    assert!(!events.is_empty());
    for pair in events.windows(2) {
        assert_eq!(pair[1], pair[0] + 1, "an event went missing");
    }
}

fn stderr_of(envs: &[(&str, &str)]) -> String {
    let cmd = bin::jbr()
        .args(["-v", "validate", "-c", "/nonexistent/config.json"])
        .env_remove("JOURNAL_STREAM");
    let out = envs.iter().fold(cmd, |cmd, (k, v)| cmd.env(k, v)).run();
    out.expect_code(2);
    out.stderr
}

#[test]
fn stderr_is_plain_text_when_not_a_terminal() {
    let err = stderr_of(&[]);
    assert!(
        err.contains("DEBUG validating config file=/nonexistent/config.json"),
        "{err}"
    );
    assert!(!err.contains('\x1b'), "colour codes on a pipe: {err:?}");
    // A timestamp leads the line when journald is not the reader.
    assert!(err.starts_with("20"), "{err}");
}

#[test]
fn under_journald_lines_carry_no_timestamp() {
    let err = stderr_of(&[("JOURNAL_STREAM", "8:12345")]);
    assert!(err.starts_with("DEBUG validating config"), "{err}");
}

#[test]
fn quiet_and_rust_log_adjust_levels() {
    let quiet = bin::jbr()
        .args(["-q", "validate", "-c", "/nonexistent/config.json"])
        .run();
    assert!(quiet.stderr.is_empty(), "{quiet}");
    let err = stderr_of(&[("RUST_LOG", "off")]);
    assert!(err.is_empty(), "{err}");
}
