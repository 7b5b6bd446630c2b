//! The simulated servers' state, serializable so `jbr-sim` can keep it in a file between calls.
//! Times are epoch seconds (f64): wall clock in `jbr-sim`, tokio's clock in-process.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Every simulated server, on one shared timeline.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct World {
    pub servers: BTreeMap<String, Server>,
    /// Seed of the next 24-hex id (unique across servers).
    #[serde(default)]
    pub next_id: u64,
}

impl World {
    /// A fresh 24-hex id, ObjectId-shaped.
    pub fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("6a{:06x}{:016x}", 0x5e07u32, self.next_id)
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Server {
    #[serde(default)]
    pub settings: Settings,
    #[serde(default)]
    pub destinations: Vec<Destination>,
    #[serde(default)]
    pub jobs: Vec<Job>,
    #[serde(default)]
    pub groups: Vec<Group>,
    #[serde(default)]
    pub faults: Vec<Fault>,
    /// Calls seen per function (faults count "the k-th call" from here).
    #[serde(default)]
    pub calls: BTreeMap<String, u64>,
    /// Every call in order, when it reached the server (tests assert on the sequence).
    #[serde(default)]
    pub call_log: Vec<CallRecord>,
}

/// One call as the server saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    pub at: f64,
    pub function: String,
    /// The `-D` pairs, decoded.
    pub params: BTreeMap<String, String>,
}

/// How this server behaves; every documented variant is a setting.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Seconds a triggered group stays pending (status 1, job not running) before processing.
    pub startup_delay: f64,
    /// Seconds between `stopQueueGroup` and the group's final "aborted" state.
    pub abort_delay: f64,
    /// Seconds until a group whose destination is disabled fails (it never writes).
    pub fail_fast: f64,
    pub status_family: StatusFamily,
    pub flag_style: FlagStyle,
    /// Order of `listQueueGroups`.
    pub list_order: ListOrder,
    /// Order of `listLogs`: `None` honours `sort[start_time]`; otherwise the server ignores it.
    pub log_order: Option<ListOrder>,
    /// `type` of the log of a run jbr triggered (`runBackupJobManually`): 1 "backup", or 6
    /// "backup on demand" (jetbackup5-api.md), which `find[type]=1` leaves out.
    pub manual_log_type: i64,
    /// Whether queue groups carry `log_id` (a version that leaves it out makes the log harder
    /// to tie to its run).
    pub group_log_id: bool,
    /// Queue status while a group writes: 2, or a sub-status such as 30 (still below 100).
    pub processing_code: i64,
    pub destination_state_fn: DestStateFn,
    pub disabled_trigger_reply: DisabledTriggerReply,
    /// The server's own scheduler fires a job that has been enabled and idle (with its
    /// destination enabled) for this many seconds. `None`: only explicit ticks fire it.
    pub exposure: Option<f64>,
    /// `system.version` in every envelope.
    pub version: String,
    /// The most entries one list call returns whatever `limit` asks (`None`: no cap). The
    /// docs do not say whether `listQueueGroups` honours `limit`; 100 simulates "it doesn't".
    pub list_cap: Option<usize>,
    /// Seconds each call takes in the in-process transport, its effect in the middle (as over
    /// SSH: a round trip, the change made on the server halfway). 0: instantaneous.
    pub call_latency: f64,
    /// What disabling a job does to its run that is under way. JetBackup's docs do not say
    /// (issue 13, `orchestrator.disable_while_running`), so both are simulated.
    pub disabled_run: DisabledRun,
}

/// What a running backup does when its job is disabled under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisabledRun {
    /// It runs on to its end (the job's flag only gates new runs).
    #[default]
    Finishes,
    /// It is aborted, `abort_delay` later, as if stopped.
    Aborts,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            startup_delay: 1.0,
            abort_delay: 1.0,
            fail_fast: 0.5,
            status_family: StatusFamily::Research,
            flag_style: FlagStyle::Mixed,
            list_order: ListOrder::OldestFirst,
            log_order: None,
            manual_log_type: 1,
            group_log_id: true,
            processing_code: 2,
            destination_state_fn: DestStateFn::Works,
            disabled_trigger_reply: DisabledTriggerReply::Empty,
            exposure: None,
            version: "5.3.3".to_string(),
            list_cap: None,
            call_latency: 0.0,
            disabled_run: DisabledRun::Finishes,
        }
    }
}

/// Final status codes above 100. Sources disagree (jetbackup5-api.md), so both are simulated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusFamily {
    /// JetApps' own scripts: 101 partial, 102 failed, 103 aborted (104 never finished).
    Research,
    /// The older Python tool: 101 warnings, 102 partial, 200 failed, 201 aborted.
    OlderTool,
}

/// How flags (`disabled`, `running`) are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagStyle {
    /// As in the docs: jobs `disabled: 0/1`, `running: 1` or `false`; destinations `disabled: true/false`.
    Mixed,
    Int,
    Bool,
    /// `"1"` / `"0"`.
    String,
    /// True as `1`, false as `null` (`disabled`) or missing (`running`).
    NullMissing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListOrder {
    OldestFirst,
    NewestFirst,
}

/// Whether the undocumented `manageDestinationState` exists on this server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DestStateFn {
    Works,
    /// Unknown function: `success: 0`, exit 0.
    Absent,
    /// Answers success and changes nothing (why the safe rule reads back).
    Ignored,
}

/// What `runBackupJobManually` on a disabled job returns (both are success, exit 0, no group).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisabledTriggerReply {
    /// A short reply with empty `data` (the ~219 bytes seen in production).
    Empty,
    /// The job object, as if it had been queued.
    JobObject,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Destination {
    pub id: String,
    pub name: String,
    #[serde(default = "default_kind")]
    pub kind: String,
    pub disabled: bool,
}

fn default_kind() -> String {
    "SSH".to_string()
}

/// How a run of a job ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Completed,
    /// Completed with a warning log item.
    Warnings,
    Partial,
    Failed,
    /// Ends as aborted by itself (hooks or conditions).
    Aborted,
    /// Never ends unless stopped.
    Hang,
    /// Ends 100 "completed", yet its first item failed (a success code over a failed account).
    ItemFailed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    pub id: String,
    pub name: String,
    /// Destination ids.
    pub destinations: Vec<String>,
    /// Seconds of processing per run.
    pub duration: f64,
    #[serde(default = "default_outcome")]
    pub outcome: Outcome,
    /// Accounts per run (queue items).
    #[serde(default = "default_items")]
    pub items: u32,
    pub disabled: bool,
    #[serde(default)]
    pub last_run: Option<f64>,
    /// Since when the job has been enabled, idle and with its destinations enabled (scheduler).
    #[serde(default)]
    pub idle_since: Option<f64>,
    /// Ground truth for jbr's "scheduler exposure": seconds it spent enabled, idle and with its
    /// destinations enabled, summed over the closed spans (`idle_since` holds the open one).
    #[serde(default)]
    pub exposed_secs: f64,
}

impl Job {
    /// The job stops being open to the scheduler at `now`: its open span counts.
    pub fn close_idle(&mut self, now: f64) {
        if let Some(since) = self.idle_since.take() {
            self.exposed_secs += (now - since).max(0.0);
        }
    }
}

fn default_outcome() -> Outcome {
    Outcome::Completed
}
fn default_items() -> u32 {
    2
}

/// One queue group (one run of a job). Its log is derived from it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Group {
    pub id: String,
    pub log_id: String,
    pub job_id: String,
    pub created: f64,
    /// When it turns to processing (unless stopped or failed first).
    pub start_due: f64,
    pub started: Option<f64>,
    pub ended: Option<f64>,
    /// Final status code, set with `ended`.
    pub status: Option<i64>,
    pub final_outcome: Option<Outcome>,
    /// When a stop signal takes effect.
    pub stop_at: Option<f64>,
    /// Fails at this time without writing (destination disabled at trigger).
    pub fail_at: Option<f64>,
    pub duration: f64,
    pub outcome: Outcome,
    pub item_ids: Vec<String>,
    /// Started by the server's own scheduler rather than `runBackupJobManually`.
    pub scheduled: bool,
    /// Hidden from lists after `clearQueue` (kept for the timeline).
    #[serde(default)]
    pub cleared: bool,
}

impl Group {
    pub fn is_active(&self) -> bool {
        self.ended.is_none()
    }
    pub fn is_processing(&self) -> bool {
        self.started.is_some() && self.ended.is_none()
    }
}

/// A scripted misbehaviour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    /// The function it applies to; `None`: every function.
    pub function: Option<String>,
    pub when: When,
    pub kind: FaultKind,
    /// The call still takes effect on the server; only its answer is broken.
    #[serde(default)]
    pub takes_effect: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum When {
    /// The k-th call (1-based) of the function.
    Call(u64),
    /// Calls k..=l of the function.
    Calls(u64, u64),
    /// Any call while a group of this server is processing.
    WhileProcessing,
    /// Any call from epoch second `from` until (not including) `until`: a server that is
    /// down for a while.
    Between(f64, f64),
    Always,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Non-JSON output (a PHP warning), exit 0.
    Garbage,
    /// `success: 0` with this message.
    Refuse(String),
    /// This exit status, a PHP fatal error on stderr, no stdout.
    Exit(i32),
    /// Exit 0 and no output at all.
    Empty,
    /// The answer comes this many seconds late (then normally). With `takes_effect`, the call
    /// happens at once and only the answer is late; without, it happens after the stall.
    Stall(f64),
    /// The connection drops: no answer at all (in-process a `TransportError::Disconnected`,
    /// in `jbr-sim` exit 255 like ssh).
    Disconnect,
    /// Someone disables the job named by the call's `_id` just before the call; the call then
    /// runs and answers as usual (a trigger gets the disabled-job reply and queues nothing).
    JobDisabledFirst,
}

impl Fault {
    pub fn on(function: &str, when: When, kind: FaultKind) -> Fault {
        Fault {
            function: Some(function.to_string()),
            when,
            kind,
            takes_effect: false,
        }
    }
    pub fn any(when: When, kind: FaultKind) -> Fault {
        Fault {
            function: None,
            when,
            kind,
            takes_effect: false,
        }
    }
    /// The call changes the server even though its answer is broken.
    pub fn taking_effect(mut self) -> Fault {
        self.takes_effect = true;
        self
    }
}

/// One processing (writing) interval, for "at most one NAS writer".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WriteInterval {
    pub server: String,
    pub job_id: String,
    pub job_name: String,
    pub group_id: String,
    pub destinations: Vec<String>,
    pub start: f64,
    /// `None` while still writing.
    pub end: Option<f64>,
    pub status: Option<i64>,
}

/// What is left after a run: anything enabled or still running is listed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FinalState {
    /// `server: destination NAME (ID) enabled`, `server: job NAME (ID) enabled`.
    pub enabled: Vec<String>,
    /// `server: group ID of job NAME pending|processing`.
    pub running: Vec<String>,
}

impl FinalState {
    pub fn is_clean(&self) -> bool {
        self.enabled.is_empty() && self.running.is_empty()
    }
}

/// Largest number of intervals open at once. Touching ends do not overlap (`[a,b)`).
pub fn max_concurrent(intervals: &[WriteInterval]) -> usize {
    let mut events: Vec<(f64, i32)> = Vec::new();
    for i in intervals {
        events.push((i.start, 1));
        events.push((i.end.unwrap_or(f64::INFINITY), -1));
    }
    // Ends before starts at the same instant.
    events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (mut now, mut max) = (0i32, 0i32);
    for (_, d) in events {
        now += d;
        max = max.max(now);
    }
    max as usize
}
