//! `jbr run`: lock, journal, state, plan, the orchestrator, the report, the exit code.
//! `execute` is the whole command given a client per server; `main` builds the clients, the
//! runtime and the cancel signal around it. `--dry-run` rehearses the same orchestrator on a
//! snapshot (see `orchestrator::dry_run`).

use std::collections::BTreeMap;
use std::io::Write;

use tokio::sync::watch;

use crate::api::Client;
use crate::config::Config;
use crate::exit::Exit;
use crate::healthcheck::{self, Pinger, Signal};
use crate::journal::Journal;
use crate::lock;
use crate::orchestrator::clock::Clock;
use crate::orchestrator::context::RunOptions;
use crate::orchestrator::dry_run;
use crate::orchestrator::plan::{self, Selection};
use crate::orchestrator::progress::Progress;
use crate::orchestrator::run::{self, Inputs};
use crate::report::{self, metrics, state};
use crate::transport::Transport;
use crate::transport::any::AnyTransport;

/// `run`'s flags, as typed.
#[derive(Debug, Clone, Default)]
pub struct RunArgs {
    pub dry_run: bool,
    pub selection: Selection,
    pub force_activate: bool,
    pub abort_foreign: bool,
    pub rerun_all: bool,
    pub json: bool,
}

/// The whole command, given a client per server. Writes the report to `out` and problems to
/// `err`; returns the contract's exit code.
pub async fn execute<T: Transport>(
    config: &Config,
    args: &RunArgs,
    clients: &BTreeMap<String, Client<T>>,
    cancel: watch::Receiver<bool>,
    progress: Progress,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Exit {
    let plan = match plan::build(config, &args.selection) {
        Ok(p) => p,
        Err(e) => {
            let _ = writeln!(err, "jbr: {e}");
            return Exit::Usage;
        }
    };

    if args.dry_run {
        return dry_run(config, args, &plan, clients, out, err).await;
    }

    let guard = match lock::acquire(&config.orchestrator.lock_file) {
        Ok(g) => g,
        Err(e) => return refused(config, &e, err).await,
    };
    let holding = Locked {
        config,
        args,
        plan: &plan,
        clients,
        cancel,
        progress,
        lock: &guard,
    };
    locked(holding, out, err).await
}

/// A run that could not take the lock: one line naming the holder, the stuck-night mail and
/// `/fail` ping when it has held the lock past `orchestrator.lock_alert_after`, and the exit code (3, or 2 when the
/// lock file itself cannot be opened).
pub async fn refused(config: &Config, e: &lock::LockError, err: &mut dyn Write) -> Exit {
    let _ = writeln!(err, "jbr: {e}");
    alert_if_stuck(config, e, err).await;
    e.exit()
}

/// What a run works with once it holds the lock.
pub struct Locked<'a, T: Transport> {
    pub config: &'a Config,
    pub args: &'a RunArgs,
    pub plan: &'a plan::Plan,
    pub clients: &'a BTreeMap<String, Client<T>>,
    pub cancel: watch::Receiver<bool>,
    pub progress: Progress,
    /// The proof that this process holds the run lock.
    pub lock: &'a lock::LockGuard,
}

/// Everything `jbr run` does once it holds the lock: the state file, the journal and its
/// replay, the in-progress metrics, the orchestrator, the state and metrics at the end, the
/// report on `out`, the mail. `jbr daemon`'s cycle is this very function, so a cycle is exactly
/// a run.
pub async fn locked<T: Transport>(
    holding: Locked<'_, T>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Exit {
    let Locked {
        config,
        args,
        plan,
        clients,
        cancel,
        progress,
        lock: _,
    } = holding;
    let state_path = &config.orchestrator.state_file;
    let mut state = match state::load(state_path) {
        Ok(s) => s,
        Err(e) => {
            // Without it every disabled destination counts as disabled by someone else: the
            // safe reading (skip rather than enable).
            let _ = writeln!(
                err,
                "jbr: warning: {e}; starting from an empty state (destinations found disabled are treated as disabled by someone else)"
            );
            state::State::default()
        }
    };

    let clock = Clock::start();
    let run_id = format!(
        "{}-{}",
        report::time::iso_utc(clock.now())
            .replace([':', '-'], "")
            .trim_end_matches('Z'),
        std::process::id()
    );
    let mut journal = match Journal::open(&config.orchestrator.journal_file, &run_id) {
        Ok(j) => j,
        Err(e) => {
            let _ = writeln!(err, "jbr: {e}");
            // Every night would stop here: say so now rather than when the check goes quiet.
            healthcheck::refused(&config.monitoring, &format!("jbr run was refused: {e}\n")).await;
            return Exit::Usage;
        }
    };

    // Once the run can start (as the metrics below): a refused start must not open a run
    // that nothing will end.
    let pinger = Pinger::new(&config.monitoring);
    if let Some(p) = &pinger {
        let started = format!(
            "jbr {} run {run_id} started on {} (pid {})\n",
            env!("CARGO_PKG_VERSION"),
            crate::notify::host_name(),
            std::process::id()
        );
        p.send_and_log(Signal::Start, &started).await;
    }

    // Only once the run can start: a "run in progress" left behind by a refused start would
    // show a phantom run until the next night.
    write_metrics(
        config,
        metrics::render(
            state.last_run.as_ref(),
            &state,
            Some(&metrics::InProgress { since: clock.now() }),
        ),
        err,
    );
    let record = run::run(Inputs {
        config,
        plan,
        clients,
        journal: &mut journal,
        state: &mut state,
        options: RunOptions {
            force_activate: args.force_activate,
            abort_foreign: args.abort_foreign,
            rerun_all: args.rerun_all,
        },
        cancel,
        progress,
        clock,
        zone: jiff::tz::TimeZone::system(),
    })
    .await;

    let mut exit = record.exit();
    if let Err(e) = state::save(state_path, &state) {
        // The next run would not know what jbr disabled: say so loudly, and never report 0.
        let _ = writeln!(err, "jbr: {e}");
        exit = exit.worst(Exit::JobsFailed);
    }
    write_metrics(config, metrics::render(Some(&record), &state, None), err);
    let text = report::text::render(&record);
    let rendered = if args.json {
        report::to_json(&record) + "\n"
    } else {
        text.clone()
    };
    let _ = out.write_all(rendered.as_bytes());
    let _ = out.flush();
    // After the report is out: a slow or dead mail or ping server must not delay it, and
    // neither failure changes the exit code (notify's and healthcheck's contract). Both at
    // once, so the run waits for the slower, not for the sum.
    let ping = async {
        if let Some(p) = &pinger {
            p.send_and_log(Signal::for_exit(exit), &text).await;
        }
    };
    tokio::join!(
        crate::notify::send_and_log(
            &config.notification,
            &record,
            crate::notify::DEFAULT_TIMEOUT,
        ),
        ping
    );
    exit
}

/// The Prometheus textfile, when one is configured: temp file, fsync, rename in its directory,
/// so the collector never reads half a file. A failure is one warning and never changes the
/// exit code.
fn write_metrics(config: &Config, text: String, err: &mut dyn Write) {
    let Some(path) = &config.orchestrator.metrics_file else {
        return;
    };
    if let Err(e) = state::write_atomic(path, text.as_bytes()) {
        let _ = writeln!(
            err,
            "jbr: warning: metrics file {}: {e} (the exit code is unaffected)",
            path.display()
        );
    }
}

/// A run refused because another has held the lock past `orchestrator.lock_alert_after` mails
/// a failure and pings `/fail`: last night's run is still going, and a stuck night must not be
/// silent. The exit stays 3; a mail or a ping that fails is one warning line.
async fn alert_if_stuck(config: &Config, refused: &lock::LockError, err: &mut dyn Write) {
    let lock::LockError::Held {
        holder, described, ..
    } = refused
    else {
        return;
    };
    let Some(held) = holder.held_for(report::time::unix_now()) else {
        return;
    };
    if held < config.orchestrator.lock_alert_after.as_secs_f64() {
        return;
    }
    let why =
        crate::notify::lock_alert_text(&config.orchestrator.lock_file, described, held) + "\n";
    let (mailed, ()) = tokio::join!(
        crate::notify::send_lock_alert(
            &config.notification,
            &config.orchestrator.lock_file,
            described,
            held,
            crate::notify::DEFAULT_TIMEOUT,
        ),
        healthcheck::refused(&config.monitoring, &why)
    );
    match mailed {
        Ok(true) => {
            let _ = writeln!(
                err,
                "jbr: the lock has been held for longer than orchestrator.lock_alert_after; the failure mail was sent"
            );
        }
        Ok(false) => {}
        Err(e) => {
            let _ = writeln!(err, "jbr: warning: {e} (the exit code is unaffected)");
        }
    }
}

/// `run --dry-run`: read each server, rehearse the run on that snapshot, print its calls. No
/// lock (it changes nothing); the state file and the journal are read, never written. The exit
/// code is the one the rehearsed run would have.
async fn dry_run<T: Transport>(
    config: &Config,
    args: &RunArgs,
    plan: &plan::Plan,
    clients: &BTreeMap<String, Client<T>>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Exit {
    let state = state::load(&config.orchestrator.state_file).unwrap_or_else(|e| {
        let _ = writeln!(err, "jbr: warning: {e}; rehearsing with an empty state");
        state::State::default()
    });
    let snapshot = dry_run::snapshot(plan, clients).await;
    let scratch = std::env::temp_dir().join(format!("jbr-dry-run-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&scratch) {
        let _ = writeln!(err, "jbr: cannot create {}: {e}", scratch.display());
        return Exit::Usage;
    }
    let options = RunOptions {
        force_activate: args.force_activate,
        abort_foreign: args.abort_foreign,
        rerun_all: args.rerun_all,
    };
    let rehearsed = dry_run::rehearse(
        config,
        plan,
        &snapshot,
        &state,
        options,
        &config.orchestrator.journal_file,
        &scratch,
    );
    let _ = std::fs::remove_dir_all(&scratch);
    match rehearsed {
        Ok(r) => {
            let known = dry_run::known_ids(config, &snapshot);
            let lines = dry_run::listing(&r.sent, &known, config.orchestrator.poll_interval);
            let _ = out.write_all(dry_run::render(plan, &lines, &r.record).as_bytes());
            r.record.exit()
        }
        Err(e) => {
            let _ = writeln!(err, "jbr: dry run: {e}");
            Exit::Usage
        }
    }
}

/// A cancel signal that turns true on the first SIGTERM or SIGINT (systemd stop, Ctrl-C). The
/// orchestrator then aborts the job it started, disables what it enabled, and returns.
pub fn cancel_on_signals() -> std::io::Result<watch::Receiver<bool>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::warn!("signal received: aborting the running job, disabling what jbr enabled");
        let _ = tx.send(true);
    });
    Ok(rx)
}

/// One client per configured server (SSH, or `local_command`); nothing connects yet.
pub fn clients(
    config: &Config,
) -> Result<BTreeMap<String, Client<AnyTransport>>, crate::transport::TransportError> {
    let mut clients = BTreeMap::new();
    for (name, server) in &config.servers {
        clients.insert(
            name.clone(),
            Client::new(AnyTransport::for_server(config, server)?),
        );
    }
    Ok(clients)
}

/// Closes every client's connection (the SSH masters).
pub async fn close_clients(clients: &BTreeMap<String, Client<AnyTransport>>) {
    for c in clients.values() {
        c.transport().close().await;
    }
}

/// What `run` and `daemon` set up once the config is loaded: the config's log file, and the
/// single-threaded runtime they run on (exit 2 when it cannot start).
pub fn log_and_runtime(config: &Config) -> Result<tokio::runtime::Runtime, Exit> {
    // The contract's rotated log: the record ops read the next morning, and the only place a
    // terminal run's info lines go while the live line is drawn. Without it the run still
    // backs up (journald or the terminal has the warnings).
    if let Err(e) = crate::logging::attach_config(&config.orchestrator) {
        tracing::warn!("{e}; continuing without the log file");
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("jbr: cannot start the async runtime: {e}");
            Exit::Usage
        })
}

/// `jbr run` from the command line: load the config (errors → exit 2, nothing touched), one
/// client per configured server, then `execute` on a single-threaded runtime. Progress goes to
/// stderr and the log through `tracing`; the report goes to stdout. `live_line` (see
/// [`super::live::wanted`]): stderr is a watched terminal, so progress is also drawn there as
/// one rewritten line; the caller has then set stderr's log to warnings.
pub fn main(config_path: &std::path::Path, args: &RunArgs, live_line: bool) -> Exit {
    let config = match crate::config::load_for_run(config_path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("jbr: {e}");
            if !args.dry_run {
                ping_refused_config(config_path, &e);
            }
            return e.exit();
        }
    };
    let runtime = match log_and_runtime(&config) {
        Ok(r) => r,
        Err(exit) => return exit,
    };
    runtime.block_on(async {
        let clients = match clients(&config) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("jbr: {e}");
                if !args.dry_run {
                    let why = format!("jbr run was refused: {e}\n");
                    healthcheck::refused(&config.monitoring, &why).await;
                }
                return Exit::Usage;
            }
        };
        let cancel = match cancel_on_signals() {
            Ok(c) => c,
            Err(e) => {
                eprintln!("jbr: cannot watch for SIGTERM: {e}");
                return Exit::Usage;
            }
        };
        let exit = if live_line {
            let (live, progress) = super::live::Live::start(&config);
            let mut out = live.writer(std::io::stdout(), true);
            let mut err = live.writer(std::io::stderr(), false);
            let run = execute(
                &config, args, &clients, cancel, progress, &mut out, &mut err,
            );
            crate::logging::clear_live_line_first(true);
            // The run drops its `Progress` when it returns, which ends the renderer.
            let (exit, ()) = tokio::join!(run, live.render());
            crate::logging::clear_live_line_first(false);
            exit
        } else {
            let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
            execute(
                &config,
                args,
                &clients,
                cancel,
                Progress::none(),
                &mut out,
                &mut err,
            )
            .await
        };
        close_clients(&clients).await;
        exit
    })
}

/// A config that `run` refuses (exit 2) still pings `/fail` when its `monitoring` section can be
/// read on its own: a typo made in the evening must not leave the night silent.
fn ping_refused_config(config_path: &std::path::Path, refused: &crate::config::ConfigError) {
    let Some(monitoring) = crate::config::monitoring_of(config_path) else {
        return;
    };
    let why = format!("jbr run was refused: the config cannot be used (exit 2):\n{refused}\n");
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(healthcheck::refused(&monitoring, &why)),
        Err(e) => eprintln!("jbr: warning: cannot start the async runtime for the /fail ping: {e}"),
    }
}
