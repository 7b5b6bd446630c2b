//! The flock guard: two runs never overlap (exit 3).
//!
//! `flock(2)` via std's `File::try_lock` on `orchestrator.lock_file`. The kernel drops the lock
//! when the process dies, however it dies, so a crash never leaves a stale lock behind. The
//! holder's pid is written into the file only so the refusal can name it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::exit::Exit;

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

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{}: another run holds the lock ({holder}); nothing was changed", path.display())]
    Held { path: PathBuf, holder: String },
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
            let holder = match text.trim().parse::<u32>() {
                Ok(pid) => format!("pid {pid}"),
                Err(_) => "pid unknown".to_string(),
            };
            return Err(LockError::Held {
                path: path.to_path_buf(),
                holder,
            });
        }
        Err(TryLockError::Error(e)) => return Err(io(e)),
    }
    file.set_len(0).map_err(io)?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    writeln!(file, "{}", std::process::id()).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(LockGuard {
        file,
        path: path.to_path_buf(),
    })
}
