//! The one test harness: `mod support;` in a test file, then `use support::…` for the part it
//! needs. Each test binary uses a different part, hence the `dead_code` allowance.
//!
//! - `bin`: the one way to run `jbr` or `jbr-sim` as a process: bounded in time, and on a
//!   failed expectation it shows the command, its status, stdout and stderr.
//! - `fleet`: simulated servers behind the real `jbr-sim` binary (one state file, one timeline),
//!   reached through `local_command` or through real sshd with `server/jbr-gate`; the config
//!   that names them, and the simulator's ground truth (`--dump`).
//! - `cli`: the operator-command tests' standard fleet (fixed ids and names).
//! - `lab`: config builders and one run of the run core on the in-process simulator.
//! - `faults`: a fault placed on the n-th call of a function, found by name, not by call index.
//! - `sshd`, `gate`: real OpenSSH servers on loopback, and a recording stand-in API.
//! - `smtp`: a real SMTP server (aiosmtpd) and a private CA.
//! - `browser`: headless chromium, to see the email's HTML part as a reader's client lays it out.
//! - `http`: a real HTTP(S) server (Python's http.server) that logs each request, for the pings.
//! - `server`: starting a helper server process that prints its port (`smtp`, `http`).
//! - `rng`, `tools`: seeded random inputs; outside programs some tests need.
#![allow(dead_code)]

pub mod bin;
pub mod browser;
pub mod cli;
pub mod faults;
pub mod fleet;
pub mod gate;
pub mod http;
pub mod lab;
pub mod rng;
pub mod server;
pub mod smtp;
pub mod sshd;
pub mod tools;
