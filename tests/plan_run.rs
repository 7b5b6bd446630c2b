//! The run core without the simulator: retries and backoff on tokio's paused clock, and a run
//! whose servers do not answer (every server skipped with its reason, nothing changed, exit 1).

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use support::lab;

use jbr::api::{ApiError, Client};
use jbr::config::*;
use jbr::exit::Exit;
use jbr::journal::{Journal, Op, Target};
use jbr::orchestrator::context::RunOptions;
use jbr::orchestrator::plan::Selection;
use jbr::orchestrator::progress::Progress;
use jbr::orchestrator::retry::{self, Policy, Repeat};
use jbr::report::Outcome;
use jbr::report::state::State;
use jbr::transport::{RawOutput, Transport, TransportError};

fn policy() -> Policy {
    Policy {
        call_timeout: Duration::from_secs(5),
        backoff: Duration::from_secs(1),
        cap: Duration::from_secs(4),
        window: Duration::from_secs(20),
    }
}

fn transient(server: &str) -> ApiError {
    ApiError::NotJson {
        server: server.into(),
        function: "getQueueGroup",
        snippet: "<html>".into(),
    }
}

#[test]
fn backoff_doubles_and_is_capped() {
    let p = policy();
    let pauses: Vec<f64> = (1..=5).map(|n| p.pause(n).as_secs_f64()).collect();
    assert_eq!(pauses, vec![1.0, 2.0, 4.0, 4.0, 4.0]);
}

#[tokio::test(start_paused = true)]
async fn transient_errors_are_retried_until_an_answer() {
    let tries = AtomicU32::new(0);
    let t0 = tokio::time::Instant::now();
    let r = retry::call(&policy(), Repeat::Freely, "web-01", "getQueueGroup", || {
        let n = tries.fetch_add(1, Ordering::SeqCst);
        async move {
            if n < 3 {
                Err(transient("web-01"))
            } else {
                Ok(n)
            }
        }
    })
    .await;
    assert_eq!(r.unwrap(), 3);
    // 1 + 2 + 4 s of backoff on the paused clock.
    assert_eq!(t0.elapsed(), Duration::from_secs(7));
}

#[tokio::test(start_paused = true)]
async fn a_refused_write_is_not_retried_but_a_refused_read_is() {
    let refused = || ApiError::Refused {
        server: "web-01".into(),
        function: "manageBackupJob",
        message: "No job found".into(),
    };
    let tries = AtomicU32::new(0);
    let r: Result<(), _> = retry::call(
        &policy(),
        Repeat::OnlyIfUnanswered,
        "web-01",
        "manageBackupJob",
        || {
            tries.fetch_add(1, Ordering::SeqCst);
            async { Err(refused()) }
        },
    )
    .await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "server web-01: manageBackupJob: success=0 \"No job found\""
    );
    assert_eq!(tries.load(Ordering::SeqCst), 1);

    let tries = AtomicU32::new(0);
    let t0 = tokio::time::Instant::now();
    let r: Result<(), _> = retry::call(&policy(), Repeat::Freely, "web-01", "getBackupJob", || {
        tries.fetch_add(1, Ordering::SeqCst);
        async { Err(refused()) }
    })
    .await;
    assert!(r.is_err());
    // Tries while the next pause still ends inside the window (20 s): pauses 1, 2, 4, 4, 4, 4.
    assert_eq!(tries.load(Ordering::SeqCst), 7);
    assert_eq!(t0.elapsed(), Duration::from_secs(19));
}

#[tokio::test(start_paused = true)]
async fn a_call_that_hangs_times_out_as_a_transport_error() {
    let p = Policy {
        window: Duration::ZERO,
        ..policy()
    };
    let r: Result<(), _> = retry::call(&p, Repeat::Freely, "web-01", "getQueueGroup", || async {
        std::future::pending::<Result<(), ApiError>>().await
    })
    .await;
    let e = r.unwrap_err();
    assert!(e.is_transient());
    assert_eq!(
        e.to_string(),
        "getQueueGroup: server web-01: no answer within 5 s"
    );
}

/// A server that never answers.
struct Down(String);

impl Transport for Down {
    fn server(&self) -> &str {
        &self.0
    }
    async fn run(&self, _argv: &[String]) -> Result<RawOutput, TransportError> {
        Err(TransportError::Connect {
            server: self.0.clone(),
            reason: "connection refused".into(),
        })
    }
}

fn clients(c: &Config) -> BTreeMap<String, Client<Down>> {
    c.servers
        .keys()
        .map(|n| (n.clone(), Client::new(Down(n.clone()))))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn unreachable_servers_are_skipped_with_their_reason_and_nothing_changes() {
    let dir = tempfile::tempdir().unwrap();
    let c = lab::two_server_config(dir.path());
    let clients = clients(&c);
    let mut journal = Journal::open(&c.orchestrator.journal_file, "run-1").unwrap();
    let mut state = State::default();
    let (_tx, cancel) = tokio::sync::watch::channel(false);
    let (ptx, mut prx) = tokio::sync::mpsc::unbounded_channel();
    let record = lab::run_all(
        &c,
        &clients,
        &mut journal,
        &mut state,
        RunOptions::default(),
        cancel,
        Progress::new(ptx),
    )
    .await;
    assert_eq!(record.exit(), Exit::JobsFailed);
    assert!(record.critical.is_empty());
    let outcomes: Vec<(&str, Outcome)> = record
        .jobs
        .iter()
        .map(|j| (j.job_id.as_str(), j.outcome))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            ("j1", Outcome::Skipped),
            ("j2", Outcome::Skipped),
            ("j3", Outcome::DisabledInConfig)
        ]
    );
    for s in &record.servers {
        let why = s.skipped.as_deref().unwrap();
        assert!(why.starts_with("unreachable: "), "{why}");
        assert!(s.actions.is_empty(), "nothing was changed: {:?}", s.actions);
    }
    // Nothing was journaled: no change was ever about to be made.
    assert!(journal.open_changes().is_empty());
    assert_eq!(std::fs::read(&c.orchestrator.journal_file).unwrap(), b"");
    // The history starts for the jobs that were due.
    assert!(state.last_run.is_some());
    let mut events = Vec::new();
    while let Ok(e) = prx.try_recv() {
        events.push((e.server, e.state));
    }
    assert_eq!(
        events,
        vec![
            ("web-01".to_string(), "pre-flight".to_string()),
            ("web-02".to_string(), "pre-flight".to_string())
        ]
    );
    let text = jbr::report::text::render(&record);
    assert!(text.contains("  web-01: SKIPPED: unreachable: "), "{text}");
}

#[tokio::test(start_paused = true)]
async fn a_journal_naming_a_server_no_longer_configured_is_critical_and_starts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let c = lab::two_server_config(dir.path());
    {
        let mut j = Journal::open(&c.orchestrator.journal_file, "run-0").unwrap();
        j.write(Op::Enable {
            server: "old-9".into(),
            what: Target::Job,
            id: "jx".into(),
            previous_disabled: true,
            since: None,
        })
        .unwrap();
    }
    let clients = clients(&c);
    let mut journal = Journal::open(&c.orchestrator.journal_file, "run-1").unwrap();
    let mut state = State::default();
    let (_tx, cancel) = tokio::sync::watch::channel(false);
    let record = lab::run_all(
        &c,
        &clients,
        &mut journal,
        &mut state,
        RunOptions::default(),
        cancel,
        Progress::none(),
    )
    .await;
    assert_eq!(record.exit(), Exit::Critical);
    assert_eq!(
        record.critical[0].message,
        "journal: jbr changed job jx on server old-9, which is not in the config any more; check it by hand"
    );
    assert!(
        record.jobs[..2]
            .iter()
            .all(|j| j.outcome == Outcome::NotStarted
                && j.message == "not started: the journal lists changes on unknown server old-9")
    );
    // Still open: the next run must see it again until someone deals with it.
    assert_eq!(journal.open_changes().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn cancel_before_start_starts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let c = lab::two_server_config(dir.path());
    let clients = clients(&c);
    let mut journal = Journal::open(&c.orchestrator.journal_file, "run-1").unwrap();
    let mut state = State::default();
    let (tx, cancel) = tokio::sync::watch::channel(false);
    tx.send(true).unwrap();
    let record = lab::run_all(
        &c,
        &clients,
        &mut journal,
        &mut state,
        RunOptions::default(),
        cancel,
        Progress::none(),
    )
    .await;
    assert!(record.cancelled);
    assert_eq!(record.exit(), Exit::JobsFailed);
    assert_eq!(
        record.jobs[0].message,
        "not started: the run was cancelled (SIGTERM)"
    );
}

mod command {
    use super::*;
    use jbr::commands::run::{RunArgs, execute};
    use jbr::orchestrator::dry_run::ReadOnly;

    /// Counts calls (and, with a log, keeps their function names); answers nothing useful.
    struct Counting(String, Arc<AtomicU32>);
    impl Transport for Counting {
        fn server(&self) -> &str {
            &self.0
        }
        async fn run(&self, argv: &[String]) -> Result<RawOutput, TransportError> {
            self.1.fetch_add(1, Ordering::SeqCst);
            if argv.iter().any(|a| jbr::contract::is_write(a)) {
                panic!("a write reached server {}: {argv:?}", self.0);
            }
            Ok(RawOutput {
                status: Some(0),
                stdout: b"ok".to_vec(),
                stderr: vec![],
            })
        }
    }
    use std::sync::Arc;

    async fn exec<T: Transport>(
        c: &Config,
        args: &RunArgs,
        clients: &BTreeMap<String, Client<T>>,
    ) -> (Exit, String, String) {
        let (_tx, cancel) = tokio::sync::watch::channel(false);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let exit = execute(
            c,
            args,
            clients,
            cancel,
            Progress::none(),
            &mut out,
            &mut err,
        )
        .await;
        (
            exit,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn unknown_server_is_exit_2_before_anything() {
        let dir = tempfile::tempdir().unwrap();
        let c = lab::two_server_config(dir.path());
        let args = RunArgs {
            selection: Selection {
                servers: vec!["web-9".into()],
                jobs: vec![],
            },
            ..Default::default()
        };
        let (exit, out, err) = exec(&c, &args, &clients(&c)).await;
        assert_eq!(exit, Exit::Usage);
        assert_eq!(out, "");
        assert_eq!(
            err,
            "jbr: --server \"web-9\": not a server in the config (known: web-01, web-02)\n"
        );
        assert!(!c.orchestrator.lock_file.exists() && !c.orchestrator.state_file.exists());
    }

    /// The snapshot reads (here the servers answer garbage, so a run would skip both); no
    /// write ever leaves, and no run file is written.
    #[tokio::test(start_paused = true)]
    async fn dry_run_reads_and_never_writes() {
        let dir = tempfile::tempdir().unwrap();
        let c = lab::two_server_config(dir.path());
        let calls = Arc::new(AtomicU32::new(0));
        let clients: BTreeMap<String, Client<Counting>> = c
            .servers
            .keys()
            .map(|n| (n.clone(), Client::new(Counting(n.clone(), calls.clone()))))
            .collect();
        let args = RunArgs {
            dry_run: true,
            ..Default::default()
        };
        let (exit, out, err) = exec(&c, &args, &clients).await;
        assert_eq!(exit, Exit::JobsFailed, "{err}");
        assert!(out.starts_with("dry run: 2 job(s) on 2 server(s); nothing will be changed\n  skip j3 on web-02: disabled in config\n"), "{out}");
        let skip = out
            .lines()
            .find(|l| l.contains("server web-02 would be skipped: unreachable: "))
            .unwrap_or_else(|| panic!("{out}"));
        // Worded as the real run words it: once "unreachable", once the server's name.
        assert_eq!(skip.matches("unreachable").count(), 1, "{skip}");
        assert_eq!(skip.matches("server web-02").count(), 2, "{skip}");
        assert!(calls.load(Ordering::SeqCst) > 0);
        assert!(!c.orchestrator.state_file.exists() && !c.orchestrator.journal_file.exists());
    }

    #[tokio::test(start_paused = true)]
    async fn a_held_lock_is_exit_3_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let c = lab::two_server_config(dir.path());
        let _held = jbr::lock::acquire(&c.orchestrator.lock_file).unwrap();
        // flock locks belong to the open file description: a second open in this process is
        // refused just like another process.
        let (exit, out, err) = exec(&c, &RunArgs::default(), &clients(&c)).await;
        assert_eq!(exit, Exit::Locked);
        assert_eq!(out, "");
        assert!(
            err.contains(&format!(
                "another run holds the lock (pid {} on ",
                std::process::id()
            )),
            "{err}"
        );
        assert!(!c.orchestrator.state_file.exists() && !c.orchestrator.journal_file.exists());
    }

    #[tokio::test(start_paused = true)]
    async fn a_run_writes_the_state_file_and_prints_the_report() {
        let dir = tempfile::tempdir().unwrap();
        let c = lab::two_server_config(dir.path());
        let (exit, out, err) = exec(&c, &RunArgs::default(), &clients(&c)).await;
        assert_eq!(exit, Exit::JobsFailed, "{err}");
        assert!(out.starts_with("jbr run "), "{out}");
        assert!(out.ends_with("\nexit 1\n"), "{out}");
        let s = jbr::report::state::load(&c.orchestrator.state_file).unwrap();
        assert_eq!(s.last_run.unwrap().jobs.len(), 3);
        // The lock is free again afterwards.
        drop(jbr::lock::acquire(&c.orchestrator.lock_file).unwrap());

        let (exit, out, _) = exec(
            &c,
            &RunArgs {
                json: true,
                ..Default::default()
            },
            &clients(&c),
        )
        .await;
        assert_eq!(exit, Exit::JobsFailed);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["jobs"][0]["outcome"], "skipped");
    }

    #[tokio::test]
    async fn read_only_transport_refuses_writes_and_passes_reads() {
        let calls = Arc::new(AtomicU32::new(0));
        let t = ReadOnly(Counting("web-01".into(), calls.clone()));
        let argv = |f: &str| -> Vec<String> {
            ["jetbackup5api", "-F", f, "-D", "_id=x", "-O", "json"]
                .iter()
                .map(|s| s.to_string())
                .collect()
        };
        for f in [
            "manageBackupJob",
            "manageDestinationState",
            "manageDestination",
            "runBackupJobManually",
            "stopQueueGroup",
            "clearQueue",
        ] {
            let e = t.run(&argv(f)).await.unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("server web-01: dry run: refusing to send {f}")
            );
        }
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        for f in [
            "getBackupJob",
            "listQueueGroups",
            "getDestination",
            "listLogs",
        ] {
            t.run(&argv(f)).await.unwrap();
        }
        t.run(&["echo".to_string(), "jbr-ping".to_string()])
            .await
            .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 5);
    }
}
