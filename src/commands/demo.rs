//! `jbr demo`: the real orchestrator against built-in simulated servers, on tokio's paused,
//! auto-advancing clock, so a night of backups takes seconds. No config, no network; the lock,
//! journal and state files live in a private temporary directory that is removed afterwards.
//!
//! It prints a live progress line, the same report `run` prints, and the simulator's own
//! verdict: how many servers ever wrote to the NAS at once, and anything left enabled.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use crate::api::Client;
use crate::config::{Config, Job, JobType, Server};
use crate::exit::Exit;
use crate::journal::Journal;
use crate::orchestrator::clock::Clock;
use crate::orchestrator::context::RunOptions;
use crate::orchestrator::plan::{self, Selection};
use crate::orchestrator::progress::{Event, Progress};
use crate::orchestrator::run::{self, Inputs};
use crate::report::state::State;
use crate::report::time::duration;
use crate::report::{self};
use crate::sim::{Fault, FaultKind, Outcome, SimWorld, When};
use crate::transport::simulated::SimTransport;

#[derive(Debug, Clone, Copy)]
pub struct DemoArgs {
    pub servers: usize,
    pub jobs: usize,
    pub faults: bool,
    pub json: bool,
}

/// Simulated minutes of work per job: varied, so the report is not a column of equal numbers.
fn job_minutes(server: usize, job: usize) -> f64 {
    [42.0, 17.0, 65.0, 8.0, 30.0, 23.0][(server * 7 + job * 3) % 6]
}

fn server_name(i: usize) -> String {
    format!("web-{:02}", i + 1)
}

const LABELS: [&str; 4] = ["accounts", "databases", "directories", "mail"];

/// The simulated fleet. With `faults`: web-01's second job fails, web-02's first job hangs (and
/// is aborted at its timeout), web-01 answers garbage to a few polls, web-02 is busy with a
/// backup of its own at start, and the last server's destination was disabled by someone else.
fn world(args: &DemoArgs) -> SimWorld {
    let mut b = SimWorld::builder();
    for s in 0..args.servers {
        let faults = args.faults;
        b = b.server(&server_name(s), |mut sb| {
            sb = if faults && s == 1 {
                // Busy at start: its own scheduler runs an unconfigured job to the NAS.
                sb.destination_enabled("nas")
                    .job_with("nightly-local", 20.0 * 60.0, |j| j.enabled())
            } else {
                sb.destination("nas")
            };
            for j in 0..args.jobs {
                let label = LABELS[j % LABELS.len()];
                let minutes = job_minutes(s, j);
                sb = sb.job_with(label, minutes * 60.0, |job| match (faults, s, j) {
                    (true, 0, 1) => job.outcome(Outcome::Failed),
                    (true, 1, 0) => job.outcome(Outcome::Hang),
                    _ => job,
                });
            }
            if faults && s == 0 {
                sb = sb.fault(Fault::on(
                    "getQueueGroup",
                    When::Calls(3, 5),
                    FaultKind::Garbage,
                ));
            }
            sb.startup_delay(45.0).abort_delay(20.0)
        });
    }
    let world = b.build();
    if args.faults && args.servers > 1 {
        let busy = server_name(1);
        world.tick(&busy);
        // Its owner disables the job again; the run it started keeps writing to the NAS.
        world.with_server(&busy, |s| {
            for j in s.jobs.iter_mut().filter(|j| j.name == "nightly-local") {
                j.disabled = true;
            }
        });
    }
    world
}

fn config(world: &SimWorld, args: &DemoArgs, dir: &std::path::Path) -> Config {
    let mut c = Config {
        path: PathBuf::from("(built-in demo)"),
        ..Config::default()
    };
    for s in 0..args.servers {
        let name = server_name(s);
        c.servers.insert(
            name.clone(),
            Server {
                name: name.clone(),
                host: "127.0.0.1".into(),
                port: 51514,
                user: "root".into(),
                ssh_key: None,
                ssh_timeout: Duration::from_secs(30),
                destination_id: Some(world.id(&name, "nas")),
                known_hosts: None,
                local_command: None,
            },
        );
        for j in 0..args.jobs {
            let label = LABELS[j % LABELS.len()];
            c.jobs.push(Job {
                job_id: world.id(&name, label),
                server: name.clone(),
                label: label.to_string(),
                kind: JobType::Accounts,
                priority: (args.jobs - j) as i64,
                // The hang is aborted after two hours rather than the default eight.
                timeout: Some(Duration::from_secs(2 * 3600)),
                enabled: true,
            });
        }
    }
    let o = &mut c.orchestrator;
    o.lock_file = dir.join("jbr.lock");
    o.state_file = dir.join("last-run.json");
    o.journal_file = dir.join("last-run.json.journal");
    o.log_file = dir.join("jbr.log");
    c
}

/// What jbr's state file would say after earlier nights: jbr itself disabled these destinations
/// (all but the last one with `faults`: that one someone else disabled).
fn earlier_state(c: &Config, args: &DemoArgs) -> State {
    let mut state = State::default();
    for (i, (name, s)) in c.servers.iter().enumerate() {
        let foreign = args.faults && args.servers > 2 && i + 1 == args.servers;
        if let (Some(dest), false) = (&s.destination_id, foreign) {
            state.note_destination(name, dest, true);
        }
    }
    state
}

fn render_event(e: &Event, labels: &BTreeMap<String, String>) -> String {
    format!(
        "[{}] {}{} ({})",
        e.server,
        e.job
            .as_deref()
            .map(|j| match labels.get(j) {
                Some(label) => format!("{label}: "),
                None => format!("{}: ", report::text::short_id(j)),
            })
            .unwrap_or_default(),
        e.state,
        duration(e.elapsed.as_secs_f64().round())
    )
}

pub fn main(args: &DemoArgs) -> Exit {
    if args.servers == 0 || args.jobs == 0 || args.servers > 99 || args.jobs > 50 {
        eprintln!("jbr: demo: --servers must be 1..=99 and --jobs 1..=50");
        return Exit::Usage;
    }
    let dir = std::env::temp_dir().join(format!("jbr-demo-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("jbr: demo: {}: {e}", dir.display());
        return Exit::Usage;
    }
    let exit = run_demo(args, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    exit
}

fn run_demo(args: &DemoArgs, dir: &std::path::Path) -> Exit {
    // Paused clock: whenever every task waits on a timer, tokio jumps to the next deadline.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("jbr: cannot start the async runtime: {e}");
            return Exit::Usage;
        }
    };
    runtime.block_on(async {
        let world = world(args);
        let c = config(&world, args, dir);
        let mut state = earlier_state(&c, args);
        let plan = match plan::build(&c, &Selection::default()) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("jbr: demo: {e}");
                return Exit::Usage;
            }
        };
        let clients: BTreeMap<String, Client<SimTransport>> = c
            .servers
            .keys()
            .map(|n| (n.clone(), Client::new(world.transport(n))))
            .collect();
        let mut journal = match Journal::open(&c.orchestrator.journal_file, "demo") {
            Ok(j) => j,
            Err(e) => {
                eprintln!("jbr: demo: {e}");
                return Exit::Usage;
            }
        };
        let (_cancel_tx, cancel) = tokio::sync::watch::channel(false);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
        let tty = std::io::stdout().is_terminal();
        let labels: BTreeMap<String, String> = c
            .jobs
            .iter()
            .map(|j| (j.job_id.clone(), j.label.clone()))
            .collect();
        let printer = tokio::spawn(async move {
            let mut out = std::io::stdout();
            let mut width: usize = 0;
            while let Some(e) = rx.recv().await {
                let line = render_event(&e, &labels);
                if tty {
                    // One live line, rewritten in place.
                    let pad = width.saturating_sub(line.chars().count());
                    let _ = write!(out, "\r{line}{}", " ".repeat(pad));
                    width = line.chars().count();
                } else if e.change {
                    // Not a terminal: one plain line per new state, no poll noise.
                    let _ = writeln!(out, "{line}");
                }
                let _ = out.flush();
            }
            if tty {
                let _ = writeln!(out, "\r{}\r", " ".repeat(width));
            }
        });
        let record = run::run(Inputs {
            config: &c,
            plan: &plan,
            clients: &clients,
            journal: &mut journal,
            state: &mut state,
            options: RunOptions::default(),
            cancel,
            // --json: stdout carries one JSON document and nothing else.
            progress: if args.json {
                // Dropping the sender ends the printer task at once.
                drop(tx);
                Progress::none()
            } else {
                Progress::new(tx)
            },
            clock: Clock::start(),
        })
        .await;
        let _ = printer.await;

        let fin = world.final_state();
        let mut out = std::io::stdout();
        if args.json {
            let v = serde_json::json!({
                "record": record,
                "simulator": {
                    "max_concurrent_nas_writers": world.max_concurrent_writers(),
                    "left_enabled": fin.enabled,
                    "still_running": fin.running,
                },
            });
            let _ = writeln!(out, "{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        } else {
            let _ = writeln!(out, "\n{}", report::text::render(&record));
            let list = |v: &[String]| {
                if v.is_empty() {
                    "none".to_string()
                } else {
                    v.join("; ")
                }
            };
            let _ = writeln!(
                out,
                "simulator check: max concurrent NAS writers: {}; left enabled: {}; still running: {}",
                world.max_concurrent_writers(),
                list(&fin.enabled),
                list(&fin.running)
            );
        }
        record.exit()
    })
}
