//! `jbr run`'s live progress line on a terminal's stderr, and the writers that keep other
//! output from tearing it.
//!
//! The renderer and the command share one [`ProgressLine`] on one thread (the run's
//! current-thread runtime): the command's report and error lines go through [`ClearFirst`],
//! which wipes the half-drawn line before writing, so the report never starts mid-line.

use std::cell::RefCell;
use std::future::poll_fn;
use std::io::{self, IsTerminal, Write};
use std::rc::Rc;

use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

use crate::config::Config;
use crate::orchestrator::progress::{Event, Progress};

use super::progress_line::{self, ProgressLine};

/// Whether `jbr run` should draw the live line: someone is watching stderr on a terminal that
/// understands `\r` and "erase line", and did not ask for the log there instead (`-v`,
/// `RUST_LOG`) or for silence (`-q`). Everything else (journald, pipes, files) keeps the plain
/// log lines.
pub fn wanted(quiet: bool, verbose: u8) -> bool {
    let rust_log = std::env::var_os("RUST_LOG").is_some_and(|v| !v.is_empty());
    let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
    !quiet && verbose == 0 && !rust_log && !dumb && io::stderr().is_terminal()
}

struct Shared {
    line: ProgressLine<io::Stderr>,
    rx: UnboundedReceiver<Event>,
    /// The report has started: the line is gone for good.
    closed: bool,
}

/// The live line; clones share it.
#[derive(Clone)]
pub struct Live(Rc<RefCell<Shared>>);

impl Live {
    /// The line for `config`'s jobs (shown by label), and the `Progress` to hand the run.
    pub fn start(config: &Config) -> (Live, Progress) {
        let mut line = ProgressLine::new(io::stderr(), true);
        if let Some(width) = progress_line::stderr_width() {
            line = line.with_width(width);
        }
        for j in &config.jobs {
            line.label(&j.server, &j.job_id, &j.label);
        }
        let (tx, rx) = unbounded_channel();
        let live = Live(Rc::new(RefCell::new(Shared {
            line,
            rx,
            closed: false,
        })));
        (live, Progress::new(tx))
    }

    /// Draws events until the run drops its `Progress`, then clears the line.
    pub async fn render(&self) {
        loop {
            // Borrowed only while polling, never across the await: the writers borrow it too.
            let next = poll_fn(|cx| self.0.borrow_mut().rx.poll_recv(cx)).await;
            let mut s = self.0.borrow_mut();
            match next {
                Some(e) if !s.closed => s.line.event(&e),
                Some(_) => {}
                None => break,
            }
        }
        self.0.borrow_mut().line.finish();
    }

    /// `inner`, clearing the line before each write. `closes`: this is the report; events
    /// still queued are drawn first (a job's outcome line stays above the report), then the
    /// line stops for good.
    pub fn writer<W: Write>(&self, inner: W, closes: bool) -> ClearFirst<W> {
        ClearFirst {
            live: self.clone(),
            inner,
            closes,
        }
    }
}

pub struct ClearFirst<W: Write> {
    live: Live,
    inner: W,
    closes: bool,
}

impl<W: Write> Write for ClearFirst<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        {
            let mut s = self.live.0.borrow_mut();
            if !s.closed {
                if self.closes {
                    let Shared { line, rx, .. } = &mut *s;
                    while let Ok(e) = rx.try_recv() {
                        line.event(&e);
                    }
                    s.closed = true;
                }
                s.line.finish();
            }
        }
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
