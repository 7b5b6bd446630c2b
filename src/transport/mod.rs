//! Command line out, bytes back. Knows no JSON and no jetbackup5api function names.
//!
//! One `Transport` value talks to one server. Implementations: `simulated` (in-process
//! simulator, for `jbr demo` and unit tests), `local` (runs a program on this machine, no
//! shell), `ssh` (one multiplexed OpenSSH master per server, reconnects).

pub mod any;
pub mod local;
pub mod simulated;
pub mod ssh;

use std::future::Future;
use std::time::Duration;

pub use crate::contract::RawOutput;

/// A failure to get *any* answer from the server. Never means "the job ended".
#[derive(Debug, Clone, thiserror::Error)]
pub enum TransportError {
    #[error("server {server}: cannot connect: {reason}")]
    Connect { server: String, reason: String },
    #[error("server {server}: host key verification failed: {reason}")]
    HostKey { server: String, reason: String },
    #[error("server {server}: connection lost: {reason}")]
    Disconnected { server: String, reason: String },
    #[error("server {server}: no answer within {} s", timeout.as_secs_f64())]
    Timeout { server: String, timeout: Duration },
    #[error("server {server}: {reason}")]
    Other { server: String, reason: String },
}

impl TransportError {
    /// Worth another try after a pause (a reconnect may help). Host-key failures are not:
    /// retrying would only hide a possible man in the middle.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, TransportError::HostKey { .. })
    }

    pub fn server(&self) -> &str {
        match self {
            TransportError::Connect { server, .. }
            | TransportError::HostKey { server, .. }
            | TransportError::Disconnected { server, .. }
            | TransportError::Timeout { server, .. }
            | TransportError::Other { server, .. } => server,
        }
    }
}

/// Runs one argv on one server. `argv[0]` is `jetbackup5api` or `echo`; the transport never
/// hands the words to a local shell, and the SSH gate on the far side re-checks them.
pub trait Transport: Send + Sync {
    /// The server's name as in the config (`servers.NAME`), for messages.
    fn server(&self) -> &str;

    fn run(
        &self,
        argv: &[String],
    ) -> impl Future<Output = Result<RawOutput, TransportError>> + Send;
}
