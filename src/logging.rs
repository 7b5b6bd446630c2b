//! tracing to stderr (journald-friendly) and to a size-rotated log file.
//!
//! Stderr is set up first, by `init`, so even config errors are logged. The file comes later,
//! from `attach_file`, once a command has a valid config naming it: until then file events go
//! nowhere. Rotation is by size, `log_max_bytes` × `log_backup_count`, like the older tool's
//! Python `RotatingFileHandler` (tracing-appender only rotates by time).

use std::fs::{File, OpenOptions};
use std::io::{self, IsTerminal, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::prelude::*;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::config::Orchestrator;

/// How loud stderr is: `-q` warnings and errors, default info, `-v` debug, `-vv` trace.
/// `RUST_LOG`, when set, overrides both stderr and the file.
#[derive(Debug, Clone, Copy, Default)]
pub struct Settings {
    pub verbose: u8,
    pub quiet: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("cannot open log file {}: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("logging is already initialised in this process")]
    AlreadyInitialised,
}

/// Keep it alive until the process ends: dropping it flushes the log file.
#[must_use = "keep the guard in main: dropping it flushes the log file"]
pub struct LogGuard(());

impl Drop for LogGuard {
    fn drop(&mut self) {
        if let Some(f) = sink().as_mut() {
            let _ = f.flush();
        }
    }
}

/// Install the global subscriber: stderr now, the file once `attach_file` is called.
pub fn init(settings: Settings) -> Result<LogGuard, LogError> {
    let rust_log = std::env::var("RUST_LOG")
        .ok()
        .filter(|s| !s.trim().is_empty());
    let stderr_level = match (settings.quiet, settings.verbose) {
        (true, _) => "warn",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    // The file keeps at least info whatever -q says: it is the record ops read the next morning.
    let file_level = if settings.quiet || settings.verbose == 0 {
        "info"
    } else {
        stderr_level
    };
    let filter = |level: &str| match &rust_log {
        Some(spec) => EnvFilter::new(spec),
        // Other crates (openssh, tokio) only when something is wrong; jbr at the chosen level.
        None => EnvFilter::new(format!("warn,jbr={level},jbr_sim={level}")),
    };

    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(StderrSink)
        .with_target(false)
        // Colour codes in journald or a log file are noise.
        .with_ansi(io::stderr().is_terminal());
    // journald stamps every line itself; it sets JOURNAL_STREAM for services it captures.
    let stderr = if std::env::var_os("JOURNAL_STREAM").is_some() {
        stderr
            .without_time()
            .with_filter(filter(stderr_level))
            .boxed()
    } else {
        stderr.with_filter(filter(stderr_level)).boxed()
    };
    let file = tracing_subscriber::fmt::layer()
        .with_writer(FileSink)
        .with_ansi(false)
        .with_target(false)
        .with_filter(filter(file_level))
        .boxed();

    let layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> = vec![stderr, file];
    tracing_subscriber::registry()
        .with(layers)
        .try_init()
        .map_err(|_| LogError::AlreadyInitialised)?;
    Ok(LogGuard(()))
}

/// Start writing events to `path` too, rotated by size. Replaces a file attached earlier.
pub fn attach_file(path: &Path, max_bytes: u64, backup_count: u32) -> Result<(), LogError> {
    let f = RotatingFile::open(path, max_bytes, backup_count).map_err(|source| LogError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    *sink() = Some(f);
    Ok(())
}

/// `attach_file` with the config's `log_file`, `log_max_bytes`, `log_backup_count`.
pub fn attach_config(o: &Orchestrator) -> Result<(), LogError> {
    attach_file(&o.log_file, o.log_max_bytes, o.log_backup_count)
}

/// While `jbr run` draws its live line on stderr, each stderr event first erases it, so a
/// warning (a retry, a signal) is never glued to the line's end; the line is redrawn at its next
/// event. Off: stderr gets exactly the formatted events.
pub fn clear_live_line_first(on: bool) {
    CLEAR_LIVE_LINE.store(on, Ordering::Relaxed);
}

static CLEAR_LIVE_LINE: AtomicBool = AtomicBool::new(false);

/// The stderr layer's writer: one per event, so the erase goes before the event, not before
/// each piece of a partial write.
struct StderrSink;

impl<'a> MakeWriter<'a> for StderrSink {
    type Writer = StderrEvent;
    fn make_writer(&'a self) -> Self::Writer {
        StderrEvent { first: true }
    }
}

struct StderrEvent {
    first: bool,
}

impl Write for StderrEvent {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut err = io::stderr().lock();
        if std::mem::take(&mut self.first) && CLEAR_LIVE_LINE.load(Ordering::Relaxed) {
            err.write_all(b"\r\x1b[2K")?;
        }
        err.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

static SINK: Mutex<Option<RotatingFile>> = Mutex::new(None);

fn sink() -> MutexGuard<'static, Option<RotatingFile>> {
    // A panic while holding the lock leaves a file that is still fine to append to.
    SINK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The file layer's writer. tracing-subscriber formats each event into one buffer and hands it
/// over in one `write_all`, so an event is never split across two files.
struct FileSink;

impl<'a> MakeWriter<'a> for FileSink {
    type Writer = FileSink;
    fn make_writer(&'a self) -> Self::Writer {
        FileSink
    }
}

impl Write for FileSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match sink().as_mut() {
            Some(f) => f.write(buf),
            None => Ok(buf.len()),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match sink().as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

/// An append-only file that, before a write would take it past `max_bytes`, becomes `NAME.1`
/// (older ones shift to `.2` … `.backup_count`, the oldest is dropped) and starts afresh.
/// Each `write` is one whole event and is never split, so a single event larger than
/// `max_bytes` gets a file of its own. With `backup_count` 0 the file is emptied instead, so the
/// log never grows without bound on the NAS's SD card.
///
/// Our own ~60 lines rather than the `file-rotate` crate: the same behaviour without pulling
/// chrono and flate2 into a binary that runs on a Raspberry Pi.
pub struct RotatingFile {
    path: PathBuf,
    max_bytes: u64,
    backup_count: u32,
    file: File,
}

impl RotatingFile {
    /// Appends to an existing file; creates it (and its directory) when missing.
    pub fn open(path: &Path, max_bytes: u64, backup_count: u32) -> io::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if dir.exists() && !dir.is_dir() {
                // create_dir_all would only say "File exists", which sends people looking for
                // the log file itself.
                return Err(io::Error::new(
                    io::ErrorKind::NotADirectory,
                    format!("{} is not a directory", dir.display()),
                ));
            }
            std::fs::create_dir_all(dir)?;
        }
        Ok(RotatingFile {
            path: path.to_path_buf(),
            max_bytes: max_bytes.max(1),
            backup_count,
            file: Self::open_file(path)?,
        })
    }

    fn open_file(path: &Path) -> io::Result<File> {
        OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o640)
            .open(path)
    }

    fn numbered(&self, n: u32) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    fn rotate(&mut self) -> io::Result<()> {
        if self.backup_count == 0 {
            self.file.set_len(0)?;
            return Ok(());
        }
        for n in (1..self.backup_count).rev() {
            match std::fs::rename(self.numbered(n), self.numbered(n + 1)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        std::fs::rename(&self.path, self.numbered(1))?;
        self.file = Self::open_file(&self.path)?;
        Ok(())
    }
}

impl RotatingFile {
    /// Another jbr process (`jbr status` during a run) may have rotated the file under us: then
    /// our handle points at `NAME.1`, and rotating again would push the other's fresh file away.
    /// Follow the name instead.
    fn follow_if_rotated_elsewhere(&mut self) -> io::Result<()> {
        use std::os::unix::fs::MetadataExt;
        let ours = self.file.metadata()?;
        let named = match std::fs::metadata(&self.path) {
            Ok(m) => Some(m),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        if named.is_none_or(|m| m.dev() != ours.dev() || m.ino() != ours.ino()) {
            self.file = Self::open_file(&self.path)?;
        }
        Ok(())
    }

    fn too_full_for(&self, len: usize) -> io::Result<bool> {
        // The file's real size, not a count of our own writes: another process may append too.
        let size = self.file.metadata()?.len();
        Ok(size > 0 && size + len as u64 > self.max_bytes)
    }
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.too_full_for(buf.len())? {
            self.follow_if_rotated_elsewhere()?;
            if self.too_full_for(buf.len())? {
                self.rotate()?;
            }
        }
        self.file.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}
