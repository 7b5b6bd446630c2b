//! One `jetbackup5api` invocation against a simulated server: parse the argv as the real CLI
//! would, apply faults, run the function, print the envelope. Shared by the in-process
//! transport and the `jbr-sim` binary, so both answer byte for byte alike.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::engine::IdSource;
use super::model::{
    DestStateFn, DisabledRun, DisabledTriggerReply, FaultKind, Group, ListOrder, Server, When,
    World,
};
use super::render::{
    envelope, log_items, log_start, log_type, queue_items, render_destination, render_group,
    render_job, render_log,
};
use crate::contract::RawOutput;

/// The answer to one call, or "answer later" (a stall fault).
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Done(RawOutput),
    /// Sleep this many seconds, then call again with `after_stall = true` (the call has not
    /// happened yet: a caller that gives up first changed nothing).
    StallThen(f64),
    /// The call already happened; its answer arrives this many seconds late.
    Late(f64, RawOutput),
    /// The connection drops without an answer.
    Disconnect,
}

/// What the simulator answers beyond the gate's functions: `getQueueItem`, and the contract's
/// optional `clearQueue`. Anything else is "not found" (success 0, exit 0).
const BEYOND_THE_GATE: &[&str] = &["getQueueItem", "clearQueue"];

/// Every function the simulator knows.
pub fn functions() -> impl Iterator<Item = &'static str> {
    crate::contract::ALLOWED_FUNCTIONS
        .iter()
        .chain(BEYOND_THE_GATE)
        .copied()
}

fn output(status: i32, stdout: impl Into<Vec<u8>>, stderr: impl Into<Vec<u8>>) -> Step {
    Step::Done(RawOutput {
        status: Some(status),
        stdout: stdout.into(),
        stderr: stderr.into(),
    })
}

/// Parsed `jetbackup5api` flags.
struct Invocation {
    function: String,
    params: BTreeMap<String, String>,
    json: bool,
}

impl Invocation {
    /// The value of `-D` key `k`, empty when absent.
    fn param(&self, k: &str) -> &str {
        self.params.get(k).map(String::as_str).unwrap_or("")
    }
}

/// `-F/--func NAME`, `-D/--data "k=v&..."`, `-O/--output json|plain`. Several `-D`: only the
/// last counts, which is how production lost `action=modify` (jetbackup5-api.md).
fn parse_args(args: &[String]) -> Result<Invocation, String> {
    let mut function = None;
    let mut data = None;
    let mut json = false;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (flag.as_str(), None),
        };
        let mut value = || inline.clone().or_else(|| it.next().cloned());
        match name {
            "-F" | "--func" => function = Some(value().ok_or("-F needs a function name")?),
            "-D" | "--data" => data = Some(value().ok_or("-D needs data")?),
            "-O" | "--output" => match value().as_deref() {
                Some("json") => json = true,
                Some("plain") => json = false,
                other => return Err(format!("unknown output format {other:?}")),
            },
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    let function = function.ok_or("missing -F FUNCTION")?;
    let mut params = BTreeMap::new();
    for pair in data
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        params.insert(percent_decode(k), percent_decode(v));
    }
    Ok(Invocation {
        function,
        params,
        json,
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(Ok(b)) = s.get(i + 1..i + 3).map(|h| u8::from_str_radix(h, 16))
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Runs `args` (everything after `jetbackup5api`) on `server` at `now`.
pub fn handle(
    world: &mut World,
    server: &str,
    args: &[String],
    now: f64,
    after_stall: bool,
) -> Step {
    let inv = match parse_args(args) {
        Ok(inv) => inv,
        Err(e) => return output(1, "", format!("jetbackup5api: {e}\n")),
    };
    let World { servers, next_id } = world;
    let Some(srv) = servers.get_mut(server) else {
        return output(
            1,
            "",
            format!("jetbackup5api: no simulated server {server:?}\n"),
        );
    };
    let mut ids = IdSource { next_id };
    srv.advance(&mut ids, now);

    let mut broken = if after_stall {
        None
    } else {
        record_call(srv, &inv, now)
    };
    if let Some((FaultKind::Stall(secs), false)) = &broken {
        return Step::StallThen(*secs);
    }
    if let Some((FaultKind::JobDisabledFirst, _)) = &broken {
        let id = inv.params.get("_id").cloned().unwrap_or_default();
        if let Some(job) = srv.jobs.iter_mut().find(|j| j.id == id) {
            job.disabled = true;
        }
        srv.refresh_idle(now);
        broken = None;
    }
    let run = broken
        .as_ref()
        .is_none_or(|(_, takes_effect)| *takes_effect);
    let reply = if run {
        let r = call(srv, &mut ids, &inv, now);
        srv.refresh_idle(now);
        r
    } else {
        Reply::ok(Value::Null)
    };
    match broken {
        Some((FaultKind::Garbage, _)) => output(
            0,
            "PHP Warning:  Undefined array key \"data\" in /usr/local/jetapps/var/lib/jetbackup5/Core/API.php on line 212\n<html>",
            "",
        ),
        Some((FaultKind::Refuse(msg), _)) => output(
            0,
            envelope(srv, false, &msg, Value::Object(Map::new()), inv.json),
            "",
        ),
        Some((FaultKind::Exit(code), _)) => output(
            code,
            "",
            "PHP Fatal error:  Uncaught Error: database is locked in /usr/local/jetapps/var/lib/jetbackup5/Core/DB.php:88\n",
        ),
        Some((FaultKind::Empty, _)) => output(0, "", ""),
        Some((FaultKind::Disconnect, _)) => Step::Disconnect,
        Some((FaultKind::Stall(secs), _)) => match output(
            0,
            envelope(srv, reply.success, &reply.message, reply.data, inv.json),
            "",
        ) {
            Step::Done(out) => Step::Late(secs, out),
            other => other,
        },
        _ => output(
            0,
            envelope(srv, reply.success, &reply.message, reply.data, inv.json),
            "",
        ),
    }
}

/// Counts and logs the call, then returns the first fault that fires on it (its kind, and
/// whether the call still takes effect). A stalled call is recorded once, when it first comes.
fn record_call(srv: &mut Server, inv: &Invocation, now: f64) -> Option<(FaultKind, bool)> {
    let count = {
        let c = srv.calls.entry(inv.function.clone()).or_insert(0);
        *c += 1;
        *c
    };
    srv.call_log.push(super::model::CallRecord {
        at: now,
        function: inv.function.clone(),
        params: inv.params.clone(),
    });
    let processing = srv.any_processing();
    srv.faults
        .iter()
        .find(|f| {
            f.function.as_ref().is_none_or(|name| *name == inv.function)
                && match f.when {
                    When::Call(k) => count == k,
                    When::Calls(a, b) => (a..=b).contains(&count),
                    When::WhileProcessing => processing,
                    When::Between(from, until) => (from..until).contains(&now),
                    When::Always => true,
                }
        })
        .map(|f| (f.kind.clone(), f.takes_effect))
}

struct Reply {
    success: bool,
    message: String,
    data: Value,
}

impl Reply {
    fn ok(data: Value) -> Reply {
        Reply {
            success: true,
            message: String::new(),
            data,
        }
    }
    fn ok_msg(message: &str, data: Value) -> Reply {
        Reply {
            success: true,
            message: message.to_string(),
            data,
        }
    }
    // Error texts are the simulator's own invention: no real `success: 0` sample is public.
    fn refuse(message: impl Into<String>) -> Reply {
        Reply {
            success: false,
            message: message.into(),
            data: Value::Object(Map::new()),
        }
    }
}

const RUN_MESSAGE: &str = "Backup Job will be added to the queue. Please note that this job may not run\nand will be aborted by hooks or there conditions.\nIf this job will be aborted it will be logged in the alerts section.";

fn call(srv: &mut Server, ids: &mut IdSource<'_>, inv: &Invocation, now: f64) -> Reply {
    let p = |k: &str| inv.param(k);
    match inv.function.as_str() {
        "getBackupJob" => match srv.job(p("_id")) {
            Some(j) => Reply::ok(render_job(srv, j)),
            None => Reply::refuse("No backup job found with the provided id"),
        },
        "listBackupJobs" => {
            let jobs: Vec<Value> = srv.jobs.iter().map(|j| render_job(srv, j)).collect();
            Reply::ok(list(srv, inv, "jobs", jobs))
        }
        "runBackupJobManually" => run_job_manually(srv, ids, p("_id"), now),
        "manageBackupJob" => modify_job(srv, inv, now),
        "getDestination" => match srv.destinations.iter().find(|d| d.id == p("_id")) {
            Some(d) => Reply::ok(render_destination(srv, d)),
            None => Reply::refuse("No destination found with the provided id"),
        },
        "listDestinations" => {
            let all = srv
                .destinations
                .iter()
                .map(|d| render_destination(srv, d))
                .collect();
            Reply::ok(list(srv, inv, "destinations", all))
        }
        "manageDestinationState" => match srv.settings.destination_state_fn {
            DestStateFn::Absent => Reply::refuse("Function \"manageDestinationState\" not found"),
            DestStateFn::Ignored => Reply::ok(empty()),
            DestStateFn::Works => set_destination(srv, p("_id"), inv.params.get("disabled")),
        },
        "manageDestination" => {
            if p("action") != "modify" {
                return Reply::refuse("Invalid action provided");
            }
            set_destination(srv, p("_id"), inv.params.get("disabled"))
        }
        "listQueueGroups" => list_queue_groups(srv, inv),
        "getQueueGroup" => match srv.groups.iter().find(|g| g.id == p("_id") && !g.cleared) {
            Some(g) => Reply::ok(render_group(srv, g)),
            None => Reply::refuse("No queue group found with the provided id"),
        },
        "listQueueItems" => match srv.groups.iter().find(|g| g.id == p("group_id")) {
            Some(g) => Reply::ok(list(srv, inv, "items", queue_items(srv, g))),
            None => Reply::refuse("No queue group found with the provided id"),
        },
        "getQueueItem" => get_queue_item(srv, p("_id")),
        "stopQueueGroup" => {
            if srv.signal_stop(p("_id"), now) {
                Reply::ok_msg("Queue Group stop signal sent", empty())
            } else {
                Reply::refuse("Queue group is not pending or processing")
            }
        }
        "clearQueue" => {
            for g in srv.groups.iter_mut().filter(|g| !g.is_active()) {
                g.cleared = true;
            }
            Reply::ok_msg("Queue cleared successfully", empty())
        }
        "listLogs" => list_logs(srv, inv),
        "getLog" => match srv.groups.iter().find(|g| g.log_id == p("_id")) {
            Some(g) => Reply::ok(render_log(srv, g)),
            None => Reply::refuse("No log found with the provided id"),
        },
        "listLogItems" => match srv.groups.iter().find(|g| g.log_id == p("log_id")) {
            Some(g) => Reply::ok(list(srv, inv, "items", log_items(srv, g))),
            None => Reply::refuse("No log found with the provided id"),
        },
        "getLogItem" => get_log_item(srv, p("log_id"), p("_id")),
        other => Reply::refuse(format!("Function \"{other}\" not found")),
    }
}

fn empty() -> Value {
    Value::Object(Map::new())
}

/// `runBackupJobManually`: queue a run of job `id`, unless it is disabled or already queued.
fn run_job_manually(srv: &mut Server, ids: &mut IdSource<'_>, id: &str, now: f64) -> Reply {
    let Some(job) = srv.job(id) else {
        return Reply::refuse("No backup job found with the provided id");
    };
    if job.disabled {
        // Production: a short reply, exit 0, and the job never starts.
        return match srv.settings.disabled_trigger_reply {
            DisabledTriggerReply::Empty => Reply::ok_msg("Backup job is disabled", empty()),
            DisabledTriggerReply::JobObject => Reply::ok_msg(RUN_MESSAGE, render_job(srv, job)),
        };
    }
    if srv.active_group_of(id).is_some() {
        return Reply::refuse("Backup job is already in the queue");
    }
    srv.queue_run(ids, id, now, false);
    match srv.job(id) {
        Some(job) => Reply::ok_msg(RUN_MESSAGE, render_job(srv, job)),
        None => Reply::refuse("No backup job found with the provided id"),
    }
}

/// `manageBackupJob`: only `action=modify`, and of a job only its `disabled` flag.
fn modify_job(srv: &mut Server, inv: &Invocation, now: f64) -> Reply {
    if inv.param("action") != "modify" {
        return Reply::refuse("Invalid action provided");
    }
    let id = inv.param("_id");
    let Some(job) = srv.jobs.iter_mut().find(|j| j.id == id) else {
        return Reply::refuse("No backup job found with the provided id");
    };
    let disabling = inv.params.get("disabled").is_some_and(|f| f == "1") && !job.disabled;
    if let Some(flag) = inv.params.get("disabled") {
        job.disabled = flag == "1";
    }
    if disabling && srv.settings.disabled_run == DisabledRun::Aborts {
        // This server aborts a run whose job is disabled under it.
        let running: Vec<String> = srv
            .groups
            .iter()
            .filter(|g| g.job_id == id && g.is_active())
            .map(|g| g.id.clone())
            .collect();
        for g in running {
            srv.signal_stop(&g, now);
        }
    }
    match srv.job(id) {
        Some(job) => Reply::ok_msg("Backup Job modified successfully", render_job(srv, job)),
        None => Reply::refuse("No backup job found with the provided id"),
    }
}

/// `listQueueGroups`: only backup groups (`type=1`) exist here, in the configured list order.
fn list_queue_groups(srv: &Server, inv: &Invocation) -> Reply {
    let wanted_type = inv.param("type");
    if wanted_type.is_empty() {
        return Reply::refuse("Queue type is required");
    }
    let mut groups: Vec<&Group> = if wanted_type == "1" {
        srv.groups.iter().filter(|g| !g.cleared).collect()
    } else {
        Vec::new()
    };
    groups.sort_by(|a, b| a.created.total_cmp(&b.created));
    if srv.settings.list_order == ListOrder::NewestFirst {
        groups.reverse();
    }
    Reply::ok(list_of(srv, inv, "groups", groups, |g| {
        render_group(srv, g)
    }))
}

fn get_queue_item(srv: &Server, id: &str) -> Reply {
    let found = srv
        .groups
        .iter()
        .flat_map(|g| queue_items(srv, g))
        .find(|i| i.get("_id").and_then(Value::as_str) == Some(id));
    match found {
        Some(item) => Reply::ok(item),
        None => Reply::refuse("No queue item found with the provided id"),
    }
}

/// `listLogs`: the groups that started or ended, filtered by job and type, in the configured
/// order (or the caller's `sort[start_time]` when the server follows it).
fn list_logs(srv: &Server, inv: &Invocation) -> Reply {
    let mut groups: Vec<&Group> = srv
        .groups
        .iter()
        .filter(|g| g.started.is_some() || g.ended.is_some())
        .collect();
    if let Some(job) = inv.params.get("find[info.ID]") {
        groups.retain(|g| &g.job_id == job);
    }
    if let Some(t) = inv.params.get("find[type]") {
        groups.retain(|g| log_type(srv, g).to_string() == *t);
    }
    groups.sort_by(|a, b| log_start(a).total_cmp(&log_start(b)));
    let newest_first = match srv.settings.log_order {
        Some(order) => order == ListOrder::NewestFirst,
        None => inv.params.get("sort[start_time]").map(String::as_str) == Some("-1"),
    };
    if newest_first {
        groups.reverse();
    }
    Reply::ok(list_of(srv, inv, "logs", groups, |g| render_log(srv, g)))
}

fn get_log_item(srv: &Server, log_id: &str, id: &str) -> Reply {
    let Some(g) = srv.groups.iter().find(|g| g.log_id == log_id) else {
        return Reply::refuse("No log found with the provided id");
    };
    match log_items(srv, g)
        .into_iter()
        .find(|i| i.get("_id").and_then(Value::as_str) == Some(id))
    {
        Some(item) => Reply::ok(item),
        None => Reply::refuse("No log item found with the provided id"),
    }
}

fn set_destination(srv: &mut Server, id: &str, disabled: Option<&String>) -> Reply {
    let Some(d) = srv.destinations.iter_mut().find(|d| d.id == id) else {
        return Reply::refuse("No destination found with the provided id");
    };
    if let Some(flag) = disabled {
        d.disabled = flag == "1";
    }
    let id = d.id.clone();
    match srv.destinations.iter().find(|d| d.id == id) {
        Some(d) => Reply::ok_msg(
            "Destination modified successfully",
            render_destination(srv, d),
        ),
        None => Reply::refuse("No destination found with the provided id"),
    }
}

/// `{collection: [...], total}` with `limit` (default 100, as the real API) and `skip`.
fn list(srv: &Server, inv: &Invocation, name: &str, all: Vec<Value>) -> Value {
    list_of(srv, inv, name, all, |v| v)
}

/// [`list`], rendering only the entries on the page (a server with months of history would
/// otherwise render all of them for every page).
fn list_of<T>(
    srv: &Server,
    inv: &Invocation,
    name: &str,
    all: Vec<T>,
    render: impl Fn(T) -> Value,
) -> Value {
    let total = all.len();
    let number = |key: &str| inv.params.get(key).and_then(|s| s.parse::<usize>().ok());
    let skip = number("skip").unwrap_or(0);
    let limit = number("limit").unwrap_or(100);
    let limit = srv.settings.list_cap.map_or(limit, |cap| limit.min(cap));
    let page: Vec<Value> = all.into_iter().skip(skip).take(limit).map(render).collect();
    json!({ name: page, "total": total })
}
