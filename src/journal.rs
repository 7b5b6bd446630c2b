//! Writes each change down before making it; replays on start.
//!
//! Journal first: after a power cut or SIGKILL it is our only proof that jbr enabled a job or a
//! destination, or triggered a job that may still be writing to the NAS. Every record is one
//! JSON line, appended and fsynced *before* the change it announces is sent. A change is "open"
//! until a closing record says it was undone (`restored`) or ended (`ended`).
//!
//! Crash safety: a record is appended whole or, if the machine died mid-write, leaves a torn last
//! line. A torn last line was never fsynced, so its change was never sent: it is dropped (and
//! cut off before the next append). Garbage *before* the last line is not a crash pattern; the
//! journal is then refused with its line number rather than guessed at. Compaction rewrites only
//! the open records through a temp file, fsync, rename, fsync of the directory.
//!
//! This module only keeps the file. What to do with open changes on the next start (follow a job
//! that may still run, then disable what jbr enabled) is `orchestrator::recover`.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// What a record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Destination,
    Job,
}

/// One journal line. `seq`, `run` and `time` are in the envelope (`Record`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// About to enable `id`; `previous_disabled` is what to restore.
    Enable {
        server: String,
        what: Target,
        id: String,
        previous_disabled: bool,
        /// A job's newest queue group before the enable (`""`: it had none): a replay names
        /// the runs the server's scheduler made of a job left enabled by a run that died
        /// before its trigger. Absent for destinations and in older journals.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<String>,
    },
    /// About to trigger job `id`. Open until `Ended`: it may be writing to the NAS.
    Trigger {
        server: String,
        id: String,
        /// The newest queue group of the job before the trigger (`""`: it had none), so a
        /// replay can tell which runs came after it even when the trigger's own group was
        /// never journaled. Absent in older journals.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<String>,
    },
    /// The queue group the trigger produced, once known: lets a replay follow exactly it.
    Group {
        server: String,
        id: String,
        group: String,
    },
    /// Job `id`'s run reached a final state (or was confirmed stopped).
    Ended { server: String, id: String },
    /// About to disable `id` again (informational; the `Enable` stays open until `Restored`).
    Disable {
        server: String,
        what: Target,
        id: String,
    },
    /// `id` was read back in its previous state: closes the `Enable`.
    Restored {
        server: String,
        what: Target,
        id: String,
    },
    /// Job `id` was backed up tonight and verified good: in run `in_run` (which started at
    /// `run_started`, Unix seconds), by jbr's trigger or by a run it followed to its end. Opens
    /// nothing: a run that replays an interrupted one does not trigger it again
    /// (`orchestrator.resume_within`), and reports `record` instead. Kept by the replay's
    /// compaction, dropped by a run that ends (the night is over).
    Done {
        server: String,
        id: String,
        in_run: String,
        run_started: f64,
        record: Box<crate::report::JobRecord>,
    },
    /// Server `server` aborted a run whose job jbr disabled while it wrote:
    /// `orchestrator.disable_while_running` is off there for good (`why`). Journaled because
    /// the state file is written only when a run ends, and a run that dies before must not let
    /// the next one try it again (a second aborted backup). Opens nothing; kept like `Done`.
    NoDisableWhileRunning { server: String, why: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub seq: u64,
    /// The run that wrote it.
    pub run: String,
    /// Wall clock, Unix seconds.
    pub time: f64,
    #[serde(flatten)]
    pub op: Op,
}

/// A change made by some run and not yet undone.
#[derive(Debug, Clone, PartialEq)]
pub enum OpenChange {
    /// jbr enabled this; restore `previous_disabled`.
    Enabled {
        server: String,
        what: Target,
        id: String,
        previous_disabled: bool,
        /// See `Op::Enable::since`.
        since: Option<String>,
        run: String,
        seq: u64,
    },
    /// jbr triggered this job and never saw it end; `group` if it was found.
    Triggered {
        server: String,
        id: String,
        group: Option<String>,
        /// See `Op::Trigger::since`.
        since: Option<String>,
        run: String,
        seq: u64,
    },
}

/// A trigger an earlier run journaled and saw end (see [`Journal::finished_triggers`]).
#[derive(Debug, Clone, PartialEq)]
pub struct FinishedTrigger {
    pub server: String,
    pub id: String,
    pub group: Option<String>,
    /// The trigger's `since`: the job's newest group before it.
    pub since: Option<String>,
    pub run: String,
    pub ended: bool,
}

impl OpenChange {
    pub fn seq(&self) -> u64 {
        match self {
            OpenChange::Enabled { seq, .. } | OpenChange::Triggered { seq, .. } => *seq,
        }
    }
    pub fn server(&self) -> &str {
        match self {
            OpenChange::Enabled { server, .. } | OpenChange::Triggered { server, .. } => server,
        }
    }
}

/// The changes still open after `records`, in journal order.
pub fn open_changes(records: &[Record]) -> Vec<OpenChange> {
    let mut open: Vec<OpenChange> = Vec::new();
    for r in records {
        match &r.op {
            Op::Enable {
                server,
                what,
                id,
                previous_disabled,
                since,
            } => {
                // Enabling the same thing twice keeps the oldest record: its previous state is
                // the one from before jbr touched it.
                let already = open.iter().any(|c| {
                    matches!(c, OpenChange::Enabled { server: s, what: w, id: i, .. }
                        if s == server && w == what && i == id)
                });
                if !already {
                    open.push(OpenChange::Enabled {
                        server: server.clone(),
                        what: *what,
                        id: id.clone(),
                        previous_disabled: *previous_disabled,
                        since: since.clone(),
                        run: r.run.clone(),
                        seq: r.seq,
                    });
                }
            }
            Op::Trigger { server, id, since } => {
                open.retain(|c| {
                    !matches!(c, OpenChange::Triggered { server: s, id: i, .. } if s == server && i == id)
                });
                open.push(OpenChange::Triggered {
                    server: server.clone(),
                    id: id.clone(),
                    group: None,
                    since: since.clone(),
                    run: r.run.clone(),
                    seq: r.seq,
                });
            }
            Op::Group { server, id, group } => {
                for c in open.iter_mut() {
                    if let OpenChange::Triggered {
                        server: s,
                        id: i,
                        group: g,
                        ..
                    } = c
                        && s == server
                        && i == id
                    {
                        *g = Some(group.clone());
                    }
                }
            }
            Op::Ended { server, id } => open.retain(|c| {
                !matches!(c, OpenChange::Triggered { server: s, id: i, .. } if s == server && i == id)
            }),
            Op::Disable { .. } | Op::Done { .. } | Op::NoDisableWhileRunning { .. } => {}
            Op::Restored { server, what, id } => open.retain(|c| {
                !matches!(c, OpenChange::Enabled { server: s, what: w, id: i, .. }
                    if s == server && w == what && i == id)
            }),
        }
    }
    open
}

/// A job an earlier run backed up and verified good tonight (see [`Op::Done`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Completed {
    pub server: String,
    pub id: String,
    /// The run it was completed in (the interrupted run), and when that run started.
    pub in_run: String,
    pub run_started: f64,
    pub record: crate::report::JobRecord,
}

/// The `Done` records of `records`, newest last; one per job (the newest wins).
pub fn completed(records: &[Record]) -> Vec<Completed> {
    let mut out: Vec<Completed> = Vec::new();
    for r in records {
        if let Op::Done {
            server,
            id,
            in_run,
            run_started,
            record,
        } = &r.op
        {
            out.retain(|c| !(&c.server == server && &c.id == id));
            out.push(Completed {
                server: server.clone(),
                id: id.clone(),
                in_run: in_run.clone(),
                run_started: *run_started,
                record: (**record).clone(),
            });
        }
    }
    out
}

/// Back to the records that reproduce `open` (for compaction).
fn records_for(open: &[OpenChange], records: &[Record]) -> Vec<Record> {
    let mut out = Vec::new();
    for change in open {
        let Some(first) = records.iter().find(|r| r.seq == change.seq()) else {
            continue;
        };
        out.push(first.clone());
        if let OpenChange::Triggered {
            server,
            id,
            group: Some(group),
            ..
        } = change
            && let Some(g) = records.iter().rev().find(|r| {
                matches!(&r.op, Op::Group { server: s, id: i, group: gr } if s == server && i == id && gr == group)
            })
        {
            out.push(g.clone());
        }
    }
    out.sort_by_key(|r| r.seq);
    out
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "journal {}: line {line}: not a journal record ({problem}); it may list changes jbr made: check the servers by hand, then move the file away",
        path.display()
    )]
    Corrupt {
        path: PathBuf,
        line: usize,
        problem: String,
    },
}

/// What was on disk.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub records: Vec<Record>,
    /// Bytes of whole, parsed lines (the torn tail starts here).
    pub good_len: u64,
    /// A torn last line was dropped.
    pub torn_tail: bool,
}

/// Parse a journal's bytes. A missing file is an empty journal.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Loaded, JournalError> {
    let mut loaded = Loaded::default();
    let mut pos = 0usize;
    let mut line_no = 0usize;
    while pos < bytes.len() {
        line_no += 1;
        let rest = &bytes[pos..];
        let (line, complete) = match rest.iter().position(|b| *b == b'\n') {
            Some(n) => (&rest[..n], true),
            None => (rest, false),
        };
        let next = pos + line.len() + usize::from(complete);
        let is_last = next >= bytes.len();
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            pos = next;
            if complete {
                loaded.good_len = pos as u64;
            }
            continue;
        }
        match (serde_json::from_slice::<Record>(line), complete) {
            // Only a newline-terminated line was written whole.
            (Ok(record), true) => {
                loaded.records.push(record);
                loaded.good_len = next as u64;
            }
            // Whatever the last line holds, it was never fsynced: its change was never sent.
            _ if is_last => loaded.torn_tail = true,
            (Err(e), _) => {
                return Err(JournalError::Corrupt {
                    path: path.to_path_buf(),
                    line: line_no,
                    problem: e.to_string(),
                });
            }
            // An unterminated line is always the last one (handled above).
            (Ok(_), false) => loaded.torn_tail = true,
        }
        pos = next;
    }
    Ok(loaded)
}

/// Read a journal file without opening it for writing (for `status` and tests).
pub fn read(path: &Path) -> Result<Loaded, JournalError> {
    match std::fs::read(path) {
        Ok(bytes) => parse(path, &bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Loaded::default()),
        Err(source) => Err(JournalError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The open journal of this run. Only one process has it open: the caller holds the lock.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
    run: String,
    records: Vec<Record>,
    next_seq: u64,
    /// The run's clock, once it has one (see [`Journal::use_clock`]); else the system's.
    clock: Option<crate::orchestrator::clock::Clock>,
}

impl Journal {
    /// Open (or create) the journal for run `run`, cutting off a torn last line.
    /// `inherited()` then lists what earlier runs left open.
    pub fn open(path: &Path, run: &str) -> Result<Journal, JournalError> {
        let io = |source| JournalError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io)?;
        let loaded = parse(path, &bytes)?;
        if loaded.good_len < bytes.len() as u64 {
            // The torn tail would otherwise glue itself to our first record.
            file.set_len(loaded.good_len).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        file.seek(SeekFrom::End(0)).map_err(io)?;
        let next_seq = loaded.records.iter().map(|r| r.seq).max().unwrap_or(0) + 1;
        Ok(Journal {
            path: path.to_path_buf(),
            file,
            run: run.to_string(),
            records: loaded.records,
            next_seq,
            clock: None,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Time records by the run's clock, so they compare with the run record's times (the same
    /// wall clock in production; a simulated night's clock in the demo, the soak and tests).
    pub fn use_clock(&mut self, clock: crate::orchestrator::clock::Clock) {
        self.clock = Some(clock);
    }

    pub fn run_id(&self) -> &str {
        &self.run
    }

    /// Every change not yet undone, from earlier runs and this one, in journal order.
    pub fn open_changes(&self) -> Vec<OpenChange> {
        open_changes(&self.records)
    }

    /// Triggers of *other* runs that were seen to their end (closed by `Ended`): an
    /// interrupted run's finished jobs, which the replaying run would otherwise trigger again
    /// without a word. Job id, server, its group when journaled, and the run.
    pub fn finished_triggers(&self) -> Vec<FinishedTrigger> {
        let mut out: Vec<FinishedTrigger> = Vec::new();
        for r in self.records.iter().filter(|r| r.run != self.run) {
            match &r.op {
                Op::Trigger { server, id, since } => {
                    // Without `since` it re-opens a run jbr only followed (a late or scheduler
                    // run of a job it already triggered): one entry per job and run.
                    let known = out
                        .iter()
                        .any(|t| &t.server == server && &t.id == id && t.run == r.run);
                    if since.is_none() && known {
                        continue;
                    }
                    out.push(FinishedTrigger {
                        server: server.clone(),
                        id: id.clone(),
                        group: None,
                        since: since.clone(),
                        run: r.run.clone(),
                        ended: false,
                    })
                }
                Op::Group { server, id, group } => {
                    if let Some(t) = out
                        .iter_mut()
                        .rev()
                        .find(|t| &t.server == server && &t.id == id && t.run == r.run)
                    {
                        // The trigger's own group: later ones are runs it only followed.
                        t.group.get_or_insert_with(|| group.clone());
                    }
                }
                Op::Ended { server, id } => {
                    if let Some(t) = out
                        .iter_mut()
                        .rev()
                        .find(|t| &t.server == server && &t.id == id && t.run == r.run)
                    {
                        t.ended = true;
                    }
                }
                _ => {}
            }
        }
        out.retain(|t| t.ended);
        out
    }

    /// Append `op` and fsync. Returns only once the record is on disk: the change it announces
    /// may be sent after that, never before.
    pub fn write(&mut self, op: Op) -> Result<u64, JournalError> {
        let record = Record {
            seq: self.next_seq,
            run: self.run.clone(),
            time: self
                .clock
                .map_or_else(crate::report::time::unix_now, |c| c.now()),
            op,
        };
        let mut line = serde_json::to_vec(&record).map_err(|e| JournalError::Io {
            path: self.path.clone(),
            source: std::io::Error::other(e),
        })?;
        line.push(b'\n');
        let io = |source| JournalError::Io {
            path: self.path.clone(),
            source,
        };
        self.file.write_all(&line).map_err(io)?;
        self.file.sync_data().map_err(io)?;
        self.next_seq += 1;
        self.records.push(record);
        Ok(self.next_seq - 1)
    }

    /// Jobs completed tonight by earlier runs (their `Done` records), one per job.
    pub fn completed(&self) -> Vec<Completed> {
        completed(&self.records)
    }

    /// When run `run` wrote its first record: as close to its start as the journal knows
    /// (nothing is journaled before its first change).
    pub fn first_time(&self, run: &str) -> Option<f64> {
        self.records
            .iter()
            .filter(|r| r.run == run)
            .map(|r| r.time)
            .reduce(f64::min)
    }

    /// Rewrite the file with only the open records (atomically), at the end of a run: the night
    /// is over, so what it completed is dropped too. With nothing open the file becomes empty.
    pub fn compact(&mut self) -> Result<(), JournalError> {
        self.rewrite(records_for(&self.open_changes(), &self.records))
    }

    /// Per server, why an interrupted run stopped using `disable_while_running` there (see
    /// [`Op::NoDisableWhileRunning`]), with the run that found it.
    pub fn no_disable_while_running(&self) -> Vec<(String, String, String)> {
        self.records
            .iter()
            .filter_map(|r| match &r.op {
                Op::NoDisableWhileRunning { server, why } => {
                    Some((server.clone(), why.clone(), r.run.clone()))
                }
                _ => None,
            })
            .collect()
    }

    /// The replay's compaction: the open records, every `Done` and every
    /// `NoDisableWhileRunning`, so a run that dies too still leaves them to the next one.
    pub fn compact_keeping_completed(&mut self) -> Result<(), JournalError> {
        let mut keep = records_for(&self.open_changes(), &self.records);
        keep.extend(
            self.records
                .iter()
                .filter(|r| matches!(r.op, Op::Done { .. } | Op::NoDisableWhileRunning { .. }))
                .cloned(),
        );
        keep.sort_by_key(|r| r.seq);
        self.rewrite(keep)
    }

    fn rewrite(&mut self, keep: Vec<Record>) -> Result<(), JournalError> {
        let mut bytes = Vec::new();
        for r in &keep {
            // Serializing our own plain struct cannot fail (no maps with non-string keys).
            if let Ok(mut line) = serde_json::to_vec(r) {
                line.push(b'\n');
                bytes.extend_from_slice(&line);
            }
        }
        crate::report::state::write_atomic(&self.path, &bytes).map_err(|source| {
            JournalError::Io {
                path: self.path.clone(),
                source,
            }
        })?;
        let io = |source| JournalError::Io {
            path: self.path.clone(),
            source,
        };
        self.file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&self.path)
            .map_err(io)?;
        self.records = keep;
        Ok(())
    }
}
