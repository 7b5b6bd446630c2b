//! Typed values the API returns, and its error.

use crate::transport::TransportError;

/// A point in time from the server (ISO-8601 with offset), parsed to UTC epoch seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Timestamp {
    /// As the server sent it.
    pub raw: String,
    /// Seconds since the Unix epoch, UTC; `None` when `raw` did not parse.
    pub epoch: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BackupJob {
    pub id: String,
    pub name: String,
    /// `disabled` by the truthy rule.
    pub disabled: bool,
    /// Whether the object gave `disabled` at all (not missing, not `null`): only then does a
    /// brief answer (a list's entry, a trigger's) say the job is enabled, rather than merely
    /// not say it is disabled.
    pub disabled_stated: bool,
    /// `running` by the truthy rule.
    pub running: bool,
    /// Destination ids the job writes to (from `destination[]`, ids or objects with `_id`).
    pub destinations: Vec<String>,
    pub last_run: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Destination {
    pub id: String,
    pub name: String,
    /// `disabled` by the truthy rule.
    pub disabled: bool,
    pub kind: String,
}

/// Which call enables/disables a destination on a given server (safe rule: try one, read back,
/// fall back to the other, remember per server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DestinationMethod {
    /// `manageDestinationState _id disabled` (the older tool's; undocumented).
    State,
    /// `manageDestination _id action=modify disabled` (documented).
    Modify,
}

impl DestinationMethod {
    pub fn function(self) -> &'static str {
        match self {
            DestinationMethod::State => "manageDestinationState",
            DestinationMethod::Modify => "manageDestination",
        }
    }
    pub fn other(self) -> DestinationMethod {
        match self {
            DestinationMethod::State => DestinationMethod::Modify,
            DestinationMethod::Modify => DestinationMethod::State,
        }
    }
}

/// A queue group status code, kept raw. Safe rule: < 100 active, 100 ok, > 100 finished-not-clean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueStatus(pub i64);

impl QueueStatus {
    pub const PENDING: QueueStatus = QueueStatus(1);
    pub const PROCESSING: QueueStatus = QueueStatus(2);
    pub const COMPLETED: QueueStatus = QueueStatus(100);

    pub fn raw(self) -> i64 {
        self.0
    }
    pub fn is_active(self) -> bool {
        self.0 < 100
    }
    pub fn is_final(self) -> bool {
        self.0 >= 100
    }
    pub fn is_success(self) -> bool {
        self.0 == 100
    }
    /// 103 (JetApps' scripts) or 201 (the older tool): what a stopped group ends as.
    pub fn is_aborted(self) -> bool {
        matches!(self.0, 103 | 201)
    }
    /// A best-known name for the code (sources disagree above 100; see jetbackup5-api.md).
    pub fn name(self) -> &'static str {
        match self.0 {
            1 => "pending",
            2 => "processing",
            n if n < 100 => "running",
            100 => "completed",
            101 => "cancelled/warnings",
            102 => "failed/partial",
            103 => "aborted",
            104 => "failed",
            200 => "failed",
            201 => "aborted",
            _ => "not clean",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct QueueGroup {
    pub id: String,
    /// `data._id`: the backup job this group runs.
    pub job_id: Option<String>,
    pub status: QueueStatus,
    pub created: Option<Timestamp>,
    pub started: Option<Timestamp>,
    /// Empty while active.
    pub ended: Option<Timestamp>,
    pub log_id: Option<String>,
    pub items: u64,
    pub items_completed: u64,
    pub progress_percent: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QueueItem {
    pub id: String,
    pub name: String,
    pub status: QueueStatus,
    pub message: String,
}

/// Log status is a different family from queue status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogStatus(pub i64);

impl LogStatus {
    pub fn name(self) -> &'static str {
        match self.0 {
            1 => "completed",
            2 => "failed",
            3 => "aborted",
            4 => "partially completed",
            5 => "never finished",
            6 => "processing",
            _ => "unknown",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    pub id: String,
    pub status: LogStatus,
    pub start_time: Option<Timestamp>,
    pub end_time: Option<Timestamp>,
    /// `info.ID` when present: the job the log belongs to.
    pub job_id: Option<String>,
    /// Log `type` when present: 1 backup, 6 backup on demand (jetbackup5-api.md), …
    pub kind: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LogItem {
    pub id: String,
    pub status: QueueStatus,
    pub message: String,
}

/// Every error names the server and the function.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// No usable answer: transport failure, non-zero exit, empty output.
    #[error("{function}: {source}")]
    Transport {
        function: &'static str,
        #[source]
        source: TransportError,
    },
    /// The server's `jetbackup5api` exited non-zero or printed nothing.
    #[error("server {server}: {function}: {detail}")]
    BadExit {
        server: String,
        function: &'static str,
        detail: String,
    },
    /// Output that is not JSON (quoted, at most 200 bytes).
    #[error("server {server}: {function}: output is not JSON: {snippet:?}")]
    NotJson {
        server: String,
        function: &'static str,
        snippet: String,
    },
    /// `success: 0` with the server's message.
    #[error("server {server}: {function}: success=0 {message:?}")]
    Refused {
        server: String,
        function: &'static str,
        message: String,
    },
    /// JSON of the wrong shape, naming the field.
    #[error("server {server}: {function}: unexpected reply: {field}: {problem}")]
    Shape {
        server: String,
        function: &'static str,
        field: String,
        problem: String,
    },
    /// A value outside the contract's `-D` grammar; never sent.
    #[error("server {server}: {function}: refusing to send {key}={value:?}: {why}")]
    BadValue {
        server: String,
        function: &'static str,
        key: String,
        value: String,
        why: String,
    },
}

impl ApiError {
    /// Transient: transport failure, non-JSON output, non-zero exit — and `success: 0` on a
    /// read. Never taken as "the job ended"; the orchestrator retries with backoff.
    pub fn is_transient(&self) -> bool {
        match self {
            ApiError::Transport { source, .. } => source.is_retryable(),
            ApiError::BadExit { .. } | ApiError::NotJson { .. } => true,
            ApiError::Refused { .. } | ApiError::Shape { .. } | ApiError::BadValue { .. } => false,
        }
    }
}
