//! Playing one night: the real orchestrator (`orchestrator::run`, journal on disk) against the
//! night's simulated fleet on tokio's paused clock, the servers' schedulers ticking beside it,
//! the interruption at its call, and the recovery run a restart would make.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::api::Client;
use crate::journal::{Journal, OpenChange};
use crate::orchestrator::clock::Clock;
use crate::orchestrator::context::RunOptions;
use crate::orchestrator::plan::{self, Selection};
use crate::orchestrator::progress::Progress;
use crate::orchestrator::run::{self, Inputs};
use crate::report::RunRecord;
use crate::report::state::State;
use crate::sim::{SimWorld, World};
use crate::transport::simulated::SimTransport;
use crate::transport::{RawOutput, Transport, TransportError};

use super::night::{self, BASE, Down, Interruption, Night};

/// One call jbr sent: seconds after the start, server, argv.
#[derive(Debug, Clone)]
pub struct Sent {
    pub at: f64,
    pub server: String,
    pub argv: Vec<String>,
    /// Which run sent it (0 the night's, 1 the recovery).
    pub run: usize,
    /// When an answer with `success: 1` came back (`None`: lost, refused, garbage or an
    /// error). What jbr could have seen on the server dates from these.
    pub answered: Option<f64>,
}

/// Shared by every server's transport of one run.
struct Wire {
    world: SimWorld,
    calls: AtomicU64,
    sent: Mutex<Vec<Sent>>,
    run: usize,
    /// Die at this call (and whether after it reached the server).
    crash: Option<(u64, bool)>,
    died: Notify,
    /// SIGTERM just before this call.
    sigterm: Option<(u64, watch::Sender<bool>)>,
    down: BTreeMap<String, Down>,
}

struct SoakTransport {
    inner: SimTransport,
    wire: Arc<Wire>,
}

impl SoakTransport {
    fn is_down(&self) -> bool {
        let now = self.wire.world.now() - BASE;
        match self.wire.down.get(self.inner.server()) {
            Some(Down::ForGood) => true,
            Some(Down::During(from, until)) => (*from..*until).contains(&now),
            _ => false,
        }
    }
}

impl Transport for SoakTransport {
    fn server(&self) -> &str {
        self.inner.server()
    }

    async fn run(&self, argv: &[String]) -> Result<RawOutput, TransportError> {
        let w = &self.wire;
        let n = w.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let index = w.sent.lock().ok().map(|mut sent| {
            sent.push(Sent {
                at: w.world.now() - BASE,
                server: self.inner.server().to_string(),
                argv: argv.to_vec(),
                run: w.run,
                answered: None,
            });
            sent.len() - 1
        });
        if let Some((at, tx)) = &w.sigterm
            && n == *at
        {
            let _ = tx.send(true);
        }
        if let Some((at, after)) = w.crash
            && n >= at
        {
            if n == at && after {
                let _ = self.inner.run(argv).await;
            }
            w.died.notify_one();
            // Nothing answers a dead process.
            std::future::pending::<()>().await;
        }
        if self.is_down() {
            // The simulator's fault does this for API calls; the ping needs it here.
            return Err(TransportError::Disconnected {
                server: self.inner.server().to_string(),
                reason: "simulated: server down".to_string(),
            });
        }
        let out = self.inner.run(argv).await;
        if let (Ok(raw), Some(i)) = (&out, index)
            && succeeded(raw)
            && let Ok(mut sent) = w.sent.lock()
            && let Some(call) = sent.get_mut(i)
        {
            call.answered = Some(w.world.now() - BASE);
        }
        out
    }
}

/// An answer jbr can use: exit 0 and an envelope with `success: 1`.
fn succeeded(raw: &RawOutput) -> bool {
    raw.status == Some(0)
        && serde_json::from_slice::<serde_json::Value>(&raw.stdout)
            .is_ok_and(|v| v.get("success").and_then(serde_json::Value::as_i64) == Some(1))
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Everything a night leaves for the checks and the story.
pub struct Played {
    pub night: Night,
    /// The night's run; `None` when it crashed.
    pub first: Option<RunRecord>,
    /// The run a restart (or the next night) makes, when one was needed.
    pub recovery: Option<RunRecord>,
    /// Why a recovery run was made.
    pub recovery_why: Option<&'static str>,
    /// Whether the interruption happened (the run may end before its call comes).
    pub interrupted: bool,
    pub sent: Vec<Sent>,
    /// The simulator at the end (ground truth).
    pub world: World,
    /// What was left enabled or running right after the night's run (when it did not crash).
    pub after_first: Option<crate::sim::FinalState>,
    pub timeline: Vec<crate::sim::WriteInterval>,
    pub open_changes: Vec<OpenChange>,
    /// Seconds after the start at which the recovery run began.
    pub recovery_start: Option<f64>,
    pub end: f64,
    /// Backups started outside jbr, writing at the start (jbr may not stop them unless
    /// `--abort-foreign`).
    pub foreign_groups: Vec<String>,
}

fn options(night: &Night) -> RunOptions {
    RunOptions {
        force_activate: false,
        abort_foreign: night.abort_foreign,
        rerun_all: false,
    }
}

async fn one_run(
    built: &night::Built,
    state: &mut State,
    night: &Night,
    wire: &Arc<Wire>,
    run_id: &str,
    cancel: watch::Receiver<bool>,
) -> Result<RunRecord, String> {
    let config = &built.config;
    let clients: BTreeMap<String, Client<SoakTransport>> = config
        .servers
        .keys()
        .map(|s| {
            let t = SoakTransport {
                inner: SimTransport::new(built.world.clone(), s),
                wire: Arc::clone(wire),
            };
            (s.clone(), Client::new(t))
        })
        .collect();
    let plan = plan::build(config, &Selection::default()).map_err(|e| e.to_string())?;
    let mut journal = Journal::open(&config.orchestrator.journal_file, run_id)
        .map_err(|e| format!("journal: {e}"))?;
    Ok(run::run(Inputs {
        config,
        plan: &plan,
        clients: &clients,
        journal: &mut journal,
        state,
        options: options(night),
        cancel,
        progress: Progress::none(),
        clock: Clock::at(built.world.now()),
        // A night's window_end is drawn in UTC.
        zone: jiff::tz::TimeZone::UTC,
    })
    .await)
}

fn wire(
    world: &SimWorld,
    night: &Night,
    run: usize,
    crash: Option<(u64, bool)>,
    sigterm: Option<(u64, watch::Sender<bool>)>,
) -> Arc<Wire> {
    Arc::new(Wire {
        world: world.clone(),
        calls: AtomicU64::new(0),
        sent: Mutex::new(Vec::new()),
        run,
        crash,
        died: Notify::new(),
        sigterm,
        down: night
            .servers
            .iter()
            .map(|s| (s.name.clone(), s.down))
            .collect(),
    })
}

fn take_sent(wire: &Arc<Wire>) -> Vec<Sent> {
    wire.sent
        .lock()
        .map(|mut s| std::mem::take(&mut *s))
        .unwrap_or_default()
}

/// Play `night` in `dir` (its journal lives there). Must run on a paused runtime.
pub async fn play(night: Night, dir: &Path) -> Result<Played, String> {
    let built = night::build(&night, dir);
    let world = built.world.clone();

    // The servers' own schedulers, beside jbr, for the whole night (aborted on every way out:
    // the runtime is reused for the next night).
    let _ticker = AbortOnDrop({
        let world = world.clone();
        let mut ticks = night.ticks.clone();
        ticks.sort_by(|a, b| a.0.total_cmp(&b.0));
        let names: Vec<String> = night.servers.iter().map(|s| s.name.clone()).collect();
        tokio::spawn(async move {
            let start = tokio::time::Instant::now();
            for (at, s) in ticks {
                tokio::time::sleep_until(start + Duration::from_secs_f64(at)).await;
                if let Some(name) = names.get(s) {
                    world.tick(name);
                }
            }
        })
    });

    let mut state = built.state.clone();
    let (crash, sig) = match night.interruption {
        Interruption::Crash { call, after, .. } => (Some((call, after)), None),
        Interruption::Sigterm { call } => (None, Some(call)),
        Interruption::None => (None, None),
    };
    let (tx, cancel) = watch::channel(false);
    // Held to the end when unused: a dropped sender is not the same as "not cancelled".
    let (sigterm, _unused) = match sig {
        Some(c) => (Some((c, tx)), None),
        None => (None, Some(tx)),
    };
    let first_wire = wire(&world, &night, 0, crash, sigterm);
    let mut interrupted = false;
    let first = tokio::select! {
        r = one_run(&built, &mut state, &night, &first_wire, "night", cancel) => Some(r?),
        () = first_wire.died.notified() => None,
    };
    if first.is_none() {
        interrupted = true;
        // The dead run never saved its state file: the restart reads the one from before.
        state = built.state.clone();
    } else if let Some((at, _)) = &first_wire.sigterm {
        interrupted = first_wire.calls.load(Ordering::SeqCst) >= *at;
    }
    let mut sent = take_sent(&first_wire);
    let after_first = first.as_ref().map(|_| world.final_state());

    let journal_open = Journal::open(&built.config.orchestrator.journal_file, "check")
        .map(|j| !j.open_changes().is_empty())
        .unwrap_or(true);
    let critical = first.as_ref().is_some_and(|r| !r.critical.is_empty());
    let recovery_why = if first.is_none() {
        Some("the night's run crashed")
    } else if interrupted {
        Some("the night's run got SIGTERM")
    } else if critical {
        Some("the night's run ended critical")
    } else if journal_open {
        Some("the journal was left open")
    } else {
        None
    };
    let mut recovery = None;
    let mut recovery_start = None;
    if recovery_why.is_some() {
        if let Interruption::Crash { gap, .. } = night.interruption
            && first.is_none()
        {
            tokio::time::sleep(Duration::from_secs_f64(gap)).await;
        }
        // Every "down for a while" is over by then: the restart sees the fleet as it is.
        let until = night
            .servers
            .iter()
            .filter_map(|s| match s.down {
                Down::During(_, until) => Some(until),
                _ => None,
            })
            .fold(0.0, f64::max);
        let now = world.now() - BASE;
        if now < until {
            tokio::time::sleep(Duration::from_secs_f64(until - now)).await;
        }
        recovery_start = Some(world.now() - BASE);
        let (_keep, cancel) = watch::channel(false);
        let w = wire(&world, &night, 1, None, None);
        recovery = Some(one_run(&built, &mut state, &night, &w, "recovery", cancel).await?);
        sent.extend(take_sent(&w));
    }
    let open_changes = Journal::open(&built.config.orchestrator.journal_file, "check")
        .map(|j| j.open_changes())
        .map_err(|e| format!("journal: {e}"))?;
    let end = world.now() - BASE;
    Ok(Played {
        first,
        recovery,
        recovery_why,
        interrupted,
        sent,
        after_first,
        timeline: world.timeline(),
        world: world.snapshot(),
        open_changes,
        recovery_start,
        end,
        night,
        foreign_groups: built.foreign_groups.clone(),
    })
}
