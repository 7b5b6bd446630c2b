//! What every step of a run needs: the config, one client per server, the journal, the state
//! file's contents, the record being built, the cancel signal and the progress sink.

use std::collections::BTreeMap;

use tokio::sync::watch;

use crate::api::{Client, DestinationMethod};
use crate::config::Config;
use crate::journal::{Journal, Op};
use crate::report::state::State;
use crate::report::{Action, Critical, RunRecord};
use crate::transport::Transport;

use super::clock::Clock;
use super::progress::Progress;
use super::retry::Policy;

/// Operator choices for this run (`run --force-activate`, `--abort-foreign`, `--rerun-all`).
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    pub force_activate: bool,
    pub abort_foreign: bool,
    /// Back up again the jobs an interrupted run completed tonight (see `recover::completed_tonight`).
    pub rerun_all: bool,
}

/// Why nothing more may start, once something said so (see [`Ctx::halt`]); private, so no step
/// can overwrite the first reason.
#[derive(Debug, Default)]
pub struct Halt(Option<String>);

pub struct Ctx<'a, T: Transport> {
    pub config: &'a Config,
    pub clients: &'a BTreeMap<String, Client<T>>,
    pub journal: &'a mut Journal,
    pub state: &'a mut State,
    pub record: RunRecord,
    pub options: RunOptions,
    pub policy: Policy,
    pub cancel: watch::Receiver<bool>,
    pub progress: Progress,
    pub clock: Clock,
    /// Set when nothing more may start anywhere (a group that would not stop, a journal that
    /// cannot be written), with the first reason: only [`Ctx::halt`] sets it.
    pub halted: Halt,
    /// Per server: the destination call that worked.
    pub methods: BTreeMap<String, DestinationMethod>,
    /// When the last job of this run most likely stopped writing to the NAS (Unix seconds): the
    /// start of the NAS's idle gap before the next job.
    pub nas_written_until: Option<f64>,
    /// The last `listQueueGroups` of a server, taken after its previous job was disabled and
    /// before anything was enabled or triggered since: the next job's list of existing groups
    /// (one call less between two jobs while the NAS idles; issue 13). Cleared by every trigger.
    pub fresh_groups: Option<(String, Vec<crate::api::QueueGroup>)>,
    /// Tonight's night window (`orchestrator.window_end`), fixed at the run's start.
    pub night: Option<super::night::NightWindow>,
    /// The NAS device's write counter (`nas.block_device`), sampled at each job's start and
    /// end and at each poll.
    pub nas: Option<crate::nas::meter::Meter>,
}

impl<'a, T: Transport> Ctx<'a, T> {
    pub fn cancelled(&self) -> bool {
        *self.cancel.borrow()
    }

    /// Nothing more starts anywhere, for `reason`. The first reason is kept: it is the cause,
    /// and what follows from it must not take its place in the report.
    pub fn halt(&mut self, reason: impl Into<String>) {
        if self.halted.0.is_none() {
            self.halted.0 = Some(reason.into());
        }
    }

    /// Nothing new may start: halted or cancelled.
    pub fn stopping(&self) -> Option<String> {
        if let Some(h) = &self.halted.0 {
            return Some(h.clone());
        }
        if self.cancelled() {
            return Some("the run was cancelled (SIGTERM)".to_string());
        }
        None
    }

    /// Sample the NAS device's write counter (no-op without `nas.block_device`).
    pub fn nas_sample(&mut self) {
        let now = self.clock.now();
        if let Some(m) = &mut self.nas {
            m.sample(now);
        }
    }

    /// A jbr job starts: the NAS's writes are its own from now on.
    pub fn nas_job_started(&mut self) {
        let now = self.clock.now();
        if let Some(m) = &mut self.nas {
            m.job_started(now);
        }
    }

    /// The job is over: what the NAS wrote during it (`None` without the option or a counter).
    pub fn nas_job_ended(&mut self) -> Option<crate::nas::meter::Written> {
        let now = self.clock.now();
        self.nas.as_mut()?.job_ended(now)
    }

    /// Why the night window lets `job` of `server` not start now (the words after
    /// `not started: `); `None` without a window, or when it may start.
    pub fn window_refuses(&self, server: &str, job: &str) -> Option<String> {
        let night = self.night.as_ref()?;
        night.refuses(self.clock.now(), self.state.usual_duration(server, job))
    }

    pub fn policy_startup(&self) -> std::time::Duration {
        self.config.orchestrator.startup_timeout
    }

    pub fn client(&self, server: &str) -> Option<&'a Client<T>> {
        self.clients.get(server)
    }

    pub fn action(
        &mut self,
        server: &str,
        what: impl Into<String>,
        result: impl Into<String>,
        ok: bool,
    ) {
        let time = self.clock.now();
        let what = what.into();
        let result = result.into();
        if ok {
            tracing::info!(server, "{what}: {result}");
        } else {
            tracing::error!(server, "{what}: {result}");
        }
        self.record.server_mut(server).actions.push(Action {
            time,
            what,
            result,
            ok,
        });
    }

    /// Something is left enabled (or running): report it, and start nothing more anywhere —
    /// another server's job must not write to the NAS beside it.
    pub fn critical(&mut self, server: &str, what: &str, id: &str, message: String) {
        tracing::error!(server, "{message}");
        self.halt(format!(
            "{what} {id} on server {server} is left in an unsafe state"
        ));
        self.record.critical.push(Critical {
            server: server.to_string(),
            what: what.to_string(),
            id: id.to_string(),
            message,
        });
    }

    /// Journal first, change second. An error here means the change must not be made, and
    /// halts the run: without a journal, a crash could leave changes nobody undoes.
    pub fn journal(&mut self, op: Op) -> Result<(), String> {
        self.journal.write(op).map(|_| ()).map_err(|e| {
            let e = e.to_string();
            self.halt(format!("the journal cannot be written ({e})"));
            e
        })
    }

    /// For undo records (disable, restored, ended): a failure is logged, the undo goes ahead —
    /// disabling is always the safe direction.
    pub fn journal_best_effort(&mut self, op: Op) {
        if let Err(e) = self.journal.write(op) {
            tracing::error!("{e}; going ahead with the undo");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::simulated::SimTransport;

    /// A critical after a journal failure must not rename the cause: the report's "not
    /// started: …" names the first reason, and a SIGTERM never hides a halt.
    #[test]
    fn the_first_reason_to_halt_is_kept() {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = Config::default();
        let clients: BTreeMap<String, Client<SimTransport>> = BTreeMap::new();
        let mut journal = Journal::open(&dir.path().join("j"), "run-1").expect("journal");
        let mut state = State::default();
        let (tx, cancel) = watch::channel(false);
        let mut ctx = Ctx {
            config: &config,
            clients: &clients,
            journal: &mut journal,
            state: &mut state,
            record: RunRecord::new("run-1", 0.0),
            options: RunOptions::default(),
            policy: Policy::from_config(&config.orchestrator),
            cancel,
            progress: Progress::none(),
            clock: Clock::at(0.0),
            halted: Halt::default(),
            methods: BTreeMap::new(),
            nas_written_until: None,
            fresh_groups: None,
            night: None,
            nas: None,
        };
        assert_eq!(ctx.stopping(), None);
        ctx.halt("the journal cannot be written (disk full)");
        ctx.critical(
            "web-01",
            "job",
            "j1",
            "server web-01: job j1 is ENABLED".into(),
        );
        ctx.halt("a later reason");
        tx.send(true).expect("send");
        assert_eq!(
            ctx.stopping().as_deref(),
            Some("the journal cannot be written (disk full)")
        );
        assert_eq!(ctx.record.critical.len(), 1);
    }
}
