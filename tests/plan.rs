//! The plan: order, grouping, selection, disabled jobs, and the dry-run rendering.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use jbr::api::DestinationMethod;
use jbr::config::*;
use jbr::orchestrator::dry_run::{self, Timing};
use jbr::orchestrator::plan::{self, PlanError, Selection};

fn server(name: &str, dest: Option<&str>) -> Server {
    Server {
        destination_id: dest.map(Into::into),
        ..common::server(name)
    }
}

fn job(id: &str, server: &str, priority: i64) -> Job {
    Job {
        priority,
        ..common::job(id, server)
    }
}

/// The config file's defaults (the dry run prints its waits) with these servers and jobs.
fn config(servers: Vec<Server>, jobs: Vec<Job>) -> Config {
    Config {
        path: PathBuf::from("config.json"),
        servers: servers
            .into_iter()
            .map(|s| (s.name.clone(), s))
            .collect::<BTreeMap<_, _>>(),
        jobs,
        ..Config::default()
    }
}

fn order(p: &plan::Plan) -> Vec<(String, Vec<String>)> {
    p.servers
        .iter()
        .map(|s| {
            (
                s.server.clone(),
                s.jobs.iter().map(|j| j.job_id.clone()).collect(),
            )
        })
        .collect()
}

fn three_servers() -> Config {
    config(
        vec![
            server("web-01", Some("d1")),
            server("web-02", Some("d2")),
            server("web-03", None),
        ],
        vec![
            job("a1", "web-01", 0),
            job("b1", "web-02", 5),
            job("a2", "web-01", 9),
            job("c1", "web-03", 5),
            job("b2", "web-02", 1),
            job("a3", "web-01", 0),
        ],
    )
}

#[test]
fn jobs_by_priority_grouped_by_server_in_one_window() {
    let p = plan::build(&three_servers(), &Selection::default()).unwrap();
    assert_eq!(
        order(&p),
        vec![
            // web-01 has the highest job (9); its jobs stay together, ties in config order.
            ("web-01".into(), vec!["a2".into(), "a1".into(), "a3".into()]),
            // web-02 and web-03 tie at 5: web-02's job comes first in the config.
            ("web-02".into(), vec!["b1".into(), "b2".into()]),
            ("web-03".into(), vec!["c1".into()]),
        ]
    );
    assert_eq!(p.servers[0].destination_id.as_deref(), Some("d1"));
    assert_eq!(p.servers[2].destination_id, None);
    assert_eq!(p.job_count(), 6);
}

#[test]
fn per_job_timeout_falls_back_to_job_timeout() {
    let mut c = three_servers();
    c.jobs[0].timeout = Some(Duration::from_secs_f64(1.5));
    let p = plan::build(&c, &Selection::default()).unwrap();
    let a1 = p.jobs().find(|j| j.job_id == "a1").unwrap();
    let a2 = p.jobs().find(|j| j.job_id == "a2").unwrap();
    assert_eq!(a1.timeout, Duration::from_secs_f64(1.5));
    assert_eq!(a2.timeout, Duration::from_secs(28800));
}

#[test]
fn select_by_server_and_by_job() {
    let c = three_servers();
    let sel = Selection {
        servers: vec!["web-02".into()],
        jobs: vec![],
    };
    assert_eq!(
        order(&plan::build(&c, &sel).unwrap()),
        vec![("web-02".into(), vec!["b1".into(), "b2".into()])]
    );
    let sel = Selection {
        servers: vec![],
        jobs: vec!["a3".into(), "c1".into()],
    };
    assert_eq!(
        order(&plan::build(&c, &sel).unwrap()),
        vec![
            ("web-03".into(), vec!["c1".into()]),
            ("web-01".into(), vec!["a3".into()])
        ]
    );
}

#[test]
fn unknown_names_are_usage_errors_listing_known_ones() {
    let c = three_servers();
    let err = plan::build(
        &c,
        &Selection {
            servers: vec!["web-9".into()],
            jobs: vec![],
        },
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "--server \"web-9\": not a server in the config (known: web-01, web-02, web-03)"
    );
    let err = plan::build(
        &c,
        &Selection {
            servers: vec![],
            jobs: vec!["zz".into()],
        },
    )
    .unwrap_err();
    assert!(matches!(err, PlanError::UnknownJob { .. }));
    assert_eq!(
        err.to_string(),
        "--job \"zz\": not a job in the config (known: a1, b1, a2, c1, b2, a3)"
    );
    let err = plan::build(
        &c,
        &Selection {
            servers: vec!["web-03".into()],
            jobs: vec!["a1".into()],
        },
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the selection (--server web-03, --job a1) matches no configured job"
    );
}

#[test]
fn disabled_in_config_is_reported_not_run() {
    let mut c = three_servers();
    c.jobs[3].enabled = false; // c1, web-03's only job
    c.jobs[3].label = "files".into();
    let p = plan::build(&c, &Selection::default()).unwrap();
    assert!(p.servers.iter().all(|s| s.server != "web-03"));
    assert_eq!(p.disabled_in_config.len(), 1);
    assert_eq!(p.disabled_in_config[0].job_id, "c1");
    let text = dry_run::render(&p, &[]).unwrap();
    assert!(
        text.contains("skip c1 \"files\" on web-03: disabled in config"),
        "{text}"
    );
}

#[test]
fn dry_run_lists_every_call_in_order_and_writes_only_inside_windows() {
    let c = config(
        vec![server("web-01", Some("6508e9aed49adbd1660f0000"))],
        vec![job("6508e9aed49adbd1660f06d9", "web-01", 0)],
    );
    let p = plan::build(&c, &Selection::default()).unwrap();
    let timing = Timing {
        poll_interval: Duration::from_secs(30),
        startup_timeout: Duration::from_secs(120),
    };
    let steps = dry_run::steps(&p, DestinationMethod::State, timing);
    let text = dry_run::render(&p, &steps).unwrap();
    let calls: Vec<&str> = text
        .lines()
        .filter(|l| !l.contains(" # "))
        .skip(1)
        .collect();
    let expected = [
        "[web-01] read   jetbackup5api -F getDestination -D '_id=6508e9aed49adbd1660f0000' -O json",
        "[web-01] read   jetbackup5api -F getBackupJob -D '_id=6508e9aed49adbd1660f06d9' -O json",
        "[web-01] read   jetbackup5api -F listQueueGroups -D 'type=1' -O json",
        "[web-01] read   jetbackup5api -F listBackupJobs -O json",
        "[web-01] CHANGE jetbackup5api -F manageDestinationState -D '_id=6508e9aed49adbd1660f0000&disabled=0' -O json",
        "[web-01] read   jetbackup5api -F getDestination -D '_id=6508e9aed49adbd1660f0000' -O json",
        "[web-01] CHANGE jetbackup5api -F manageBackupJob -D '_id=6508e9aed49adbd1660f06d9&action=modify&disabled=0' -O json",
        "[web-01] read   jetbackup5api -F getBackupJob -D '_id=6508e9aed49adbd1660f06d9' -O json",
        "[web-01] read   jetbackup5api -F listQueueGroups -D 'type=1' -O json",
        "[web-01] CHANGE jetbackup5api -F runBackupJobManually -D '_id=6508e9aed49adbd1660f06d9' -O json",
        "[web-01] read   jetbackup5api -F listQueueGroups -D 'type=1' -O json   (every 30 s until its new group appears (at most 120 s))",
        "[web-01] read   jetbackup5api -F getQueueGroup -D '_id=<group>' -O json   (every 30 s until final)",
        "[web-01] read   jetbackup5api -F getBackupJob -D '_id=6508e9aed49adbd1660f06d9' -O json   (until running is false)",
        "[web-01] read   jetbackup5api -F listQueueItems -D 'group_id=<group>' -O json",
        "[web-01] CHANGE jetbackup5api -F manageBackupJob -D '_id=6508e9aed49adbd1660f06d9&action=modify&disabled=1' -O json",
        "[web-01] read   jetbackup5api -F getBackupJob -D '_id=6508e9aed49adbd1660f06d9' -O json",
        "[web-01] CHANGE jetbackup5api -F manageDestinationState -D '_id=6508e9aed49adbd1660f0000&disabled=1' -O json",
        "[web-01] read   jetbackup5api -F getDestination -D '_id=6508e9aed49adbd1660f0000' -O json",
    ];
    assert_eq!(calls, expected, "\n{text}");
    assert!(text.starts_with("dry run: 1 job(s) on 1 server(s); nothing will be changed\n"));
}

#[test]
fn dry_run_refuses_values_outside_the_grammar() {
    let c = config(
        vec![server("web-01", None)],
        vec![job("abc;rm -rf /", "web-01", 0)],
    );
    let p = plan::build(&c, &Selection::default()).unwrap();
    let timing = Timing {
        poll_interval: Duration::from_secs(1),
        startup_timeout: Duration::from_secs(1),
    };
    let err =
        dry_run::render(&p, &dry_run::steps(&p, DestinationMethod::Modify, timing)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "server web-01: getBackupJob: refusing to send _id=\"abc;rm -rf /\": outside [A-Za-z0-9_.:-]"
    );
}
