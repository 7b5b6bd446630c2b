//! The plan: order, grouping, selection, disabled jobs (the dry run's own listing is in tests/dry_run.rs).

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;
use support::lab;

use jbr::config::*;
use jbr::orchestrator::dry_run;
use jbr::orchestrator::plan::{self, PlanError, Selection};

fn server(name: &str, dest: Option<&str>) -> Server {
    Server {
        destination_id: dest.map(Into::into),
        ..lab::server(name)
    }
}

fn job(id: &str, server: &str, priority: i64) -> Job {
    Job {
        priority,
        ..lab::job(id, server)
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
    let text = dry_run::render(&p, &[], &jbr::report::RunRecord::new("dry-run", 0.0));
    assert!(
        text.contains("skip c1 \"files\" on web-03: disabled in config"),
        "{text}"
    );
}
