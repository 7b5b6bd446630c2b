//! `run --dry-run` is the run (issue 10): its listing is what the orchestrator sent in a
//! rehearsal on a snapshot, so it cannot drift. Here the dry run and then the real run go to
//! the same simulated fleet, and the two call sequences (polls collapsed, made-up ids as
//! placeholders) must be equal: with each destination method the state file may have learned,
//! with a server down, with a job missing on its server, and with a journal to replay. A dry
//! run itself never sends a write.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use support::lab;

use jbr::api::Client;
use jbr::config::Config;
use jbr::contract::RawOutput;
use jbr::journal::{Journal, Target};
use jbr::orchestrator::context::RunOptions;
use jbr::orchestrator::dry_run::{self, Sent};
use jbr::orchestrator::plan::{self, Selection};
use jbr::orchestrator::progress::Progress;
use jbr::report::state::State;
use jbr::sim::{DestStateFn, Fault, FaultKind, Outcome, ServerBuilder, SimWorld, When};
use jbr::transport::simulated::SimTransport;
use jbr::transport::{Transport, TransportError};

/// Records every call in order, across servers; fails a write when `read_only`. A server in
/// `down` answers nothing at all, its ping included (the simulator's faults spare the ping).
struct Recorder {
    inner: SimTransport,
    sent: Arc<Mutex<Vec<Sent>>>,
    read_only: bool,
    down: bool,
}

impl Transport for Recorder {
    fn server(&self) -> &str {
        self.inner.server()
    }
    async fn run(&self, argv: &[String]) -> Result<RawOutput, TransportError> {
        assert!(
            !(self.read_only && argv.iter().any(|a| jbr::contract::is_write(a))),
            "a dry run sent a write to {}: {argv:?}",
            self.server()
        );
        self.sent.lock().unwrap().push(Sent {
            server: self.server().to_string(),
            argv: argv.to_vec(),
        });
        if self.down {
            return Err(TransportError::Disconnected {
                server: self.server().to_string(),
                reason: "connection refused".into(),
            });
        }
        self.inner.run(argv).await
    }
}

/// The calls every recorder of one run has seen, in order.
type Log = Arc<Mutex<Vec<Sent>>>;

fn clients(
    world: &SimWorld,
    c: &Config,
    read_only: bool,
    down: &[&str],
) -> (BTreeMap<String, Client<Recorder>>, Log) {
    let sent = Arc::new(Mutex::new(Vec::new()));
    let clients = c
        .servers
        .keys()
        .map(|n| {
            let t = Recorder {
                inner: SimTransport::new(world.clone(), n),
                sent: sent.clone(),
                read_only,
                down: down.contains(&n.as_str()),
            };
            (n.clone(), Client::new(t))
        })
        .collect();
    (clients, sent)
}

/// Two servers, two jobs and one; `tune` shapes web-01.
fn fleet(tune: impl Fn(ServerBuilder) -> ServerBuilder) -> SimWorld {
    SimWorld::builder()
        .server("web-01", |s| {
            tune(
                s.destination("nas")
                    .job("accounts", 40.0)
                    .job_with("databases", 25.0, |j| j.outcome(Outcome::Completed)),
            )
        })
        .server("web-02", |s| s.destination("nas").job("accounts", 30.0))
        .build()
}

fn config(world: &SimWorld, dir: &Path) -> Config {
    let mut c = lab::sim_config(dir);
    for server in ["web-01", "web-02"] {
        c.servers
            .insert(server.into(), lab::sim_server(world, server));
    }
    c.jobs.push(lab::sim_job(world, "web-01", "accounts"));
    c.jobs.push(lab::sim_job(world, "web-01", "databases"));
    c.jobs.push(lab::sim_job(world, "web-02", "accounts"));
    c
}

/// The dry run's listing, then the real run's, on copies of the same fleet and the same
/// state file and journal.
async fn both(
    world: impl Fn() -> SimWorld,
    state: &State,
    journal: &[jbr::journal::Op],
    down: &[&str],
    missing: Option<&str>,
) -> (Vec<String>, Vec<String>) {
    let mut listings = Vec::new();
    for dry in [true, false] {
        let w = world();
        let dir = tempfile::tempdir().unwrap();
        let mut c = config(&w, dir.path());
        if let Some(id) = missing {
            c.jobs.push(lab::job(id, "web-01"));
        }
        {
            let mut j = Journal::open(&c.orchestrator.journal_file, "earlier").unwrap();
            for op in journal {
                j.write(op.clone()).unwrap();
            }
        }
        let p = plan::build(&c, &Selection::default()).unwrap();
        let (clients, sent) = clients(&w, &c, dry, down);
        let options = RunOptions {
            force_activate: true,
            ..RunOptions::default()
        };
        let (calls, known) = if dry {
            let snapshot = dry_run::snapshot(&p, &clients).await;
            sent.lock().unwrap().clear();
            let scratch = tempfile::tempdir().unwrap();
            let r = dry_run::rehearse(
                &c,
                &p,
                &snapshot,
                state,
                options,
                &c.orchestrator.journal_file,
                scratch.path(),
            )
            .unwrap();
            assert!(
                sent.lock().unwrap().is_empty(),
                "the rehearsal reached the servers"
            );
            println!("{}", jbr::report::text::render(&r.record));
            (r.sent, dry_run::known_ids(&c, &snapshot))
        } else {
            let mut journal = Journal::open(&c.orchestrator.journal_file, "real").unwrap();
            let mut st = state.clone();
            let (_tx, cancel) = tokio::sync::watch::channel(false);
            let r = lab::run_all(
                &c,
                &clients,
                &mut journal,
                &mut st,
                options,
                cancel,
                Progress::none(),
            )
            .await;
            println!("{}", jbr::report::text::render(&r));
            let known = dry_run::known_ids(&c, &BTreeMap::new());
            let calls = sent.lock().unwrap().clone();
            (calls, known)
        };
        listings.push(dry_run::listing(
            &calls,
            &known,
            c.orchestrator.poll_interval,
        ));
    }
    let real = listings.pop().unwrap();
    let dry = listings.pop().unwrap();
    (dry, real)
}

fn assert_same(dry: &[String], real: &[String]) {
    assert!(
        dry == real,
        "the dry run's listing and the real run's calls differ:\n--- dry run\n{}\n--- real run\n{}",
        dry.join("\n"),
        real.join("\n")
    );
}

fn learned(method: &str) -> State {
    let mut s = State::default();
    for server in ["web-01", "web-02"] {
        s.destination_methods
            .insert(server.to_string(), method.to_string());
    }
    s
}

#[tokio::test(start_paused = true)]
async fn the_dry_run_lists_the_calls_the_run_makes_with_each_destination_method() {
    // Nothing learned yet, manageDestinationState works: the run's first choice.
    let (dry, real) = both(|| fleet(|s| s), &State::default(), &[], &[], None).await;
    assert_same(&dry, &real);
    assert!(
        dry.iter()
            .any(|l| l.contains("CHANGE jetbackup5api -F manageDestinationState"))
    );
    assert!(
        dry.iter()
            .any(|l| l.contains("-F getQueueGroup -D '_id=<group>'"))
    );

    // The state file learned manageDestination on a server without manageDestinationState.
    let absent = || fleet(|s| s.destination_state_fn(DestStateFn::Absent));
    let (dry, real) = both(absent, &learned("manageDestination"), &[], &[], None).await;
    assert_same(&dry, &real);
    assert!(
        dry.iter()
            .any(|l| l.contains("CHANGE jetbackup5api -F manageDestination -D"))
    );
    assert!(!dry.iter().any(|l| l.contains("manageDestinationState")));
}

#[tokio::test(start_paused = true)]
async fn a_server_down_and_a_job_missing_are_rehearsed_as_the_run_meets_them() {
    // web-01 answers nothing: both skip it the same way, after the same retries.
    let (dry, real) = both(|| fleet(|s| s), &State::default(), &[], &["web-01"], None).await;
    assert_same(&dry, &real);
    // Pre-flight asks both servers at once: web-01's pings interleave with web-02's reads.
    assert!(
        dry.iter()
            .any(|l| l.starts_with("[web-01] read   echo jbr-ping   (repeated")),
        "{dry:?}"
    );
    assert!(
        dry.iter()
            .filter(|l| l.starts_with("[web-01]"))
            .all(|l| l.contains("echo jbr-ping")),
        "{dry:?}"
    );
    // Failures mid-window that no snapshot can foresee: the trigger's answer is lost (the
    // group is searched for, never triggered twice), and a job fails. The run still makes the
    // calls the dry run listed.
    let lost = Fault::on("runBackupJobManually", When::Call(1), FaultKind::Disconnect);
    let faulty = || {
        let w = fleet(|s| s.fault(lost.clone().taking_effect()));
        w.with_server("web-02", |s| s.jobs[0].outcome = Outcome::Failed);
        w
    };
    let (dry, real) = both(faulty, &State::default(), &[], &[], None).await;
    // The dry run assumes every job completes: a job that fails adds one read, its log items
    // (what failed); the lost answer adds one too, the enable's read-back, which the
    // trigger's answer would have been. Nothing else.
    let why: Vec<&String> = real.iter().filter(|l| l.contains("listLogItems")).collect();
    assert_eq!(why.len(), 1, "{real:?}");
    assert!(why[0].starts_with("[web-02] read "));
    let trigger = real
        .iter()
        .position(|l| l.contains("runBackupJobManually"))
        .expect("a trigger");
    assert!(
        real[trigger + 1].starts_with("[web-01] read   jetbackup5api -F getBackupJob "),
        "{real:?}"
    );
    let rest: Vec<String> = real
        .iter()
        .enumerate()
        .filter(|(i, l)| !l.contains("listLogItems") && *i != trigger + 1)
        .map(|(_, l)| l.clone())
        .collect();
    assert_same(&dry, &rest);
    // A configured job the server does not have.
    let (dry, real) = both(
        || fleet(|s| s),
        &State::default(),
        &[],
        &[],
        Some("6a00000000000000000000ff"),
    )
    .await;
    assert_same(&dry, &real);
}

#[tokio::test(start_paused = true)]
async fn a_journal_left_open_is_replayed_in_the_rehearsal_too() {
    let world = || fleet(|s| s);
    let w = world();
    let journal = [
        lab::enable("web-01", Target::Destination, &w.id("web-01", "nas")),
        lab::enable("web-01", Target::Job, &w.id("web-01", "accounts")),
    ];
    // The crashed run left them enabled on the server too.
    let left_enabled = || {
        let w = world();
        w.with_server("web-01", |s| {
            for d in &mut s.destinations {
                d.disabled = false;
            }
            for j in s.jobs.iter_mut().filter(|j| j.name == "accounts") {
                j.disabled = false;
            }
        });
        w
    };
    let (dry, real) = both(left_enabled, &State::default(), &journal, &[], None).await;
    assert_same(&dry, &real);
}
