//! `jbr test` as a user runs it: the real binary against `jbr-sim` servers in real processes.

mod support;

use serde_json::json;
use support::cli::*;

#[test]
fn every_server_destination_and_job_present_exits_0() {
    let fleet = standard_fleet();
    let run = fleet.jbr(&["test"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(run.stderr, "", "{run}");
    assert_eq!(run.line("SERVER"), "SERVER CHECK RESULT DETAIL");
    assert_eq!(
        run.line("web-01  ssh"),
        "web-01 ssh + api ok SSH and jetbackup5api answer"
    );
    assert_eq!(
        run.line("web-01  destination"),
        "web-01 destination 6a5e…0001 ok \"NAS\" (SSH), disabled"
    );
    assert_eq!(
        run.line("web-01  job 6a5e…0001"),
        "web-01 job 6a5e…0001 \"accounts\" ok \"accounts\", disabled"
    );
    assert_eq!(
        run.line("web-02  job"),
        "web-02 job 6a5e…0001 \"files\" ok \"files\", disabled"
    );
    assert_eq!(run.line("test:"), "test: 2 servers ok");
    // Invariant 4: a check never changes anything on a server.
    assert_eq!(fleet.calls("web-01")["getBackupJob"], 2);
    fleet.assert_only_reads("web-01");
    fleet.assert_only_reads("web-02");
}

#[test]
fn json_is_one_document_with_a_check_per_item() {
    let fleet = standard_fleet();
    let run = fleet.jbr(&["test", "--json"]);
    assert_eq!(run.code, Some(0), "{run}");
    let v = run.json();
    assert_eq!(v["ok"], true);
    assert_eq!(v["errors"], json!([]));
    let servers = v["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 2);
    assert_eq!(servers[0]["server"], "web-01");
    assert_eq!(servers[0]["reachable"], true);
    let checks = servers[0]["checks"].as_array().unwrap();
    let kinds: Vec<&str> = checks
        .iter()
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["ping", "destination", "job", "job"]);
    assert_eq!(checks[1]["id"], DEST1);
    assert_eq!(checks[2]["id"], JOB_A);
    assert_eq!(checks[2]["label"], "accounts");
    assert_eq!(checks[2]["status"], "ok");
}

#[test]
fn a_missing_job_and_an_unreachable_server_exit_1_and_the_others_are_still_checked() {
    let mut jobs = default_jobs();
    jobs.as_array_mut().unwrap().push(json!(
        {"job_id": "6a5e0700000000000000ffff", "server": "web-01", "label": "ghost"}
    ));
    let fleet = cli_fleet(standard_world(), jobs, dead_server("web-00"));
    let run = fleet.jbr(&["test"]);
    assert_eq!(run.code, Some(1), "{run}");
    let dead = run.line("web-00");
    assert!(
        dead.starts_with("web-00 ssh + api FAILED server web-00: getDestination: cannot connect"),
        "{run}"
    );
    assert!(dead.contains("/nonexistent/jbr-sim"), "{run}");
    assert_eq!(
        run.line("web-01  job 6a5e…ffff"),
        "web-01 job 6a5e…ffff \"ghost\" MISSING server web-01, job 6a5e…ffff \"ghost\": getBackupJob: success=0 \"No backup job found with the provided id\""
    );
    assert!(run.line("web-02  job").contains(" ok "), "{run}");
    assert_eq!(
        run.line("test:"),
        "test: 3 servers checked, 2 with problems"
    );
    let errors: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(errors.len(), 2, "{run}");
    assert!(
        errors[0].starts_with("jbr: server web-00: getDestination: cannot connect"),
        "{run}"
    );
    assert!(
        errors[1].starts_with("jbr: server web-01, job 6a5e…ffff \"ghost\": getBackupJob"),
        "{run}"
    );
}

#[test]
fn a_job_that_writes_elsewhere_is_a_warning_not_a_failure() {
    let world = standard_world().server("web-03", |s| {
        s.destination(DEST1)
            .destination("6a5e0700000000000000eeee")
            .job("6a5e0700000000000000e001", 1.0)
    });
    let fleet = cli_fleet(
        world,
        json!([{"job_id": "6a5e0700000000000000e001", "server": "web-03"}]),
        json!({}),
    );
    let run = fleet.jbr(&["test", "--server", "web-03"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(
        run.line("web-03  job")
            .ends_with("warning \"other\", disabled, does not target destination 6a5e…0001 (its destinations: 6a5e…eeee)"),
        "{run}"
    );
}

#[test]
fn server_selects_one_and_an_unknown_name_is_a_usage_error() {
    let fleet = standard_fleet();
    let run = fleet.jbr(&["test", "--server", "web-02"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(!run.stdout.contains("web-01"), "{run}");
    assert_eq!(fleet.calls("web-01").len(), 0, "web-01 was not to be asked");

    let run = fleet.jbr(&["test", "--server", "web-9"]);
    assert_eq!(run.code, Some(2), "{run}");
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        format!(
            "jbr: --server \"web-9\": no such server in {} (known: web-01, web-02)\n",
            fleet.config.display()
        )
    );
}

#[test]
fn a_bad_config_is_exit_2_before_any_server_is_asked() {
    let fleet = standard_fleet();
    std::fs::write(&fleet.config, "{\"servers\": {\"x\": {}}}").unwrap();
    let run = fleet.jbr(&["test"]);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stderr.contains("servers.x.host"), "{run}");
    assert!(fleet.calls("web-01").is_empty());
}

#[test]
fn help_documents_the_exit_status() {
    let run = support::bin::jbr().args(["test", "--help"]).run();
    assert_eq!(run.code, Some(0));
    assert!(
        words(&run.stdout).contains("Exit status: 0 when every server answered and every destination and job exists (warnings allowed); 1 when a server is unreachable, a destination or job is missing, or a call failed; 2 for a usage or config error"),
        "{run}"
    );
    assert!(run.stdout.contains("--server <NAME>"), "{run}");
}

#[test]
fn an_ssh_server_on_a_closed_loopback_port_is_reported_quickly() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let fleet = cli_fleet(
        standard_world(),
        default_jobs(),
        json!({"web-ssh": {"host": "127.0.0.1", "port": port, "ssh_timeout": 2, "destination_id": DEST1}}),
    );
    let run = fleet.jbr(&["test"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(run.took < std::time::Duration::from_secs(10), "{run}");
    let line = run.line("web-ssh");
    assert!(
        line.starts_with("web-ssh ssh + api FAILED server web-ssh: ping: "),
        "{run}"
    );
    assert!(run.line("web-01  job 6a5e…0001").contains(" ok "), "{run}");
    assert!(run.line("web-02  job").contains(" ok "), "{run}");
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("jbr: "))
        .collect();
    assert_eq!(errors.len(), 1, "{run}");
    assert!(
        errors[0].starts_with("jbr: server web-ssh: ping: "),
        "{run}"
    );
}

#[test]
fn enabled_or_running_outside_a_window_is_a_warning() {
    let fleet = standard_fleet();
    fleet.start_job("web-02", DEST2, JOB_C);
    let run = fleet.jbr(&["test", "--server", "web-02"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(
        run.line("web-02 destination"),
        "web-02 destination 6a5e…0002 warning \"NAS\" (SSH), ENABLED (a run in progress, or left enabled)"
    );
    assert_eq!(
        run.line("web-02 job"),
        "web-02 job 6a5e…0001 \"files\" warning \"files\", ENABLED, running, a run in progress, or left enabled"
    );
}
