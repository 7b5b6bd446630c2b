//! Reply bytes → checked envelope → typed values. Every quirk of the notes is absorbed here:
//! `success` as 1/0/true/false/"1"/"0", `data` as object/{}/[]/null, lists under a named
//! collection, flags by the truthy rule, dates as ISO-8601 with offset.

use serde_json::{Map, Value};

use super::{
    ApiError, BackupJob, Destination, LogEntry, LogItem, LogStatus, QueueGroup, QueueItem,
    QueueStatus, Timestamp,
};
use crate::transport::RawOutput;

/// Where a reply came from, for error messages.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    pub server: &'a str,
    pub function: &'static str,
}

impl Ctx<'_> {
    pub fn shape(&self, field: impl Into<String>, problem: impl Into<String>) -> ApiError {
        ApiError::Shape {
            server: self.server.to_string(),
            function: self.function,
            field: field.into(),
            problem: problem.into(),
        }
    }
}

/// A successful reply: its message and its `data` (never `null`: empty replies become `{}`).
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub message: String,
    pub data: Value,
}

impl Envelope {
    /// True when `data` carries nothing (`{}`, `[]` or `null` on the wire).
    pub fn data_is_empty(&self) -> bool {
        match &self.data {
            Value::Object(m) => m.is_empty(),
            Value::Array(a) => a.is_empty(),
            Value::Null => true,
            _ => false,
        }
    }
}

/// The truthy rule: `true`, a non-zero number, `"1"`, `"true"`; everything else is false.
pub fn truthy(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => {
            let s = s.trim();
            s == "1" || s.eq_ignore_ascii_case("true")
        }
        _ => false,
    }
}

/// Checks exit status, output, JSON and `success`. The exit code alone never counts as success:
/// jetbackup5api exits 0 even for an unknown function.
pub fn parse_reply(ctx: Ctx<'_>, out: &RawOutput) -> Result<Envelope, ApiError> {
    let bad_exit = |detail: String| ApiError::BadExit {
        server: ctx.server.to_string(),
        function: ctx.function,
        detail,
    };
    if out.status != Some(0) {
        let status = match out.status {
            Some(code) => format!("exit status {code}"),
            None => "killed by a signal".to_string(),
        };
        let stderr = first_line(&out.stderr_lossy());
        return Err(bad_exit(if stderr.is_empty() {
            status
        } else {
            format!("{status}: {stderr}")
        }));
    }
    if out.stdout.iter().all(u8::is_ascii_whitespace) {
        return Err(bad_exit("no output (exit status 0)".to_string()));
    }
    let value: Value = serde_json::from_slice(&out.stdout).map_err(|_| ApiError::NotJson {
        server: ctx.server.to_string(),
        function: ctx.function,
        snippet: snippet(&out.stdout, 200),
    })?;
    let Value::Object(mut top) = value else {
        return Err(ctx.shape("(top level)", "not a JSON object"));
    };
    let success = match top.get("success") {
        None => return Err(ctx.shape("success", "missing")),
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) if n.as_i64() == Some(1) => true,
        Some(Value::Number(n)) if n.as_i64() == Some(0) => false,
        Some(Value::String(s)) if s == "1" || s == "true" => true,
        Some(Value::String(s)) if s == "0" || s == "false" || s.is_empty() => false,
        Some(other) => return Err(ctx.shape("success", format!("expected 1 or 0, got {other}"))),
    };
    let message = match top.get("message") {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => String::new(),
        Some(other) => other.to_string(),
    };
    if !success {
        return Err(ApiError::Refused {
            server: ctx.server.to_string(),
            function: ctx.function,
            message: if message.is_empty() {
                "(no message)".to_string()
            } else {
                message
            },
        });
    }
    let data = match top.remove("data") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(Value::Array(a)) if a.is_empty() => Value::Object(Map::new()),
        Some(v) => v,
    };
    Ok(Envelope { message, data })
}

fn first_line(s: &str) -> String {
    let line = s
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    snippet(line.as_bytes(), 200)
}

/// At most `max` bytes, cut on a character boundary, with `…` when cut.
pub fn snippet(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// `data` as an object (get/action calls).
pub fn object<'v>(ctx: Ctx<'_>, data: &'v Value) -> Result<&'v Map<String, Value>, ApiError> {
    match data {
        Value::Object(m) if !m.is_empty() => Ok(m),
        Value::Object(_) => Err(ctx.shape("data", "empty")),
        other => Err(ctx.shape("data", format!("expected an object, got {}", kind(other)))),
    }
}

/// `data.<collection>` as a list, and `data.total` when present. An empty `data` is an empty
/// list; a bare array under `data` is accepted too (some fixtures in the wild send one).
pub fn collection<'v>(
    ctx: Ctx<'_>,
    data: &'v Value,
    name: &str,
) -> Result<(Vec<&'v Value>, Option<u64>), ApiError> {
    match data {
        Value::Object(m) if m.is_empty() => Ok((Vec::new(), Some(0))),
        Value::Object(m) => {
            let total = m.get("total").and_then(as_u64);
            match m.get(name) {
                Some(Value::Array(items)) => Ok((items.iter().collect(), total)),
                // The plain format prints lists as maps with numeric keys; accept that in JSON too.
                Some(Value::Object(items)) => Ok((items.values().collect(), total)),
                // Only an explicit `total: 0` excuses a missing list: a renamed collection must
                // not read as "no groups" (that would look like a job that never started).
                None | Some(Value::Null) if total == Some(0) => Ok((Vec::new(), total)),
                None => Err(ctx.shape(format!("data.{name}"), "missing")),
                Some(other) => Err(ctx.shape(
                    format!("data.{name}"),
                    format!("expected a list, got {}", kind(other)),
                )),
            }
        }
        Value::Array(items) => Ok((items.iter().collect(), None)),
        other => Err(ctx.shape("data", format!("expected an object, got {}", kind(other)))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Reads fields of one object, naming them `path.field` in errors.
struct Fields<'a> {
    ctx: Ctx<'a>,
    path: String,
    map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    fn new(ctx: Ctx<'a>, path: String, v: &'a Value) -> Result<Fields<'a>, ApiError> {
        match v {
            Value::Object(map) => Ok(Fields { ctx, path, map }),
            other => Err(ctx.shape(path, format!("expected an object, got {}", kind(other)))),
        }
    }

    fn err(&self, field: &str, problem: impl Into<String>) -> ApiError {
        self.ctx.shape(format!("{}.{field}", self.path), problem)
    }

    /// A required id: a non-empty string (numbers are accepted as their digits).
    fn id(&self, field: &str) -> Result<String, ApiError> {
        match self.map.get(field) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            Some(Value::Number(n)) => Ok(n.to_string()),
            None | Some(Value::Null) => Err(self.err(field, "missing")),
            Some(other) => Err(self.err(field, format!("expected an id, got {other}"))),
        }
    }

    fn opt_id(&self, field: &str) -> Option<String> {
        match self.map.get(field) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    }

    fn text(&self, field: &str) -> String {
        match self.map.get(field) {
            Some(Value::String(s)) => s.clone(),
            None | Some(Value::Null) => String::new(),
            Some(other) => other.to_string(),
        }
    }

    fn flag(&self, field: &str) -> bool {
        truthy(self.map.get(field))
    }

    fn time(&self, field: &str) -> Result<Option<Timestamp>, ApiError> {
        match self.map.get(field) {
            None | Some(Value::Null) | Some(Value::Bool(false)) => Ok(None),
            Some(Value::String(s)) => Ok(Timestamp::parse(s)),
            Some(other) => Err(self.err(field, format!("expected an ISO-8601 date, got {other}"))),
        }
    }

    fn status(&self, field: &str) -> Result<i64, ApiError> {
        match self.map.get(field) {
            None | Some(Value::Null) => Err(self.err(field, "missing")),
            Some(v) => {
                as_i64(v).ok_or_else(|| self.err(field, format!("expected a number, got {v}")))
            }
        }
    }

    fn count(&self, field: &str) -> u64 {
        self.map.get(field).and_then(as_u64).unwrap_or(0)
    }
}

pub fn backup_job(ctx: Ctx<'_>, path: &str, v: &Value) -> Result<BackupJob, ApiError> {
    let f = Fields::new(ctx, path.to_string(), v)?;
    let destinations = match f.map.get("destination") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) if s.is_empty() => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .map(|(i, d)| match d {
                Value::String(s) => Ok(s.clone()),
                Value::Object(_) => {
                    Fields::new(ctx, format!("{path}.destination[{i}]"), d)?.id("_id")
                }
                other => Err(f.err(
                    &format!("destination[{i}]"),
                    format!("expected an id, got {other}"),
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(f.err(
                "destination",
                format!("expected a list, got {}", kind(other)),
            ));
        }
    };
    Ok(BackupJob {
        id: f.id("_id")?,
        name: f.text("name"),
        disabled: f.flag("disabled"),
        disabled_stated: f.map.get("disabled").is_some_and(|v| !v.is_null()),
        running: f.flag("running"),
        destinations,
        last_run: f.time("last_run")?,
    })
}

pub fn destination(ctx: Ctx<'_>, path: &str, v: &Value) -> Result<Destination, ApiError> {
    let f = Fields::new(ctx, path.to_string(), v)?;
    Ok(Destination {
        id: f.id("_id")?,
        name: f.text("name"),
        disabled: f.flag("disabled"),
        kind: f.text("type"),
    })
}

pub fn queue_group(ctx: Ctx<'_>, path: &str, v: &Value) -> Result<QueueGroup, ApiError> {
    let f = Fields::new(ctx, path.to_string(), v)?;
    // The job id of a backup group is `data._id`; there is no top-level `job_id`.
    let job_id = match f.map.get("data") {
        Some(d @ Value::Object(_)) => Fields::new(ctx, format!("{path}.data"), d)?.opt_id("_id"),
        _ => None,
    };
    let progress_percent = match f.map.get("progress") {
        Some(Value::Object(p)) => p.get("percentage").and_then(|v| match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }),
        Some(Value::Number(n)) => n.as_f64(),
        _ => None,
    };
    Ok(QueueGroup {
        id: f.id("_id")?,
        job_id,
        status: QueueStatus(f.status("status")?),
        created: f.time("created")?,
        started: f.time("started")?,
        ended: f.time("ended")?,
        log_id: f.opt_id("log_id"),
        items: f.count("items"),
        items_completed: f.count("items_completed"),
        progress_percent,
    })
}

pub fn queue_item(ctx: Ctx<'_>, path: &str, v: &Value) -> Result<QueueItem, ApiError> {
    let f = Fields::new(ctx, path.to_string(), v)?;
    let name = match f.map.get("data") {
        Some(Value::Object(d)) => d
            .get("account")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        _ => String::new(),
    };
    Ok(QueueItem {
        id: f.id("_id")?,
        name,
        status: QueueStatus(f.status("status")?),
        message: f.text("message"),
    })
}

pub fn log_entry(ctx: Ctx<'_>, path: &str, v: &Value) -> Result<LogEntry, ApiError> {
    let f = Fields::new(ctx, path.to_string(), v)?;
    let job_id = match f.map.get("info") {
        Some(Value::Object(info)) => match info.get("ID") {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            _ => None,
        },
        _ => None,
    };
    Ok(LogEntry {
        id: f.id("_id")?,
        status: LogStatus(f.status("status")?),
        start_time: f.time("start_time")?,
        end_time: f.time("end_time")?,
        job_id,
        kind: f.map.get("type").and_then(as_i64),
    })
}

pub fn log_item(ctx: Ctx<'_>, path: &str, v: &Value) -> Result<LogItem, ApiError> {
    let f = Fields::new(ctx, path.to_string(), v)?;
    Ok(LogItem {
        id: f.id("_id")?,
        status: QueueStatus(f.status("status")?),
        message: f.text("message"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn truthy_rule() {
        for yes in [
            json!(true),
            json!(1),
            json!(2),
            json!("1"),
            json!("true"),
            json!(1.5),
        ] {
            assert!(truthy(Some(&yes)), "{yes}");
        }
        for no in [
            json!(false),
            json!(0),
            json!("0"),
            json!(""),
            json!(null),
            json!("false"),
            json!([]),
            json!({}),
        ] {
            assert!(!truthy(Some(&no)), "{no}");
        }
        assert!(!truthy(None));
    }

    #[test]
    fn snippet_cuts_on_a_char_boundary() {
        let s = "é".repeat(150);
        let cut = snippet(s.as_bytes(), 200);
        assert!(cut.len() <= 200 + "…".len());
        assert!(cut.ends_with('…'));
    }
}
