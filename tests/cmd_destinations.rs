//! `jbr destinations` as a user runs it: each server's NAS destination, live from `jbr-sim`, and
//! what the next run does with it (the state file says whether jbr itself disabled it).

mod support;

use jbr::report::state::{self, State};
use serde_json::json;
use support::cli::*;

#[test]
fn disabled_by_someone_else_says_the_next_run_skips_it() {
    let fleet = standard_fleet();
    let mut st = State::default();
    st.note_destination("web-02", DEST2, true);
    state::save(&fleet.path("last-run.json"), &st).unwrap();

    let run = fleet.jbr(&["destinations"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(run.stderr, "");
    assert_eq!(run.line("SERVER"), "SERVER DESTINATION NAME STATE NEXT RUN");
    assert_eq!(
        run.line("web-01"),
        "web-01 6a5e…0001 \"NAS\" (SSH) disabled SKIPS this server: disabled by someone else (skip_if_disabled; run --force-activate to override)"
    );
    assert_eq!(
        run.line("web-02"),
        "web-02 6a5e…0002 \"NAS\" (SSH) disabled enables it for its window (jbr disabled it)"
    );
    fleet.assert_only_reads("web-01");

    let v = fleet.jbr(&["destinations", "--json"]).json();
    assert_eq!(v["ok"], true);
    let d = &v["destinations"][1];
    assert_eq!(d["server"], "web-02");
    assert_eq!(d["id"], DEST2);
    assert_eq!(d["exists"], true);
    assert_eq!(d["disabled"], true);
    assert_eq!(d["disabled_by_jbr"], true);
    assert_eq!(v["destinations"][0]["disabled_by_jbr"], false);
}

#[test]
fn an_enabled_destination_and_one_server_selected() {
    let fleet = standard_fleet();
    fleet.start_job("web-01", DEST1, JOB_A);
    let run = fleet.jbr(&["destinations", "--server", "web-01"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(!run.stdout.contains("web-02"), "{run}");
    assert_eq!(
        run.line("web-01"),
        "web-01 6a5e…0001 \"NAS\" (SSH) ENABLED uses it, disables it afterwards (enabled now: a run in progress, or left enabled)"
    );
}

#[test]
fn a_missing_destination_and_an_unreachable_server_exit_1() {
    let mut extra = dead_server("web-00");
    let fleet0 = standard_fleet();
    let mut web03: serde_json::Value = serde_json::from_str::<serde_json::Value>(
        &std::fs::read_to_string(&fleet0.config).unwrap(),
    )
    .unwrap()["servers"]["web-01"]
        .clone();
    web03["destination_id"] = json!("6a5e0700000000000000dead");
    extra["web-03"] = web03;
    let fleet = cli_fleet(standard_world(), default_jobs(), extra);
    // web-03 points at the fleet's own state file, as web-01 does.
    let cfg = std::fs::read_to_string(&fleet.config).unwrap().replace(
        &fleet0.state.display().to_string(),
        &fleet.state.display().to_string(),
    );
    std::fs::write(&fleet.config, cfg).unwrap();

    let run = fleet.jbr(&["destinations"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.line("web-00").starts_with(
            "web-00 6a5e…00de - UNREACHABLE server web-00: getDestination: cannot connect"
        ),
        "{run}"
    );
    assert_eq!(
        run.line("web-03"),
        "web-03 6a5e…dead - MISSING server web-03: getDestination: success=0 \"No destination found with the provided id\" (destination_id 6a5e0700000000000000dead)"
    );
    assert!(run.line("web-01").contains(" disabled "), "{run}");
    assert_eq!(run.stderr.lines().count(), 2, "{run}");

    let v = fleet.jbr(&["destinations", "--json"]).json();
    assert_eq!(v["ok"], false);
    let by = |name: &str| {
        v["destinations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["server"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(by("web-03")["exists"], false);
    assert_eq!(by("web-00")["exists"], json!(null));
    assert!(
        by("web-00")["error"]
            .as_str()
            .unwrap()
            .contains("cannot connect")
    );
}

#[test]
fn a_server_without_destination_id_has_no_lifecycle() {
    let fleet = standard_fleet();
    let cfg = std::fs::read_to_string(&fleet.config).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&cfg).unwrap();
    v["servers"]["web-02"]
        .as_object_mut()
        .unwrap()
        .remove("destination_id");
    std::fs::write(&fleet.config, serde_json::to_vec(&v).unwrap()).unwrap();
    let run = fleet.jbr(&["destinations", "--server", "web-02"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(
        run.line("web-02"),
        "web-02 - - - no destination lifecycle (no destination_id)"
    );
}

#[test]
fn servers_are_asked_concurrently() {
    let fleet = standard_fleet();
    // Each call on either server takes 1.5 s (a slow link): one after the other would be 3 s.
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&fleet.config).unwrap()).unwrap();
    for name in ["web-01", "web-02"] {
        let argv = v["servers"][name]["local_command"].as_array_mut().unwrap();
        let sim = argv.pop().unwrap();
        argv.extend([
            json!("sh"),
            json!("-c"),
            json!("sleep 1.5; exec \"$0\" \"$@\""),
            sim,
        ]);
    }
    std::fs::write(&fleet.config, serde_json::to_vec(&v).unwrap()).unwrap();
    let run = fleet.jbr(&["destinations"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.line("web-01").contains(" disabled "), "{run}");
    assert!(run.line("web-02").contains(" disabled "), "{run}");
    assert!(
        run.took >= std::time::Duration::from_millis(1500)
            && run.took < std::time::Duration::from_millis(2700),
        "{run}"
    );
}
