//! `run --dry-run`: the plan and every remote call it would make, in order. Changes nothing.
//!
//! Plan, show, act (style.md): this walks the same plan the orchestrator runs and writes down
//! the calls the orchestrator makes for it, in the contract's grammar
//! (`jetbackup5api -F FN -D 'k=v&k=v' -O json`), so an operator can read exactly what a night
//! will send. Calls whose arguments are only known at run time (the queue group id) show a
//! placeholder in angle brackets.

use std::fmt::Write as _;
use std::time::Duration;

use crate::api::DestinationMethod;
use crate::orchestrator::plan::Plan;

/// One remote call, as the transport would send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteCall {
    pub function: &'static str,
    pub params: Vec<(&'static str, String)>,
}

impl RemoteCall {
    fn new(function: &'static str, params: &[(&'static str, &str)]) -> Self {
        RemoteCall {
            function,
            params: params.iter().map(|(k, v)| (*k, v.to_string())).collect(),
        }
    }

    /// The `-D` string: one, `&`-joined (several `-D` flags are mis-handled by some functions).
    pub fn data(&self) -> String {
        self.params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// Would change something on the server: refused by a dry run.
    pub fn is_write(&self) -> bool {
        crate::contract::is_write(self.function)
    }

    /// The command line, as an operator would type it.
    pub fn command_line(&self) -> String {
        if self.params.is_empty() {
            format!("jetbackup5api -F {} -O json", self.function)
        } else {
            format!(
                "jetbackup5api -F {} -D '{}' -O json",
                self.function,
                self.data()
            )
        }
    }
}

/// A value the contract's `-D` grammar allows (`[A-Za-z0-9_.:-]*`). Placeholders (`<group>`)
/// are allowed in the rendering only.
fn value_ok(v: &str) -> bool {
    (v.starts_with('<') && v.ends_with('>')) || crate::contract::valid_value(v)
}

/// One line of the dry run: a call, or a note between calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Call {
        server: String,
        call: RemoteCall,
        /// e.g. "every 30 s until final".
        repeat: Option<String>,
    },
    Note {
        server: String,
        text: String,
    },
}

/// Timing the rendering mentions.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub poll_interval: Duration,
    pub startup_timeout: Duration,
}

/// Every call a run of `plan` makes, in order, assuming every job completes normally and each
/// server's destination method is `method` (the first one tried).
pub fn steps(plan: &Plan, method: DestinationMethod, timing: Timing) -> Vec<Step> {
    let poll = secs(timing.poll_interval);
    let mut out = Vec::new();
    let call = |server: &str, call: RemoteCall, repeat: Option<String>| Step::Call {
        server: server.to_string(),
        call,
        repeat,
    };
    let note = |server: &str, text: String| Step::Note {
        server: server.to_string(),
        text,
    };

    // Pre-flight on every selected server before anything is enabled anywhere.
    for s in &plan.servers {
        let name = s.server.as_str();
        out.push(note(
            name,
            "pre-flight: reachable? destination and jobs exist? a backup already writing?".into(),
        ));
        out.push(note(name, "echo jbr-ping".into()));
        if let Some(dest) = &s.destination_id {
            out.push(call(
                name,
                RemoteCall::new("getDestination", &[("_id", dest)]),
                None,
            ));
        }
        for j in &s.jobs {
            out.push(call(
                name,
                RemoteCall::new("getBackupJob", &[("_id", &j.job_id)]),
                None,
            ));
        }
        out.push(call(
            name,
            RemoteCall::new("listQueueGroups", &[("type", "1")]),
            None,
        ));
        out.push(call(name, RemoteCall::new("listBackupJobs", &[]), None));
    }

    for s in &plan.servers {
        let name = s.server.as_str();
        if let Some(dest) = &s.destination_id {
            out.push(note(
                name,
                format!("window opens: journal, then enable destination {dest}"),
            ));
            out.push(call(name, set_destination(dest, false, method), None));
            out.push(call(
                name,
                RemoteCall::new("getDestination", &[("_id", dest)]),
                None,
            ));
        }
        for j in &s.jobs {
            let id = j.job_id.as_str();
            out.push(note(
                name,
                format!("job {j}: timeout {} s", secs(j.timeout)),
            ));
            out.push(call(name, set_job(id, false), None));
            out.push(call(
                name,
                RemoteCall::new("getBackupJob", &[("_id", id)]),
                None,
            ));
            out.push(call(
                name,
                RemoteCall::new("listQueueGroups", &[("type", "1")]),
                None,
            ));
            out.push(call(
                name,
                RemoteCall::new("runBackupJobManually", &[("_id", id)]),
                None,
            ));
            out.push(call(
                name,
                RemoteCall::new("listQueueGroups", &[("type", "1")]),
                Some(format!(
                    "every {poll} s until its new group appears (at most {} s)",
                    secs(timing.startup_timeout)
                )),
            ));
            out.push(call(
                name,
                RemoteCall::new("getQueueGroup", &[("_id", "<group>")]),
                Some(format!("every {poll} s until final")),
            ));
            out.push(call(
                name,
                RemoteCall::new("getBackupJob", &[("_id", id)]),
                Some("until running is false".into()),
            ));
            out.push(call(
                name,
                RemoteCall::new("listQueueItems", &[("group_id", "<group>")]),
                None,
            ));
            out.push(call(name, set_job(id, true), None));
            out.push(call(
                name,
                RemoteCall::new("getBackupJob", &[("_id", id)]),
                None,
            ));
        }
        if let Some(dest) = &s.destination_id {
            out.push(note(
                name,
                format!("window closes: disable destination {dest}"),
            ));
            out.push(call(name, set_destination(dest, true, method), None));
            out.push(call(
                name,
                RemoteCall::new("getDestination", &[("_id", dest)]),
                None,
            ));
        }
    }
    out
}

fn set_job(id: &str, disabled: bool) -> RemoteCall {
    RemoteCall::new(
        "manageBackupJob",
        &[
            ("_id", id),
            ("action", "modify"),
            ("disabled", flag(disabled)),
        ],
    )
}

fn set_destination(id: &str, disabled: bool, method: DestinationMethod) -> RemoteCall {
    match method {
        DestinationMethod::State => RemoteCall::new(
            "manageDestinationState",
            &[("_id", id), ("disabled", flag(disabled))],
        ),
        DestinationMethod::Modify => RemoteCall::new(
            "manageDestination",
            &[
                ("_id", id),
                ("action", "modify"),
                ("disabled", flag(disabled)),
            ],
        ),
    }
}

fn flag(b: bool) -> &'static str {
    if b { "1" } else { "0" }
}

fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{s}")
    }
}

/// A value from the config that the `-D` grammar does not allow: the dry run says so, as the
/// real run would refuse to send it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("server {server}: {function}: refusing to send {key}={value:?}: outside [A-Za-z0-9_.:-]")]
pub struct BadValue {
    pub server: String,
    pub function: &'static str,
    pub key: &'static str,
    pub value: String,
}

/// Render the steps as text, one call per line. Fails on the first value the grammar forbids.
pub fn render(plan: &Plan, steps: &[Step]) -> Result<String, BadValue> {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "dry run: {} job(s) on {} server(s); nothing will be changed",
        plan.job_count(),
        plan.servers.len()
    );
    for d in &plan.disabled_in_config {
        let _ = writeln!(
            out,
            "  skip {} on {}: disabled in config",
            crate::orchestrator::plan::job_display(&d.job_id, &d.label),
            d.server
        );
    }
    for step in steps {
        match step {
            Step::Note { server, text } => {
                let _ = writeln!(out, "[{server}] # {text}");
            }
            Step::Call {
                server,
                call,
                repeat,
            } => {
                for (key, value) in &call.params {
                    if !value_ok(value) {
                        return Err(BadValue {
                            server: server.clone(),
                            function: call.function,
                            key,
                            value: value.clone(),
                        });
                    }
                }
                let mark = if call.is_write() { "CHANGE" } else { "read  " };
                let _ = write!(out, "[{server}] {mark} {}", call.command_line());
                if let Some(r) = repeat {
                    let _ = write!(out, "   ({r})");
                }
                out.push('\n');
            }
        }
    }
    Ok(out)
}

/// A transport that lets reads through and refuses every write (`manage*`, `run*`, `stop*`,
/// `clear*`), for read-only commands and a dry run that wants live reads. A refused call never
/// leaves this process.
pub struct ReadOnly<T>(pub T);

impl<T: crate::transport::Transport> crate::transport::Transport for ReadOnly<T> {
    fn server(&self) -> &str {
        self.0.server()
    }

    async fn run(
        &self,
        argv: &[String],
    ) -> Result<crate::transport::RawOutput, crate::transport::TransportError> {
        let function = argv
            .iter()
            .position(|a| a == "-F")
            .and_then(|i| argv.get(i + 1));
        if let Some(f) = function
            && crate::contract::is_write(f)
        {
            return Err(crate::transport::TransportError::Other {
                server: self.0.server().to_string(),
                reason: format!("dry run: refusing to send {f}"),
            });
        }
        self.0.run(argv).await
    }
}
