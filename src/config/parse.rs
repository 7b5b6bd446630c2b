//! JSON value → typed `Config` plus every problem found, in one pass. No I/O: the environment
//! comes in as a lookup function, file checks live in `machine`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};

use super::defaults::{self, MAX_SECONDS};
use super::problem::Problems;
use super::suggest::nearest;
use super::{
    Config, DestinationPolicy, Job, JobType, LocalTime, Monitoring, Nas, Notification,
    Orchestrator, PingUrl, Secret, Server, WindowPolicy,
};

const TOP_KEYS: &[&str] = &[
    "ssh_key",
    "servers",
    "jobs",
    "orchestrator",
    "destination",
    "notification",
    "monitoring",
    "loop",
    "nas",
];
const SERVER_KEYS: &[&str] = &[
    "host",
    "port",
    "user",
    "ssh_key",
    "ssh_timeout",
    "destination_id",
    "known_hosts",
    "local_command",
];
const JOB_KEYS: &[&str] = &[
    "job_id", "server", "label", "type", "priority", "timeout", "enabled",
];
const ORCHESTRATOR_KEYS: &[&str] = &[
    "poll_interval",
    "startup_timeout",
    "job_timeout",
    "stop_timeout",
    "stop_poll_interval",
    "near_end_poll_interval",
    "lock_alert_after",
    "resume_within",
    "disable_while_running",
    "window_end",
    "window_policy",
    "call_timeout",
    "retry_backoff",
    "lock_file",
    "log_file",
    "log_max_bytes",
    "log_backup_count",
    "state_file",
    "journal_file",
    "metrics_file",
];
const DESTINATION_KEYS: &[&str] = &[
    "skip_if_disabled",
    "force_activate",
    "alert_days_without_jobs",
];
const NOTIFICATION_KEYS: &[&str] = &[
    "enabled",
    "smtp_host",
    "smtp_port",
    "smtp_tls",
    "smtp_user",
    "smtp_password",
    "from_address",
    "to_addresses",
    "on_failure",
    "on_timeout",
    "on_complete",
    "on_partial",
    "on_daemon_lifecycle",
];
const MONITORING_KEYS: &[&str] = &["healthcheck_url", "healthcheck_timeout"];
const LOOP_KEYS: &[&str] = &["target_interval", "min_pause"];
const NAS_KEYS: &[&str] = &[
    "block_device",
    "diskstats_file",
    "min_write_mb_s",
    "foreign_write_min_mb",
];

/// Every key jbr knows, as `servers.*.host` / `jobs[].job_id` / `orchestrator.poll_interval`:
/// the older tool's and jbr's additions. Docs and the example config are tested against it.
pub fn known_keys() -> Vec<String> {
    let mut keys: Vec<String> = TOP_KEYS.iter().map(|k| k.to_string()).collect();
    let sections: [(&str, &[&str]); 8] = [
        ("servers.*", SERVER_KEYS),
        ("jobs[]", JOB_KEYS),
        ("orchestrator", ORCHESTRATOR_KEYS),
        ("destination", DESTINATION_KEYS),
        ("notification", NOTIFICATION_KEYS),
        ("monitoring", MONITORING_KEYS),
        ("loop", LOOP_KEYS),
        ("nas", NAS_KEYS),
    ];
    for (prefix, list) in sections {
        keys.extend(list.iter().map(|k| format!("{prefix}.{k}")));
    }
    keys
}

/// The contract's value set for anything that ends up in a remote command line.
pub(crate) const VALUE_SET: &str = crate::contract::VALUE_CHARS;

/// A non-empty value in the contract's `-D` grammar: every id and name the config gives ends up
/// in a remote call.
pub(crate) fn in_value_set(s: &str) -> bool {
    !s.is_empty() && crate::contract::valid_value(s)
}

/// Inputs besides the JSON itself.
pub(crate) struct Context<'a> {
    /// The config file as the user named it (for `Config::path`).
    pub file: &'a Path,
    /// Relative paths in the config are relative to the config file's directory, so a config
    /// means the same whatever directory jbr is started from (systemd starts it in `/`).
    pub base_dir: &'a Path,
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

pub(crate) fn parse(root: &Value, ctx: &Context<'_>, p: &mut Problems) -> Config {
    let mut w = Walker { p, ctx };
    let mut config = Config {
        path: ctx.file.to_path_buf(),
        ..Config::default()
    };
    let Some(top) = w.object(root, "") else {
        return config;
    };
    w.unknown_keys(top, "", TOP_KEYS);
    config.ssh_key = w.path(top, "ssh_key", "");
    let servers_ok = match present(top, "servers") {
        Some(v) => w.servers(v, &config.ssh_key, &mut config.servers),
        None => {
            w.p.error(
                "servers",
                "missing_key",
                "missing required key",
                Some("an object of servers by name, each with at least \"host\"".into()),
            );
            false
        }
    };
    if let Some(v) = present(top, "orchestrator") {
        w.orchestrator(v, &mut config.orchestrator);
    }
    if let Some(v) = present(top, "destination") {
        w.destination(v, &mut config.destination);
    }
    if let Some(v) = present(top, "notification") {
        w.notification(v, &mut config.notification);
    }
    if let Some(v) = present(top, "monitoring") {
        w.monitoring(v, &mut config.monitoring);
    }
    if let Some(v) = present(top, "nas") {
        w.nas(v, &mut config.nas);
    }
    if let Some(v) = present(top, "loop")
        && let Some(m) = w.object(v, "loop")
    {
        w.unknown_keys(m, "loop", LOOP_KEYS);
        config.daemon_loop.target_interval = w.loop_seconds(m, "target_interval");
        config.daemon_loop.min_pause = w.loop_seconds(m, "min_pause");
    }
    match present(top, "jobs") {
        Some(v) => {
            let known: Option<Vec<&str>> =
                servers_ok.then(|| config.servers.keys().map(String::as_str).collect());
            config.jobs = w.jobs(v, known.as_deref());
        }
        None => w.p.error(
            "jobs",
            "missing_key",
            "missing required key",
            Some("a list of jobs, each with \"job_id\" and \"server\"".into()),
        ),
    }
    config
}

/// The `monitoring` section alone, and whether it had an error: for a run whose config is
/// refused, so that the refusal can still ping `/fail` when the ping URL can be read.
pub(crate) fn monitoring_only(root: &Value, ctx: &Context<'_>, p: &mut Problems) -> Monitoring {
    let mut monitoring = Monitoring::default();
    if let Some(v) = root.as_object().and_then(|top| present(top, "monitoring")) {
        Walker { p, ctx }.monitoring(v, &mut monitoring);
    }
    monitoring
}

/// A key's value, with JSON `null` meaning "not set" (older configs write `null` for defaults).
fn present<'v>(m: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    m.get(key).filter(|v| !v.is_null())
}

/// `path.key`, or `path["odd key"]` when the key has characters that would make the path ambiguous.
pub(crate) fn child(path: &str, key: &str) -> String {
    let simple = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (path.is_empty(), simple) {
        (true, true) => key.to_string(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!("{path}[{}]", Value::String(key.to_string())),
    }
}

fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "true/false",
        Value::Number(n) if n.is_f64() => "a number with a fraction or exponent",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A value shown inside a message: quoted, and cut short so one bad value cannot flood the output.
fn shown(s: &str) -> String {
    let cut: String = s.chars().take(60).collect();
    if cut.len() < s.len() {
        format!("{:?}…", cut)
    } else {
        format!("{cut:?}")
    }
}

fn seconds_text(s: f64) -> String {
    // 1e300 written out is 300 digits; past 1e15 s the exponent form reads better.
    if s.abs() >= 1e15 {
        format!("{s:e} s")
    } else {
        format!("{s} s")
    }
}

struct Walker<'p, 'c> {
    p: &'p mut Problems,
    ctx: &'c Context<'c>,
}

impl Walker<'_, '_> {
    fn wrong_type(&mut self, path: &str, expected: &str, found: &Value) {
        let mut hint = None;
        if let Value::String(s) = found
            && s.trim().parse::<f64>().is_ok()
            && expected.contains("number")
        {
            hint = Some("write the number without quotes".to_string());
        }
        self.p.error(
            path,
            "wrong_type",
            format!("expected {expected}, found {}", describe(found)),
            hint,
        );
    }

    fn object<'v>(&mut self, v: &'v Value, path: &str) -> Option<&'v Map<String, Value>> {
        match v {
            Value::Object(m) => Some(m),
            other => {
                self.wrong_type(path, "an object", other);
                None
            }
        }
    }

    fn unknown_keys(&mut self, m: &Map<String, Value>, path: &str, known: &[&str]) {
        for key in m.keys() {
            if known.contains(&key.as_str()) {
                continue;
            }
            let hint = nearest(key, known).map(|k| format!("did you mean '{k}'?"));
            self.p.warn(
                &child(path, key),
                "unknown_key",
                "unknown key, ignored",
                hint,
            );
        }
    }

    fn string(&mut self, m: &Map<String, Value>, key: &str, path: &str) -> Option<String> {
        match present(m, key)? {
            Value::String(s) => Some(s.clone()),
            other => {
                self.wrong_type(&child(path, key), "a string", other);
                None
            }
        }
    }

    fn boolean(&mut self, m: &Map<String, Value>, key: &str, path: &str, default: bool) -> bool {
        match present(m, key) {
            None => default,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                self.wrong_type(&child(path, key), "true or false", other);
                default
            }
        }
    }

    /// A time in (fractional) seconds: positive and at most 30 days.
    fn seconds(&mut self, m: &Map<String, Value>, key: &str, path: &str) -> Option<Duration> {
        let v = present(m, key)?;
        let at = child(path, key);
        let Some(s) = v.as_f64().filter(|_| v.is_number()) else {
            self.wrong_type(&at, "a number of seconds", v);
            return None;
        };
        if !s.is_finite() || s <= 0.0 {
            self.p.error(
                &at,
                "out_of_range",
                format!("{} is not a usable time", seconds_text(s)),
                Some("must be more than 0 seconds; fractions like 0.5 are fine".into()),
            );
            return None;
        }
        if s > MAX_SECONDS {
            self.p.error(
                &at,
                "out_of_range",
                format!("{} is more than 30 days", seconds_text(s)),
                Some("times are in seconds".into()),
            );
            return None;
        }
        Some(Duration::from_secs_f64(s))
    }

    /// A `loop.*` time, checked like every time but reported as a warning: only `jbr daemon`
    /// uses the loop, and it refuses to start without a usable value (`Loop::resolve`), while
    /// every other command ran with any value before the daemon existed and still does.
    fn loop_seconds(&mut self, m: &Map<String, Value>, key: &str) -> Option<Duration> {
        let before = self.p.list.len();
        let value = self.seconds(m, key, "loop");
        for p in &mut self.p.list[before..] {
            p.severity = super::Severity::Warning;
            p.hint = Some(match p.hint.take() {
                Some(h) => format!(
                    "{h}; jbr daemon refuses to start with it, other commands ignore loop.*"
                ),
                None => "jbr daemon refuses to start with it, other commands ignore loop.*".into(),
            });
        }
        value
    }

    fn older_tool_minimum(&mut self, path: &str, value: Duration, minimum: f64) {
        if value.as_secs_f64() < minimum {
            self.p.warn(
                path,
                "below_older_minimum",
                format!(
                    "{} is below the older tool's minimum of {}",
                    seconds_text(value.as_secs_f64()),
                    seconds_text(minimum)
                ),
                Some("fine for tests; too short for real backups".into()),
            );
        }
    }

    fn port(&mut self, m: &Map<String, Value>, key: &str, path: &str, default: u16) -> u16 {
        let Some(v) = present(m, key) else {
            return default;
        };
        let at = child(path, key);
        match v.as_i64().filter(|_| v.is_i64() || v.is_u64()) {
            Some(n) if (1..=65535).contains(&n) => n as u16,
            Some(n) => {
                self.p.error(
                    &at,
                    "out_of_range",
                    format!("port {n} is out of range"),
                    Some("1 to 65535".into()),
                );
                default
            }
            None if v.is_u64() => {
                self.p.error(
                    &at,
                    "out_of_range",
                    "port is out of range",
                    Some("1 to 65535".into()),
                );
                default
            }
            None => {
                self.wrong_type(&at, "a whole number (port)", v);
                default
            }
        }
    }

    fn whole(&mut self, m: &Map<String, Value>, key: &str, path: &str) -> Option<i64> {
        let v = present(m, key)?;
        match v.as_i64() {
            Some(n) => Some(n),
            None => {
                if v.is_u64() {
                    self.p.error(
                        &child(path, key),
                        "out_of_range",
                        "number is too large",
                        None,
                    );
                } else {
                    self.wrong_type(&child(path, key), "a whole number", v);
                }
                None
            }
        }
    }

    fn bounded(
        &mut self,
        m: &Map<String, Value>,
        key: &str,
        path: &str,
        range: std::ops::RangeInclusive<i64>,
        what: &str,
    ) -> Option<i64> {
        let n = self.whole(m, key, path)?;
        if range.contains(&n) {
            Some(n)
        } else {
            self.p.error(
                &child(path, key),
                "out_of_range",
                format!("{n} is out of range"),
                Some(format!("{what}: {} to {}", range.start(), range.end())),
            );
            None
        }
    }

    /// A file path; `~/` means $HOME (as ssh does for `-i`), relative means relative to the config.
    fn path(&mut self, m: &Map<String, Value>, key: &str, path: &str) -> Option<PathBuf> {
        let raw = self.string(m, key, path)?;
        if raw.is_empty() {
            self.p.error(
                &child(path, key),
                "empty",
                "empty path",
                Some("remove the key to use the default".into()),
            );
            return None;
        }
        if raw.contains('\0') {
            self.p.error(
                &child(path, key),
                "bad_chars",
                "path contains a NUL byte",
                None,
            );
            return None;
        }
        if let Some(rest) = raw.strip_prefix("~/") {
            match (self.ctx.env)("HOME") {
                Some(home) if !home.is_empty() => return Some(Path::new(&home).join(rest)),
                _ => {
                    self.p.error(
                        &child(path, key),
                        "unresolved_home",
                        "path starts with '~/' but HOME is not set",
                        Some("write an absolute path".into()),
                    );
                    return None;
                }
            }
        }
        Some(self.ctx.base_dir.join(raw))
    }

    /// A name or id that will appear in a remote command line or an ssh argument. A leading
    /// '-' is refused everywhere: ssh would read a host or user like that as an option
    /// (`-oProxyCommand=...`), and no real JetBackup id starts with one.
    fn identifier(
        &mut self,
        m: &Map<String, Value>,
        key: &str,
        path: &str,
        what: &str,
    ) -> Option<String> {
        let s = self.string(m, key, path)?;
        self.check_value_set(&child(path, key), &s, what, false)
            .then_some(s)
    }

    /// `leading_dash_ok: false` for values passed to ssh, where a leading '-' would be read as
    /// an option (`-oProxyCommand=...`).
    fn check_value_set(&mut self, at: &str, s: &str, what: &str, leading_dash_ok: bool) -> bool {
        if s.is_empty() {
            self.p.error(at, "empty", format!("empty {what}"), None);
            return false;
        }
        if !in_value_set(s) {
            self.p.error(
                at,
                "bad_chars",
                format!("{what} {} has characters outside the allowed set", shown(s)),
                Some(format!("allowed: {VALUE_SET}")),
            );
            return false;
        }
        if !leading_dash_ok && s.starts_with('-') {
            self.p.error(
                at,
                "bad_chars",
                format!("{what} {} starts with '-'", shown(s)),
                Some("ssh would read it as an option".into()),
            );
            return false;
        }
        true
    }

    /// Returns whether `servers` could be read as an object (if not, job→server checks are moot).
    fn servers(
        &mut self,
        v: &Value,
        top_key: &Option<PathBuf>,
        out: &mut BTreeMap<String, Server>,
    ) -> bool {
        let Some(m) = self.object(v, "servers") else {
            return false;
        };
        if m.is_empty() {
            self.p.error(
                "servers",
                "empty",
                "no servers configured",
                Some("add at least one server with \"host\"".into()),
            );
        }
        for (name, sv) in m {
            let path = child("servers", name);
            let name_ok = self.check_value_set(&path, name, "server name", true);
            if let Some(server) = self.server(name, sv, &path, top_key)
                && name_ok
            {
                out.insert(name.clone(), server);
            } else {
                // Keep the name so jobs naming it are not reported as "unknown server" too.
                out.entry(name.clone()).or_insert_with(|| placeholder(name));
            }
        }
        self.shared_destinations(m, out);
        true
    }

    /// Two servers with one `destination_id`: each server has its own destination object (the
    /// NAS as that server sees it), so equal ids are almost always a copy-paste slip, and the
    /// older tool warns about them too. In file order, naming the first server that has it.
    fn shared_destinations(&mut self, m: &Map<String, Value>, servers: &BTreeMap<String, Server>) {
        let mut first: BTreeMap<&str, &str> = BTreeMap::new();
        for name in m.keys() {
            let Some(id) = servers.get(name).and_then(|s| s.destination_id.as_deref()) else {
                continue;
            };
            match first.get(id) {
                Some(earlier) => self.p.warn(
                    &child(&child("servers", name), "destination_id"),
                    "shared_destination",
                    format!("same destination id as servers.{earlier} ({id})"),
                    Some(
                        "each server has its own destination object: take this server's id from its own JetBackup (then `jbr destinations` shows it exists there)"
                            .into(),
                    ),
                ),
                None => {
                    first.insert(id, name);
                }
            }
        }
    }

    fn server(
        &mut self,
        name: &str,
        v: &Value,
        path: &str,
        top_key: &Option<PathBuf>,
    ) -> Option<Server> {
        let m = self.object(v, path)?;
        self.unknown_keys(m, path, SERVER_KEYS);
        let before = self.p.list.len();
        let host = match present(m, "host") {
            Some(_) => self.identifier(m, "host", path, "host"),
            None => {
                self.p.error(
                    &child(path, "host"),
                    "missing_key",
                    "missing required key",
                    Some("hostname or IP address of the server".into()),
                );
                None
            }
        };
        let port = self.port(m, "port", path, defaults::PORT);
        let user = match present(m, "user") {
            Some(_) => self.identifier(m, "user", path, "user"),
            None => Some(defaults::USER.to_string()),
        };
        let ssh_key = self.path(m, "ssh_key", path).or_else(|| top_key.clone());
        let ssh_timeout = self
            .seconds(m, "ssh_timeout", path)
            .unwrap_or(Duration::from_secs_f64(defaults::SSH_TIMEOUT));
        let destination_id = present(m, "destination_id")
            .and_then(|_| self.identifier(m, "destination_id", path, "destination id"));
        let known_hosts = self.path(m, "known_hosts", path);
        let local_command = present(m, "local_command").and_then(|v| {
            let at = child(path, "local_command");
            self.argv(v, &at)
        });
        let has_errors = self.p.list[before..].iter().any(|p| p.is_error());
        (!has_errors).then(|| Server {
            name: name.to_string(),
            host: host.unwrap_or_default(),
            port,
            user: user.unwrap_or_default(),
            ssh_key,
            ssh_timeout,
            destination_id,
            known_hosts,
            local_command,
        })
    }

    fn argv(&mut self, v: &Value, at: &str) -> Option<Vec<String>> {
        let Value::Array(items) = v else {
            self.wrong_type(at, "a list of strings (program and arguments)", v);
            return None;
        };
        if items.is_empty() {
            self.p.error(
                at,
                "empty",
                "empty command",
                Some("give at least the program, e.g. [\"/usr/local/bin/jbr-sim\"]".into()),
            );
            return None;
        }
        let mut argv = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let at = format!("{at}[{i}]");
            match item {
                Value::String(s) if s.contains('\0') => {
                    self.p
                        .error(&at, "bad_chars", "argument contains a NUL byte", None);
                    return None;
                }
                Value::String(s) if i == 0 && s.is_empty() => {
                    self.p.error(&at, "empty", "empty program name", None);
                    return None;
                }
                Value::String(s) => argv.push(s.clone()),
                other => {
                    self.wrong_type(&at, "a string", other);
                    return None;
                }
            }
        }
        Some(argv)
    }

    fn jobs(&mut self, v: &Value, servers: Option<&[&str]>) -> Vec<Job> {
        let Value::Array(items) = v else {
            self.wrong_type("jobs", "a list", v);
            return Vec::new();
        };
        if items.is_empty() {
            self.p.warn(
                "jobs",
                "empty",
                "no jobs configured",
                Some("a run will have nothing to do".into()),
            );
        }
        let mut first_seen: HashMap<String, usize> = HashMap::new();
        let mut jobs = Vec::new();
        for (i, jv) in items.iter().enumerate() {
            let path = format!("jobs[{i}]");
            let before = self.p.list.len();
            let Some(m) = self.object(jv, &path) else {
                continue;
            };
            self.unknown_keys(m, &path, JOB_KEYS);
            let job_id = self.required_identifier(m, "job_id", &path, "job id");
            if let Some(id) = &job_id {
                if let Some(first) = first_seen.get(id) {
                    self.p.error(
                        &child(&path, "job_id"),
                        "duplicate",
                        format!("duplicate job id {}", shown(id)),
                        Some(format!("first at jobs[{first}]")),
                    );
                } else {
                    first_seen.insert(id.clone(), i);
                }
            }
            let server = self.required_identifier(m, "server", &path, "server name");
            if let (Some(s), Some(known)) = (&server, servers)
                && !known.contains(&s.as_str())
            {
                self.p.error(
                    &child(&path, "server"),
                    "unknown_server",
                    format!("{} is not a key of 'servers'", shown(s)),
                    Some(if known.is_empty() {
                        "no servers are configured".to_string()
                    } else {
                        format!("known: {}", known.join(", "))
                    }),
                );
            }
            let label = self.string(m, "label", &path).unwrap_or_default();
            let kind = self.job_type(m, &path);
            let priority = self.whole(m, "priority", &path).unwrap_or(0);
            let timeout = self.seconds(m, "timeout", &path);
            if let Some(t) = timeout {
                self.older_tool_minimum(
                    &child(&path, "timeout"),
                    t,
                    defaults::OLDER_TOOL_MIN_JOB_TIMEOUT,
                );
            }
            let enabled = self.boolean(m, "enabled", &path, true);
            let ok = !self.p.list[before..].iter().any(|p| p.is_error());
            if let (true, Some(job_id), Some(server)) = (ok, job_id, server) {
                jobs.push(Job {
                    job_id,
                    server,
                    label,
                    kind,
                    priority,
                    timeout,
                    enabled,
                });
            }
        }
        jobs
    }

    fn required_identifier(
        &mut self,
        m: &Map<String, Value>,
        key: &str,
        path: &str,
        what: &str,
    ) -> Option<String> {
        if present(m, key).is_none() {
            self.p.error(
                &child(path, key),
                "missing_key",
                "missing required key",
                None,
            );
            return None;
        }
        self.identifier(m, key, path, what)
    }

    fn job_type(&mut self, m: &Map<String, Value>, path: &str) -> JobType {
        let Some(t) = self.string(m, "type", path) else {
            return JobType::Other;
        };
        match t.as_str() {
            "accounts" => JobType::Accounts,
            "directories" => JobType::Directories,
            "database" => JobType::Database,
            "other" => JobType::Other,
            _ => {
                // Display only, so an unexpected value must not stop a migration.
                self.p.warn(
                    &child(path, "type"),
                    "unknown_value",
                    format!("unknown job type {}, shown as \"other\"", shown(&t)),
                    Some("accounts, directories, database or other".into()),
                );
                JobType::Other
            }
        }
    }

    /// `window_end` (`"HH:MM"`, local time) and `window_policy`.
    fn night_window(&mut self, m: &Map<String, Value>, o: &mut Orchestrator) {
        const P: &str = "orchestrator";
        if let Some(text) = self.string(m, "window_end", P) {
            match LocalTime::parse(text.trim()) {
                Some(t) => o.window_end = Some(t),
                None => self.p.error(
                    &child(P, "window_end"),
                    "invalid_value",
                    format!("{} is not a time of day", shown(&text)),
                    Some("\"HH:MM\" in the Pi's local time, 00:00 to 23:59, e.g. \"07:00\"".into()),
                ),
            }
        }
        if let Some(text) = self.string(m, "window_policy", P) {
            match text.as_str() {
                "start" => o.window_policy = WindowPolicy::Start,
                "fit" => o.window_policy = WindowPolicy::Fit,
                _ => self.p.error(
                    &child(P, "window_policy"),
                    "invalid_value",
                    format!("unknown window policy {}", shown(&text)),
                    Some("\"start\" (a job may start until window_end) or \"fit\" (it must also be expected to end by then)".into()),
                ),
            }
            if o.window_end.is_none() && present(m, "window_end").is_none() {
                self.p.warn(
                    &child(P, "window_policy"),
                    "no_effect",
                    "has no effect without orchestrator.window_end",
                    Some("set window_end (\"HH:MM\") or remove window_policy".into()),
                );
            }
        }
    }

    fn orchestrator(&mut self, v: &Value, o: &mut Orchestrator) {
        const P: &str = "orchestrator";
        let Some(m) = self.object(v, P) else {
            return;
        };
        self.unknown_keys(m, P, ORCHESTRATOR_KEYS);
        // Every wait, in file order, with the older tool's minimum where it had one (below
        // it is a warning, not an error).
        let waits: [(&str, &mut Duration, Option<f64>); 10] = [
            (
                "poll_interval",
                &mut o.poll_interval,
                Some(defaults::OLDER_TOOL_MIN_POLL_INTERVAL),
            ),
            ("startup_timeout", &mut o.startup_timeout, None),
            (
                "job_timeout",
                &mut o.job_timeout,
                Some(defaults::OLDER_TOOL_MIN_JOB_TIMEOUT),
            ),
            ("stop_timeout", &mut o.stop_timeout, None),
            ("stop_poll_interval", &mut o.stop_poll_interval, None),
            (
                "near_end_poll_interval",
                &mut o.near_end_poll_interval,
                None,
            ),
            ("lock_alert_after", &mut o.lock_alert_after, None),
            ("resume_within", &mut o.resume_within, None),
            ("call_timeout", &mut o.call_timeout, None),
            ("retry_backoff", &mut o.retry_backoff, None),
        ];
        for (key, slot, older_minimum) in waits {
            if let Some(d) = self.seconds(m, key, P) {
                if let Some(minimum) = older_minimum {
                    self.older_tool_minimum(&child(P, key), d, minimum);
                }
                *slot = d;
            }
        }
        o.disable_while_running =
            self.boolean(m, "disable_while_running", P, o.disable_while_running);
        self.night_window(m, o);
        if let Some(p) = self.path(m, "lock_file", P) {
            o.lock_file = p;
        }
        if let Some(p) = self.path(m, "log_file", P) {
            o.log_file = p;
        }
        if let Some(n) = self.bounded(m, "log_max_bytes", P, 1..=(1 << 40), "bytes") {
            o.log_max_bytes = n as u64;
        }
        if let Some(n) = self.bounded(m, "log_backup_count", P, 0..=1000, "old files kept") {
            if n == 0 {
                // Python's RotatingFileHandler never rotates with 0; jbr keeps the size bound.
                self.p.warn(
                    "orchestrator.log_backup_count",
                    "behaviour_change",
                    "0 keeps no old log: jbr empties the log when it reaches log_max_bytes",
                    Some(
                        "the older tool never rotated with 0; set 1 or more to keep history".into(),
                    ),
                );
            }
            o.log_backup_count = n as u32;
        }
        if let Some(p) = self.path(m, "state_file", P) {
            o.state_file = p;
        }
        o.journal_file = self
            .path(m, "journal_file", P)
            .unwrap_or_else(|| defaults::journal_for(&o.state_file));
        o.metrics_file = self.path(m, "metrics_file", P);
        for (a, b) in [
            ("lock_file", &o.lock_file),
            ("log_file", &o.log_file),
            ("state_file", &o.state_file),
            ("journal_file", &o.journal_file),
        ] {
            if o.metrics_file.as_ref() == Some(b) {
                self.p.error(
                    "orchestrator.metrics_file",
                    "conflict",
                    format!("same file as orchestrator.{a}"),
                    Some("each file needs its own path".into()),
                );
            }
        }
        for (a, b) in [
            ("lock_file", &o.lock_file),
            ("log_file", &o.log_file),
            ("state_file", &o.state_file),
        ] {
            if *b == o.journal_file {
                self.p.error(
                    "orchestrator.journal_file",
                    "conflict",
                    format!("same file as orchestrator.{a}"),
                    Some("each file needs its own path".into()),
                );
            }
        }
        if o.lock_file == o.state_file || o.lock_file == o.log_file || o.log_file == o.state_file {
            self.p.error(
                P,
                "conflict",
                "lock_file, log_file and state_file must be different files",
                None,
            );
        }
    }

    fn destination(&mut self, v: &Value, d: &mut DestinationPolicy) {
        const P: &str = "destination";
        let Some(m) = self.object(v, P) else {
            return;
        };
        self.unknown_keys(m, P, DESTINATION_KEYS);
        d.skip_if_disabled = self.boolean(m, "skip_if_disabled", P, d.skip_if_disabled);
        d.force_activate = self.boolean(m, "force_activate", P, d.force_activate);
        if let Some(v) = present(m, "alert_days_without_jobs") {
            let at = "destination.alert_days_without_jobs";
            match v.as_f64().filter(|_| v.is_number()) {
                Some(n) if (0.0..=3650.0).contains(&n) => d.alert_days_without_jobs = n,
                Some(n) => self.p.error(
                    at,
                    "out_of_range",
                    format!("{n} days is out of range"),
                    Some("0 (never alert) to 3650".into()),
                ),
                None => self.wrong_type(at, "a number of days", v),
            }
        }
    }

    fn notification(&mut self, v: &Value, n: &mut Notification) {
        const P: &str = "notification";
        let Some(m) = self.object(v, P) else {
            return;
        };
        self.unknown_keys(m, P, NOTIFICATION_KEYS);
        n.enabled = self.boolean(m, "enabled", P, n.enabled);
        if let Some(h) = self.string(m, "smtp_host", P) {
            n.smtp_host = h;
        }
        n.smtp_port = self.port(m, "smtp_port", P, n.smtp_port);
        n.smtp_tls = self.boolean(m, "smtp_tls", P, n.smtp_tls);
        if let Some(u) = self.string(m, "smtp_user", P) {
            n.smtp_user = u;
        }
        n.smtp_password = self.secret(m, n.enabled);
        if let Some(a) = self.string(m, "from_address", P) {
            n.from_address = a;
        }
        if let Some(v) = present(m, "to_addresses") {
            n.to_addresses = self.string_list(v, "notification.to_addresses");
        }
        n.on_failure = self.boolean(m, "on_failure", P, n.on_failure);
        n.on_timeout = self.boolean(m, "on_timeout", P, n.on_timeout);
        n.on_complete = self.boolean(m, "on_complete", P, n.on_complete);
        n.on_partial = self.boolean(m, "on_partial", P, n.on_partial);
        n.on_daemon_lifecycle = self.boolean(m, "on_daemon_lifecycle", P, n.on_daemon_lifecycle);
        if !n.enabled {
            return;
        }
        // Only checked when mail will be sent: a disabled section may hold placeholders.
        if n.smtp_host.trim().is_empty() {
            self.p.error(
                "notification.smtp_host",
                "empty",
                "empty SMTP host while notification is enabled",
                None,
            );
        }
        if n.from_address.is_empty() {
            self.p.error(
                "notification.from_address",
                if present(m, "from_address").is_some() {
                    "empty"
                } else {
                    "missing_key"
                },
                "no sender address while notification is enabled",
                Some("e.g. \"jbr@nas.example.com\"".into()),
            );
        } else if !is_mailbox(&n.from_address) {
            self.p.error(
                "notification.from_address",
                "bad_address",
                format!("{} is not an email address", shown(&n.from_address)),
                Some("user@example.com or Name <user@example.com>".into()),
            );
        }
        if n.to_addresses.is_empty() && !self.has_error_at("notification.to_addresses") {
            self.p.error(
                "notification.to_addresses",
                "empty",
                "no recipients while notification is enabled",
                Some("a list like [\"ops@example.com\"]".into()),
            );
        }
        for (i, a) in n.to_addresses.iter().enumerate() {
            if !is_mailbox(a) {
                let hint = if a.contains(',') || a.contains(';') {
                    "one address per string".to_string()
                } else {
                    "user@example.com or Name <user@example.com>".to_string()
                };
                self.p.error(
                    &format!("notification.to_addresses[{i}]"),
                    "bad_address",
                    format!("{} is not an email address", shown(a)),
                    Some(hint),
                );
            }
        }
    }

    fn nas(&mut self, v: &Value, nas: &mut Nas) {
        const P: &str = "nas";
        let Some(m) = self.object(v, P) else {
            return;
        };
        self.unknown_keys(m, P, NAS_KEYS);
        if let Some(p) = self.path(m, "diskstats_file", P) {
            nas.diskstats_file = p;
        }
        if let Some(raw) = self.string(m, "block_device", P) {
            // `/dev/md0` is what an operator types; diskstats says `md0`.
            let name = raw.trim().trim_start_matches("/dev/");
            let ok = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'!'));
            if ok {
                nas.block_device = Some(name.to_string());
                self.device_listed(name, &nas.diskstats_file);
            } else {
                self.p.error(
                    &child(P, "block_device"),
                    "invalid_value",
                    format!("{} is not a block device name", shown(&raw)),
                    Some("the name in /proc/diskstats, e.g. \"md0\" or \"sda\"".into()),
                );
            }
        }
        if let Some(n) = self.megabytes(m, "min_write_mb_s", P) {
            nas.min_write_mb_s = Some(n);
        }
        if let Some(n) = self.megabytes(m, "foreign_write_min_mb", P) {
            nas.foreign_write_min_mb = n;
        }
        if nas.block_device.is_none() {
            for key in ["min_write_mb_s", "foreign_write_min_mb"] {
                if present(m, key).is_some() {
                    self.p.warn(
                        &child(P, key),
                        "no_effect",
                        "has no effect without nas.block_device",
                        Some("set block_device (e.g. \"md0\") or remove it".into()),
                    );
                }
            }
        }
    }

    /// A positive number of MB (10^6 bytes) or MB/s.
    fn megabytes(&mut self, m: &Map<String, Value>, key: &str, path: &str) -> Option<f64> {
        let v = present(m, key)?;
        match v.as_f64().filter(|_| v.is_number()) {
            Some(n) if n.is_finite() && n > 0.0 && n < 1e9 => Some(n),
            Some(n) => {
                self.p.error(
                    &child(path, key),
                    "out_of_range",
                    format!("{n} is out of range"),
                    Some("a number of MB (10^6 bytes) or MB/s, more than 0".into()),
                );
                None
            }
            None => {
                self.wrong_type(&child(path, key), "a number", v);
                None
            }
        }
    }

    /// On the NAS itself, a device the counters file does not list is a typo: warn, naming
    /// the devices it does list (a workstation without that file says nothing).
    fn device_listed(&mut self, name: &str, file: &Path) {
        let Ok(text) = std::fs::read_to_string(file) else {
            return;
        };
        let devices = crate::nas::diskstats::devices(&text);
        if !devices.iter().any(|d| d == name) {
            let mut listed: Vec<&str> = devices.iter().map(String::as_str).collect();
            listed.truncate(12);
            self.p.warn(
                "nas.block_device",
                "not_found",
                format!(
                    "{} is not in {} (fine on a workstation; on the NAS, no figures without it)",
                    shown(name),
                    file.display()
                ),
                Some(format!("devices there: {}", listed.join(", "))),
            );
        }
    }

    fn monitoring(&mut self, v: &Value, mo: &mut Monitoring) {
        const P: &str = "monitoring";
        let Some(m) = self.object(v, P) else {
            return;
        };
        self.unknown_keys(m, P, MONITORING_KEYS);
        if let Some(d) = self.seconds(m, "healthcheck_timeout", P) {
            mo.healthcheck_timeout = d;
        }
        // The URL holds the check's ping key: no message here quotes it (see `PingUrl`).
        if let Some(raw) = self.string(m, "healthcheck_url", P) {
            match PingUrl::parse(&raw) {
                Ok(url) => {
                    let local = matches!(url.host(), "localhost" | "127.0.0.1" | "::1" | "[::1]");
                    if url.scheme() == super::Scheme::Http && !local {
                        // The path is the check's key: over plain HTTP anyone on the way reads
                        // it, and can then ping "success" for nights that failed.
                        self.p.warn(
                            "monitoring.healthcheck_url",
                            "insecure",
                            format!(
                                "{} is plain HTTP: the ping key crosses the network unencrypted",
                                url.redacted()
                            ),
                            Some("use https:// (a relay on localhost may stay http)".into()),
                        );
                    }
                    mo.healthcheck_url = Some(url);
                }
                Err(e) => self.p.error(
                    "monitoring.healthcheck_url",
                    "bad_url",
                    e.message,
                    Some(e.hint),
                ),
            }
        }
    }

    fn has_error_at(&self, path: &str) -> bool {
        self.p
            .list
            .iter()
            .any(|p| p.is_error() && p.json_path.starts_with(path))
    }

    fn string_list(&mut self, v: &Value, at: &str) -> Vec<String> {
        let items = match v {
            Value::Array(items) => items,
            Value::String(one) => {
                self.p.error(
                    at,
                    "wrong_type",
                    "expected a list of strings, found a string",
                    Some(format!("a list even for one: [{}]", shown(one))),
                );
                return Vec::new();
            }
            other => {
                self.wrong_type(at, "a list of strings", other);
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item {
                Value::String(s) => out.push(s.clone()),
                other => self.wrong_type(&format!("{at}[{i}]"), "a string", other),
            }
        }
        out
    }

    /// `smtp_password`: the value itself or `FROM_ENV:VAR`. Never echoed in any message.
    fn secret(&mut self, m: &Map<String, Value>, enabled: bool) -> Secret {
        const AT: &str = "notification.smtp_password";
        let raw = match present(m, "smtp_password") {
            None => return Secret::default(),
            Some(Value::String(s)) => s,
            Some(other) => {
                self.wrong_type(AT, "a string", other);
                return Secret::default();
            }
        };
        let Some(var) = raw.strip_prefix("FROM_ENV:") else {
            return Secret::new(raw.clone());
        };
        let var_ok = !var.is_empty()
            && !var.starts_with(|c: char| c.is_ascii_digit())
            && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !var_ok {
            self.p.error(
                AT,
                "bad_env_var",
                format!(
                    "FROM_ENV:{} is not a valid environment variable name",
                    shown(var)
                ),
                Some("FROM_ENV:NAME with letters, digits and '_'".into()),
            );
            return Secret::default();
        }
        match (self.ctx.env)(var) {
            Some(value) => {
                if value.is_empty() && enabled {
                    self.p.warn(
                        AT,
                        "empty_env_var",
                        format!("environment variable {var} is set but empty"),
                        Some("mail will be sent without a password".into()),
                    );
                }
                Secret::new(value)
            }
            None if enabled => {
                self.p.error(
                    AT,
                    "unset_env_var",
                    format!("environment variable {var} is not set"),
                    Some(format!(
                        "set it for jbr (e.g. EnvironmentFile= in the systemd unit), or run validate with it: {var}=... jbr validate"
                    )),
                );
                Secret::default()
            }
            // Mail is off: nothing reads the password, so an unset variable is no problem.
            None => Secret::default(),
        }
    }
}

/// Stands in for a server whose entry has errors, so its name still counts as known.
fn placeholder(name: &str) -> Server {
    Server {
        name: name.to_string(),
        host: String::new(),
        port: defaults::PORT,
        user: defaults::USER.to_string(),
        ssh_key: None,
        ssh_timeout: Duration::from_secs_f64(defaults::SSH_TIMEOUT),
        destination_id: None,
        known_hosts: None,
        local_command: None,
    }
}

/// `user@domain` or `Name <user@domain>`: what an SMTP client will accept as one mailbox.
pub(crate) fn is_mailbox(s: &str) -> bool {
    let s = s.trim();
    let addr = match (s.rfind('<'), s.ends_with('>')) {
        (Some(start), true) => &s[start + 1..s.len() - 1],
        (None, false) => s,
        _ => return false,
    };
    let Some((local, domain)) = addr.split_once('@') else {
        return false;
    };
    let bad = |c: char| c.is_whitespace() || matches!(c, '<' | '>' | ',' | ';' | '@' | '"');
    !local.is_empty()
        && !domain.is_empty()
        && !local.chars().any(bad)
        && !domain.chars().any(bad)
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailboxes() {
        assert!(is_mailbox("ops@example.com"));
        assert!(is_mailbox("Backup Ops <ops@example.com>"));
        assert!(is_mailbox("root@localhost"));
        assert!(!is_mailbox("ops@"));
        assert!(!is_mailbox("ops example.com"));
        assert!(!is_mailbox("a@example.com, b@example.com"));
        assert!(!is_mailbox("<ops@example.com"));
    }

    #[test]
    fn paths_quote_odd_names() {
        assert_eq!(child("servers", "web-01"), "servers.web-01");
        assert_eq!(child("servers", "web.01"), "servers[\"web.01\"]");
        assert_eq!(child("", "jobs"), "jobs");
    }
}
