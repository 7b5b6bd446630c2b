//! `Transport` for one server of an in-process [`SimWorld`]. It parses the argv exactly as the
//! gate and the real CLI would, so the client's command building is what gets tested.

use crate::contract;
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
            "echo" if args == [contract::PING] || args == [contract::PING_LEGACY] => {
                Ok(RawOutput {
                    status: Some(0),
                    stdout: format!("{}\n", args[0]).into_bytes(),
                    stderr: Vec::new(),
                })
            }
            contract::PROGRAM => {
                // What the real gate would refuse is refused here too, so a client bug shows.
                if let Err(reason) = contract::check_call(args) {
                    return Ok(denied(&reason));
                }
                // A round trip: the server acts halfway, the answer arrives at the end.
                let half = self.world.call_latency(&self.server) / 2.0;
                if half > 0.0 {
                    sleep(half).await;
                }
                let mut after_stall = false;
                loop {
                    match self.world.handle(&self.server, args, after_stall) {
                        Step::Done(out) => {
                            if half > 0.0 {
                                sleep(half).await;
                            }
                            return Ok(out);
                        }
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
