//! JSON objects in the shapes of the docs' examples, and the envelope around them (JSON or the
//! plain `key: value` format). Flags follow the server's flag-style setting.

use serde_json::{Map, Value, json};

use super::engine::{group_status, item_status, log_status};
use super::model::{FlagStyle, Group, Outcome, Server};
use crate::contract::time::format_iso8601;

pub(super) fn iso(t: Option<f64>) -> Value {
    t.map_or(Value::Null, |t| Value::String(format_iso8601(t)))
}

pub(super) fn log_start(g: &Group) -> f64 {
    g.started.unwrap_or(g.created)
}

pub(super) fn set_flag(
    map: &mut Map<String, Value>,
    style: FlagStyle,
    key: &str,
    on: bool,
    is_running: bool,
) {
    let v = match style {
        FlagStyle::Int => json!(on as i32),
        FlagStyle::Bool => json!(on),
        FlagStyle::String => json!(if on { "1" } else { "0" }),
        FlagStyle::NullMissing if on => json!(1),
        FlagStyle::NullMissing if is_running => return,
        FlagStyle::NullMissing => Value::Null,
        FlagStyle::Mixed if is_running => {
            if on {
                json!(1)
            } else {
                json!(false)
            }
        }
        FlagStyle::Mixed => json!(on as i32),
    };
    map.insert(key.to_string(), v);
}

pub(super) fn render_job(srv: &Server, j: &super::model::Job) -> Value {
    let style = srv.settings.flag_style;
    let running = srv
        .groups
        .iter()
        .any(|g| g.job_id == j.id && g.is_processing());
    let details: Vec<Value> = j
        .destinations
        .iter()
        .filter_map(|id| srv.destinations.iter().find(|d| &d.id == id))
        .map(|d| json!({"_id": d.id, "name": d.name, "type": d.kind, "disabled": d.disabled}))
        .collect();
    let mut m = Map::new();
    m.insert("_id".into(), json!(j.id));
    m.insert("name".into(), json!(j.name));
    m.insert("destination".into(), json!(j.destinations));
    m.insert("destination_details".into(), Value::Array(details));
    m.insert("type".into(), json!(1));
    m.insert("contains".into(), json!(511));
    m.insert("structure".into(), json!(1));
    m.insert("owner".into(), json!("6503d48bfc45b1addf0a9632"));
    m.insert("owner_name".into(), json!("root"));
    m.insert("next_run".into(), Value::Null);
    m.insert("last_run".into(), iso(j.last_run));
    set_flag(&mut m, style, "running", running, true);
    m.insert("retry_failed".into(), json!(0));
    set_flag(&mut m, style, "disabled", j.disabled, false);
    m.insert("time".into(), json!(j.duration.ceil() as i64));
    m.insert("monitor".into(), json!({"ranfor": 0, "notran": 0}));
    Value::Object(m)
}

pub(super) fn render_destination(srv: &Server, d: &super::model::Destination) -> Value {
    let style = match srv.settings.flag_style {
        // Docs: destinations print `disabled: false` where jobs print `disabled: 0`.
        FlagStyle::Mixed => FlagStyle::Bool,
        other => other,
    };
    let count = srv
        .jobs
        .iter()
        .filter(|j| j.destinations.contains(&d.id))
        .count();
    let mut m = Map::new();
    m.insert("_id".into(), json!(d.id));
    m.insert("name".into(), json!(d.name));
    m.insert("owner".into(), json!("6503d48bfc45b1addf0a9632"));
    m.insert("owner_name".into(), json!("root"));
    m.insert("type".into(), json!(d.kind));
    m.insert("job_type".into(), json!(1));
    m.insert("count".into(), json!(count));
    m.insert("hidden".into(), json!(false));
    m.insert("readonly".into(), json!(false));
    set_flag(&mut m, style, "disabled", d.disabled, false);
    m.insert("disk_limit".into(), json!(95));
    m.insert("threads".into(), json!(10));
    m.insert("dr".into(), json!(1));
    m.insert("reindex".into(), json!(false));
    m.insert("running".into(), json!(false));
    m.insert(
        "options".into(),
        json!({"path": "/backup", "host": "nas.local", "password": "JB|HIDDEN|********"}),
    );
    Value::Object(m)
}

pub(super) fn progress(g: &Group) -> (u64, u64, i64) {
    let items = g.item_ids.len() as u64;
    let done = match g.status {
        Some(100) => items,
        Some(_) if g.started.is_some() => items / 2,
        _ => 0,
    };
    let pct = (done * 100).checked_div(items).unwrap_or(0) as i64;
    (items, done, pct)
}

pub(super) fn render_group(srv: &Server, g: &Group) -> Value {
    let (items, done, pct) = progress(g);
    let status = group_status(g, srv.settings.processing_code);
    let log_id = if srv.settings.group_log_id {
        json!(g.log_id)
    } else {
        Value::Null
    };
    let end_or_now = g.ended;
    let exec = match (g.started, end_or_now) {
        (Some(s), Some(e)) => (e - s).round() as i64,
        _ => 0,
    };
    json!({
        "_id": g.id,
        "owner": "6503d48bfc45b1addf0a9632",
        "owner_name": "root",
        "created": iso(Some(g.created)),
        "started": iso(g.started),
        "ended": iso(g.ended),
        "type": 1,
        "items": items,
        "items_completed": done,
        "finalize": false,
        "status": status,
        "can_rerun": false,
        "rerun_failed": false,
        "log_id": log_id,
        "status_time": iso(Some(g.ended.or(g.started).unwrap_or(g.created))),
        "progress": {
            "_id": g.item_ids.first(), "group_id": g.id, "item_id": g.item_ids.first(),
            "name": null, "total": items, "completed": done, "subtotal": 0, "subcompleted": 0,
            "name_files": null, "total_files": 0, "completed_files": 0,
            "percentage": pct, "percentage_sub": 0, "percentage_files": 0
        },
        "execution_time": exec,
        "actual_time": exec,
        "log_file": format!("/usr/local/jetapps/var/log/jetbackup5/queue/1_{}.log", g.id),
        "log_contents": null,
        "data": {"_id": g.job_id, "manually": if g.scheduled { 0 } else { 1 }, "priority": 50},
    })
}

/// `started`: the run began writing. A failure before that is the destination's (disabled at
/// trigger or while pending); after it, the job's own scripted failure, which must not read as
/// if jbr had broken the destination.
pub(super) fn item_message(outcome: Option<Outcome>, started: bool, status: i64) -> &'static str {
    match outcome {
        None if status == 1 => "Waiting in queue",
        None => "Backup in progress",
        Some(Outcome::Completed | Outcome::Warnings) => "Backup completed successfully",
        Some(Outcome::ItemFailed) => "Backup failed: account could not be read (rsync exit 23)",
        Some(Outcome::Partial) => "Backup partially completed: 1 file could not be read",
        Some(Outcome::Failed) if !started => {
            "Backup failed: destination is disabled or unreachable"
        }
        Some(Outcome::Failed) => "Backup failed: simulated failure (rsync exit 23)",
        Some(Outcome::Aborted | Outcome::Hang) => "Backup aborted",
    }
}

pub(super) fn queue_items(srv: &Server, g: &Group) -> Vec<Value> {
    let code = srv.settings.processing_code;
    g.item_ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let status = item_status(g, i, code);
            let message = match status {
                100 => "Backup completed successfully",
                _ => item_message(g.final_outcome, g.started.is_some(), status),
            };
            json!({
                "_id": id, "owner": "6503d48bfc45b1addf0a9632", "owner_name": format!("account{}", i + 1),
                "created": iso(Some(g.created)), "started": iso(g.started), "ended": iso(g.ended),
                "type": 1, "group_id": g.id, "priority": 50, "status": status,
                "message": message,
                "file": format!("/usr/local/jetapps/var/log/jetbackup5/queue/1_{}/{}.log", g.id, id),
                "data": {"_id": g.job_id, "account": format!("account{}", i + 1), "manually": 1},
            })
        })
        .collect()
}

pub(super) fn log_items(srv: &Server, g: &Group) -> Vec<Value> {
    let mut items = queue_items(srv, g);
    if g.final_outcome == Some(Outcome::Warnings) {
        // "Warnings" ends as 100 with a warning item: the only trace of it is here.
        if let Some(Value::Object(first)) = items.first_mut() {
            first.insert(
                "message".into(),
                json!("Backup completed with warnings: 1 file changed while it was read"),
            );
        }
    }
    items
}

/// 1 "backup" for a scheduled run; the server's `manual_log_type` for one jbr triggered.
pub(super) fn log_type(srv: &Server, g: &Group) -> i64 {
    if g.scheduled {
        1
    } else {
        srv.settings.manual_log_type
    }
}

pub(super) fn render_log(srv: &Server, g: &Group) -> Value {
    let job = srv.job(&g.job_id);
    let dest = job
        .and_then(|j| j.destinations.first())
        .and_then(|d| srv.destinations.iter().find(|x| &x.id == d))
        .map(|d| d.name.clone())
        .unwrap_or_default();
    let exec = match (g.started, g.ended) {
        (Some(s), Some(e)) => (e - s).round() as i64,
        _ => 0,
    };
    json!({
        "_id": g.log_id,
        "start_time": iso(Some(log_start(g))),
        "end_time": iso(g.ended),
        "execution_time": exec,
        "actual_time": g.ended.map_or(0, |e| (e - g.created).round() as i64),
        "info": {"ID": g.job_id, "Backup Job": job.map(|j| j.name.clone()).unwrap_or_default(), "Destination": dest},
        "status": log_status(g),
        "type": log_type(srv, g),
        "file": format!("/usr/local/jetapps/var/log/jetbackup5/queue/1_{}.log", g.id),
        "items": format!("/usr/local/jetapps/var/log/jetbackup5/queue/1_{}.items", g.id),
    })
}

/// The envelope, as JSON or in the plain `key: value` format.
pub(super) fn envelope(
    srv: &Server,
    success: bool,
    message: &str,
    data: Value,
    as_json: bool,
) -> String {
    let data = if data.is_null() {
        Value::Object(Map::new())
    } else {
        data
    };
    let env = json!({
        "success": if success { 1 } else { 0 },
        "message": message,
        "system": {
            "version": srv.settings.version, "version_panel": srv.settings.version, "tier": "STABLE",
            "type": "Linux", "retry_ms": 0, "disableui": false, "dr": false,
            "agreement_panel": false, "agreement": false, "licenseIssue": false
        },
        "data": data,
    });
    if as_json {
        format!("{env}\n")
    } else {
        let mut out = String::new();
        plain(&env, 0, &mut out);
        out
    }
}

/// Two-space indented `key: value` lines; lists as numeric keys; false/null print as nothing.
pub(super) fn plain(v: &Value, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    let entries: Vec<(String, &Value)> = match v {
        Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), v)).collect(),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect(),
        _ => return,
    };
    for (k, v) in entries {
        match v {
            Value::Object(_) | Value::Array(_) => {
                out.push_str(&format!("{pad}{k}:\n"));
                plain(v, depth + 1, out);
            }
            Value::Null | Value::Bool(false) => out.push_str(&format!("{pad}{k}:\n")),
            Value::Bool(true) => out.push_str(&format!("{pad}{k}: 1\n")),
            Value::String(s) => out.push_str(&format!("{pad}{k}: {s}\n")),
            Value::Number(n) => out.push_str(&format!("{pad}{k}: {n}\n")),
        }
    }
}
