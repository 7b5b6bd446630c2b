//! `orchestrator.metrics_file` (issue 11, item 2): the Prometheus textfile a real `jbr run`
//! writes, read back by a real parser (the Python `prometheus_client`'s text parser, as
//! node_exporter's collector reads the same format): while the run works, and after it.

mod support;

use std::time::Duration;

use jbr::sim::{Outcome, SimWorld, World};
use serde_json::{Value, json};
use support::bin;
use support::fleet::Fleet;

/// Prints the file's families as JSON: name, type, help and samples (name, labels, value).
const PARSE: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1]).read()
out = []
for f in text_string_to_metric_families(text):
    out.append({"name": f.name, "type": f.type, "help": f.documentation,
                "samples": [[s.name, s.labels, s.value] for s in f.samples]})
print(json.dumps(out))
"#;

/// The families, or `None` (the test skips) where the parser is not installed.
fn parse(path: &std::path::Path) -> Option<Vec<Value>> {
    let has = bin::Cmd::new("/usr/bin/python3")
        .args(["-c", "import prometheus_client.parser"])
        .run();
    if has.code != Some(0) {
        if std::env::var("JBR_REQUIRE_TOOLS").as_deref() == Ok("1") {
            panic!("python3-prometheus-client is missing but JBR_REQUIRE_TOOLS=1");
        }
        eprintln!("skipped: no python3-prometheus-client to parse the textfile");
        return None;
    }
    let run = bin::Cmd::new("/usr/bin/python3")
        .args(["-c", PARSE])
        .arg(path)
        .run();
    run.expect_success();
    Some(serde_json::from_str(&run.stdout).unwrap())
}

/// The value of `name` with exactly `labels` (JSON object), or a failure listing all.
fn value(families: &[Value], name: &str, labels: Value) -> f64 {
    families
        .iter()
        .flat_map(|f| f["samples"].as_array().unwrap())
        .find(|s| s[0] == name && s[1] == labels)
        .and_then(|s| s[2].as_f64())
        .unwrap_or_else(|| panic!("no {name} {labels} in {families:#?}"))
}

fn world(first_secs: f64) -> World {
    SimWorld::builder()
        .server("web-01", |s| {
            s.destination("nas")
                .job("accounts", first_secs)
                .job_with("databases", 0.3, |j| j.outcome(Outcome::Failed))
        })
        .build_state()
}

fn lab(first_secs: f64) -> Fleet {
    let fleet = Fleet::local(world(first_secs));
    let metrics = fleet.path("textfile/jbr.prom");
    std::fs::create_dir_all(metrics.parent().unwrap()).unwrap();
    fleet.write_config(|c| c["orchestrator"]["metrics_file"] = json!(metrics));
    fleet
}

#[test]
fn after_a_run_every_family_parses_with_help_and_type_and_says_what_happened() {
    let fleet = lab(0.5);
    let file = fleet.path("textfile/jbr.prom");
    let run = fleet.jbr(&["run", "--force-activate"]);
    run.expect_code(1);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.ends_with('\n') && !text.contains("# EOF"), "{text}");
    let Some(families) = parse(&file) else {
        return;
    };
    for f in &families {
        assert_eq!(f["type"], "gauge", "{f}");
        assert!(!f["help"].as_str().unwrap().is_empty(), "{f}");
    }
    assert_eq!(value(&families, "jbr_run_in_progress", json!({})), 0.0);
    assert_eq!(value(&families, "jbr_run_exit_code", json!({})), 1.0);
    assert_eq!(value(&families, "jbr_left_enabled", json!({})), 0.0);
    assert_eq!(
        value(&families, "jbr_jobs", json!({"outcome": "completed"})),
        1.0
    );
    assert_eq!(
        value(&families, "jbr_jobs", json!({"outcome": "failed"})),
        1.0
    );
    assert_eq!(
        value(&families, "jbr_jobs", json!({"outcome": "partial"})),
        0.0
    );
    let job = |name: &str| json!({"server": "web-01", "job_id": fleet.job_id("web-01", name), "label": name});
    assert_eq!(value(&families, "jbr_job_success", job("accounts")), 1.0);
    assert_eq!(value(&families, "jbr_job_success", job("databases")), 0.0);
    assert!(value(&families, "jbr_job_duration_seconds", job("accounts")) > 0.0);
    // The scheduler's window and the scheduler's runs (issue 13): figures, never negative.
    assert!(
        value(
            &families,
            "jbr_job_scheduler_exposure_seconds",
            job("accounts")
        ) >= 0.0
    );
    assert_eq!(
        value(&families, "jbr_job_scheduler_runs", job("accounts")),
        0.0
    );
    assert!(
        value(
            &families,
            "jbr_job_nas_idle_before_seconds",
            job("databases")
        ) >= 0.0
    );
    let started = value(&families, "jbr_run_start_timestamp_seconds", json!({}));
    let ended = value(&families, "jbr_run_end_timestamp_seconds", json!({}));
    assert!(ended >= started && started > 1.7e9, "{started} {ended}");
    assert!(
        value(
            &families,
            "jbr_job_last_success_timestamp_seconds",
            job("accounts")
        ) >= started
    );
    // A job that never succeeded has no last success: no sample rather than a made-up 0.
    assert!(
        !text.contains(&format!(
            "jbr_job_last_success_timestamp_seconds{{server=\"web-01\",job_id=\"{}\"",
            fleet.job_id("web-01", "databases")
        )),
        "{text}"
    );
}

#[test]
fn while_a_run_works_the_file_says_it_is_in_progress() {
    let fleet = lab(4.0);
    let file = fleet.path("textfile/jbr.prom");
    let running = fleet.spawn_jbr(&["run", "--force-activate"]);
    assert!(
        fleet.wait_writing(None, Duration::from_secs(30)),
        "{}",
        running.stderr_so_far()
    );
    let during = parse(&file);
    running.wait().expect_code(1);
    let Some(during) = during else {
        return;
    };
    assert_eq!(value(&during, "jbr_run_in_progress", json!({})), 1.0);
    assert!(value(&during, "jbr_run_start_timestamp_seconds", json!({})) > 1.7e9);
    let after = parse(&file).unwrap();
    assert_eq!(value(&after, "jbr_run_in_progress", json!({})), 0.0);
}
