//! The flock guard: two runs never overlap (exit 3).
//!
//! `flock(2)` via std's `File::try_lock` on `orchestrator.lock_file`. The kernel drops the lock
//! when the process dies, however it dies, so a crash never leaves a stale lock behind. The
//! holder writes down who it is (pid on the first line, as older jbr wrote it, then its host,
//! start time and command line) only so that a refused run, and `jbr status`, can name it:
//! "busy" alone sends an operator hunting through `ps` at 7 in the morning.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::exit::Exit;
use crate::report::time::unix_now;

/// Held for the whole run; the lock goes with it.
#[derive(Debug)]
pub struct LockGuard {
    file: File,
    path: PathBuf,
}

impl LockGuard {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        // Clear our pid so a reader never blames a process that is gone; the kernel releases
        // the lock itself when the file closes.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

/// Who holds the lock, as the holder wrote it down; each part may be missing (an older jbr wrote
/// only its pid, an outside `flock(1)` writes nothing).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Holder {
    pub pid: Option<u32>,
    pub host: Option<String>,
    /// Unix seconds.
    pub started: Option<f64>,
    pub command: Option<String>,
}

impl Holder {
    /// This process, now.
    fn this_process() -> Holder {
        // args_os: a config path need not be UTF-8, and this must never panic.
        let command = std::env::args_os()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
            .replace(['\n', '\r'], " ");
        Holder {
            pid: Some(std::process::id()),
            host: hostname::get()
                .ok()
                .map(|h| h.to_string_lossy().into_owned()),
            started: Some(unix_now()),
            command: Some(command),
        }
    }

    /// The file's text: the pid alone on the first line, then `key value` lines.
    fn to_text(&self) -> String {
        let mut t = self.pid.map(|p| p.to_string()).unwrap_or_default();
        t.push('\n');
        if let Some(h) = &self.host {
            t.push_str(&format!("host {h}\n"));
        }
        if let Some(s) = self.started {
            t.push_str(&format!("started {s:.3}\n"));
        }
        if let Some(c) = &self.command {
            t.push_str(&format!("command {c}\n"));
        }
        t
    }

    fn parse(text: &str) -> Holder {
        let mut lines = text.lines();
        let mut h = Holder {
            pid: lines.next().and_then(|l| l.trim().parse().ok()),
            ..Holder::default()
        };
        for line in lines {
            let (key, value) = line.split_once(' ').unwrap_or((line, ""));
            match key {
                "host" => h.host = Some(value.to_string()),
                "started" => h.started = value.parse().ok().filter(|s: &f64| s.is_finite()),
                "command" => h.command = Some(value.to_string()),
                _ => {}
            }
        }
        h
    }

    /// How long it has held the lock as of `now` (Unix seconds).
    pub fn held_for(&self, now: f64) -> Option<f64> {
        self.started.map(|s| (now - s).max(0.0))
    }

    /// `pid 4242 on nas, since 2026-12-02T01:00:00Z (4h10m00s): jbr -c /etc/jbr/config.json run`
    pub fn describe(&self, now: f64) -> String {
        let mut d = match self.pid {
            Some(pid) => format!("pid {pid}"),
            None => "pid unknown".to_string(),
        };
        if let Some(h) = &self.host {
            d.push_str(&format!(" on {h}"));
        }
        if let (Some(s), Some(held)) = (self.started, self.held_for(now)) {
            d.push_str(&format!(
                ", since {} ({})",
                crate::report::time::iso_utc(s),
                crate::report::time::duration(held.floor())
            ));
        }
        if let Some(c) = self.command.as_deref().filter(|c| !c.is_empty()) {
            d.push_str(&format!(": {c}"));
        }
        d
    }
}

/// The holder the lock file names, without touching the lock: for `jbr status`. `None` when the
/// file is missing or empty (no run, or one that ended and cleared it); the pid may be of a
/// process that died without clearing it (`kill -9`).
pub fn read_holder(path: &Path) -> Option<Holder> {
    let text = std::fs::read_to_string(path).ok()?;
    (!text.trim().is_empty()).then(|| Holder::parse(&text))
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{}: another run holds the lock ({described}); nothing was changed", path.display())]
    Held {
        path: PathBuf,
        holder: Holder,
        described: String,
    },
    #[error("{}: cannot take the lock: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl LockError {
    pub fn exit(&self) -> Exit {
        match self {
            LockError::Held { .. } => Exit::Locked,
            // A lock we cannot even open is a setup problem (directory, permissions).
            LockError::Io { .. } => Exit::Usage,
        }
    }
}

/// Take the lock or say who holds it. Never waits.
pub fn acquire(path: &Path) -> Result<LockGuard, LockError> {
    let io = |source| LockError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    // Not truncated on open: the holder's pid must survive a loser's open.
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            let holder = Holder::parse(&text);
            return Err(LockError::Held {
                path: path.to_path_buf(),
                described: holder.describe(unix_now()),
                holder,
            });
        }
        Err(TryLockError::Error(e)) => return Err(io(e)),
    }
    file.set_len(0).map_err(io)?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    file.write_all(Holder::this_process().to_text().as_bytes())
        .map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(LockGuard {
        file,
        path: path.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_holder_reads_back_what_it_wrote_and_says_who_it_is() {
        let h = Holder {
            pid: Some(4242),
            host: Some("nas".into()),
            started: Some(1_796_000_000.0),
            command: Some("jbr -c /etc/jbr/config.json run".into()),
        };
        assert_eq!(Holder::parse(&h.to_text()), h);
        assert_eq!(
            h.describe(1_796_000_000.0 + 15_000.4),
            "pid 4242 on nas, since 2026-11-30T00:53:20Z (4h10m00s): jbr -c /etc/jbr/config.json run"
        );
    }

    #[test]
    fn an_older_jbrs_pid_alone_or_nothing_still_reads() {
        assert_eq!(Holder::parse("4242\n").describe(0.0), "pid 4242");
        assert_eq!(Holder::parse("").describe(0.0), "pid unknown");
        assert_eq!(Holder::parse("junk\nstarted x\n").started, None);
    }
}
