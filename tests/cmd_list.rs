//! `jbr list` as a user runs it: configured jobs with their live state from `jbr-sim`, and the
//! jobs that target the NAS without being configured (a finding: exit 1).

mod support;

use serde_json::json;
use support::cli::*;

fn all_configured() -> serde_json::Value {
    let mut jobs = default_jobs();
    jobs.as_array_mut()
        .unwrap()
        .push(json!({"job_id": STRAY, "server": "web-01", "label": "stray", "enabled": false}));
    jobs
}

#[test]
fn every_job_configured_exits_0() {
    let fleet = cli_fleet(standard_world(), all_configured(), json!({}));
    let run = fleet.jbr(&["list"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(run.stderr, "", "{run}");
    assert_eq!(
        run.line("SERVER"),
        "SERVER JOB TYPE PRIORITY CONFIG ON SERVER"
    );
    assert_eq!(
        run.line("web-01  6a5e…0001"),
        "web-01 6a5e…0001 \"accounts\" accounts 10 enabled disabled, targets the NAS"
    );
    assert_eq!(
        run.line("web-01  6a5e…0003"),
        "web-01 6a5e…0003 \"stray\" other 0 disabled disabled, targets the NAS"
    );
    assert_eq!(run.line("list:"), "list: 4 configured jobs");
    fleet.assert_only_reads("web-01");
}

#[test]
fn an_unconfigured_job_targeting_the_nas_is_listed_and_exits_1() {
    let fleet = standard_fleet();
    let run = fleet.jbr(&["list"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert_eq!(
        run.line("web-01  6a5e…0003"),
        "web-01 6a5e…0003 - - NOT CONFIGURED disabled, targets the NAS, named \"stray\""
    );
    assert_eq!(
        run.line("list:"),
        "list: 3 configured jobs, 1 unconfigured job targeting the NAS"
    );
    assert_eq!(
        run.stderr,
        format!(
            "jbr: server web-01: job {STRAY} \"stray\" targets the NAS destination 6a5e…0001 but is not in the config\n"
        )
    );

    let v = fleet.jbr(&["list", "--json"]).json();
    assert_eq!(v["ok"], false);
    assert_eq!(v["configured"], 3);
    assert_eq!(v["unconfigured_targeting_nas"], 1);
    let stray = v["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["job_id"] == STRAY)
        .unwrap();
    assert_eq!(stray["configured"], false);
    assert_eq!(stray["targets_nas"], true);
    assert_eq!(stray["name"], "stray");
    assert_eq!(stray["type"], json!(null));
    let a = &v["jobs"][0];
    assert_eq!(a["job_id"], JOB_A);
    assert_eq!(a["type"], "accounts");
    assert_eq!(a["priority"], 10);
    assert_eq!(a["exists"], true);
}

#[test]
fn missing_jobs_and_an_unreachable_server_are_reported_the_others_listed() {
    let mut jobs = all_configured();
    jobs.as_array_mut().unwrap().extend([
        json!({"job_id": "6a5e0700000000000000ffff", "server": "web-02", "label": "ghost"}),
        json!({"job_id": "6a5e0700000000000000eeee", "server": "web-00", "label": "db"}),
    ]);
    let fleet = cli_fleet(standard_world(), jobs, dead_server("web-00"));
    let run = fleet.jbr(&["list"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert_eq!(
        run.line("web-00"),
        "web-00 6a5e…eeee \"db\" other 0 enabled ? (server web-00 not reachable)"
    );
    assert_eq!(
        run.line("web-02  6a5e…ffff"),
        "web-02 6a5e…ffff \"ghost\" other 0 enabled MISSING on the server"
    );
    assert!(
        run.line("web-02  6a5e…0001")
            .ends_with("disabled, targets the NAS"),
        "{run}"
    );
    assert_eq!(
        run.line("list:"),
        "list: 6 configured jobs, 1 missing on the server, unreachable: web-00"
    );
    let errors: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(errors.len(), 2, "{run}");
    assert!(
        errors[0].starts_with("jbr: server web-00: listBackupJobs: cannot connect"),
        "{run}"
    );
    assert_eq!(
        errors[1],
        "jbr: server web-02, job 6a5e…ffff \"ghost\": not found in listBackupJobs (configured but missing on the server)"
    );
}

#[test]
fn list_has_no_server_flag_and_documents_its_exit_status() {
    let run = support::bin::jbr()
        .args(["list", "--server", "web-01"])
        .run();
    assert_eq!(run.code, Some(2), "{run}");
    let help = words(&support::bin::jbr().args(["list", "--help"]).run().stdout);
    assert!(
        help.contains(
            "1 when a server is unreachable, a configured job is missing, or an unconfigured job"
        ),
        "{help}"
    );
}
