//! `Transport` for one server of an in-process [`SimWorld`]. It parses the argv exactly as the
//! gate and the real CLI would, so the client's command building is what gets tested.

use crate::sim::{SimWorld, Step};

use super::{RawOutput, Transport, TransportError};

pub struct SimTransport {
    world: SimWorld,
    server: String,
}

impl SimTransport {
    pub fn new(world: SimWorld, server: &str) -> SimTransport {
        SimTransport {
            world,
            server: server.to_string(),
        }
    }

    pub fn world(&self) -> &SimWorld {
        &self.world
    }
}

/// What `server/jbr-gate` lets through (shared/jbr-contract.md, "Remote calls and the SSH
/// gate"), so a client bug that the real gate would stop is stopped here too. Like the real gate,
/// it leaves out the contract's optional `clearQueue`: it clears every finished group on the
/// server, and jbr never needs it.
pub const GATE_FUNCTIONS: &[&str] = &[
    "getBackupJob",
    "listBackupJobs",
    "runBackupJobManually",
    "manageBackupJob",
    "getDestination",
    "listDestinations",
    "manageDestinationState",
    "manageDestination",
    "listQueueGroups",
    "getQueueGroup",
    "listQueueItems",
    "stopQueueGroup",
    "listLogs",
    "getLog",
    "listLogItems",
    "getLogItem",
];

/// `-F FN [-D DATA] [-O json|plain]`, in that order, DATA in the pair grammar.
fn gate_check(args: &[String]) -> Result<(), String> {
    let mut rest = args;
    match rest {
        [f, function, tail @ ..] if f == "-F" => {
            if !GATE_FUNCTIONS.contains(&function.as_str()) {
                return Err(format!("function {function:?} is not allowed"));
            }
            rest = tail;
        }
        _ => return Err("expected -F FUNCTION first".to_string()),
    }
    if let [d, data, tail @ ..] = rest
        && d == "-D"
    {
        for pair in data.split('&') {
            let (k, v) = pair
                .split_once('=')
                .ok_or(format!("malformed pair {pair:?}"))?;
            if !crate::api::valid_key(k) || !crate::api::valid_value(v) {
                return Err(format!("pair {pair:?} is outside the allowed grammar"));
            }
        }
        rest = tail;
    }
    if let [o, format, tail @ ..] = rest
        && o == "-O"
    {
        if format != "json" && format != "plain" {
            return Err(format!("output format {format:?} is not allowed"));
        }
        rest = tail;
    }
    match rest {
        [] => Ok(()),
        [extra, ..] => Err(format!("unexpected argument {extra:?}")),
    }
}

fn denied(reason: &str) -> RawOutput {
    RawOutput {
        status: Some(1),
        stdout: Vec::new(),
        stderr: format!("jbr-gate: denied: {reason}\n").into_bytes(),
    }
}

async fn sleep(secs: f64) {
    tokio::time::sleep(std::time::Duration::from_secs_f64(secs.max(0.0))).await;
}

impl Transport for SimTransport {
    fn server(&self) -> &str {
        &self.server
    }

    async fn run(&self, argv: &[String]) -> Result<RawOutput, TransportError> {
        let Some((program, args)) = argv.split_first() else {
            return Err(TransportError::Other {
                server: self.server.clone(),
                reason: "empty command".to_string(),
            });
        };
        match program.as_str() {
            // What the gate answers for its connectivity check.
            "echo" if args == ["jbr-ping"] || args == ["jetbackup-remote-ok"] => Ok(RawOutput {
                status: Some(0),
                stdout: format!("{}\n", args[0]).into_bytes(),
                stderr: Vec::new(),
            }),
            "jetbackup5api" => {
                if let Err(reason) = gate_check(args) {
                    return Ok(denied(&reason));
                }
                let mut after_stall = false;
                loop {
                    match self.world.handle(&self.server, args, after_stall) {
                        Step::Done(out) => return Ok(out),
                        // Sleep on tokio's clock so call timeouts can be tested on paused time.
                        Step::StallThen(secs) => {
                            sleep(secs).await;
                            after_stall = true;
                        }
                        Step::Late(secs, out) => {
                            sleep(secs).await;
                            return Ok(out);
                        }
                        Step::Disconnect => {
                            return Err(TransportError::Disconnected {
                                server: self.server.clone(),
                                reason: "simulated connection drop".to_string(),
                            });
                        }
                    }
                }
            }
            _ => Ok(denied(&format!("{program:?} is not an allowed command"))),
        }
    }
}
