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

/// Operator choices for this run (`run --force-activate`, `--abort-foreign`).
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    pub force_activate: bool,
    pub abort_foreign: bool,
}

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
    /// cannot be written, cancellation), with the reason.
    pub halted: Option<String>,
    /// Per server: the destination call that worked.
    pub methods: BTreeMap<String, DestinationMethod>,
}

impl<'a, T: Transport> Ctx<'a, T> {
    pub fn cancelled(&self) -> bool {
        *self.cancel.borrow()
    }

    /// Nothing new may start: halted or cancelled.
    pub fn stopping(&self) -> Option<String> {
        if let Some(h) = &self.halted {
            return Some(h.clone());
        }
        if self.cancelled() {
            return Some("the run was cancelled (SIGTERM)".to_string());
        }
        None
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
        if self.halted.is_none() {
            self.halted = Some(format!(
                "{what} {id} on server {server} is left in an unsafe state"
            ));
        }
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
            if self.halted.is_none() {
                self.halted = Some(format!("the journal cannot be written ({e})"));
            }
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
