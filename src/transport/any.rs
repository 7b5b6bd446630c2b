//! One transport type for a run whose servers differ: SSH for real servers, a local program for
//! `local_command` servers. The orchestrator is generic over `Transport`; commands pick this
//! enum so one run can mix them (`jbr demo` uses the simulator's transport directly).

use crate::config::{Config, Server};

use super::local::LocalTransport;
use super::ssh::{SshOptions, SshTransport};
use super::{RawOutput, Transport, TransportError};

pub enum AnyTransport {
    // Boxed: a session builder is large, and there are few of these (one per server).
    Ssh(Box<SshTransport>),
    Local(LocalTransport),
}

impl AnyTransport {
    /// The transport the config asks for: `local_command` when set, else SSH. Opens nothing
    /// yet: an SSH master is started on the first call.
    pub fn for_server(config: &Config, server: &Server) -> Result<AnyTransport, TransportError> {
        if server.local_command.is_some() {
            return LocalTransport::new(server, config.orchestrator.call_timeout)
                .map(AnyTransport::Local);
        }
        SshTransport::new(server, &SshOptions::from_orchestrator(&config.orchestrator))
            .map(|t| AnyTransport::Ssh(Box::new(t)))
    }

    /// Closes an SSH master cleanly (the others hold nothing open).
    pub async fn close(&self) {
        if let AnyTransport::Ssh(t) = self {
            t.close().await;
        }
    }
}

impl Transport for AnyTransport {
    fn server(&self) -> &str {
        match self {
            AnyTransport::Ssh(t) => t.server(),
            AnyTransport::Local(t) => t.server(),
        }
    }

    async fn run(&self, argv: &[String]) -> Result<RawOutput, TransportError> {
        match self {
            AnyTransport::Ssh(t) => t.run(argv).await,
            AnyTransport::Local(t) => t.run(argv).await,
        }
    }
}
