//! The live progress line for `demo` (stdout) and `run` (stderr, see `live`): one rewritten line
//! on a terminal, plain lines when the output is a file or a pipe.
//!
//! On a terminal every event may redraw the line (at most every `REDRAW` of wall time, except
//! news, which always shows), and each job's outcome stays as a line of its own above it. Elsewhere only news is printed: a poll that only moved the
//! percentage is not news, so an 8-hour job is a handful of lines, not a thousand.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

use crate::orchestrator::progress::{Event, STILL};
use crate::report::Outcome;
use crate::report::text::short_id;
use crate::report::time::duration;

/// A terminal is redrawn at most this often for repeated polls (news always shows at once): a
/// paused-clock demo produces thousands of polls per wall second.
const REDRAW: Duration = Duration::from_millis(50);

/// Without a known terminal width the line is cut here, so it never wraps (a wrapped line
/// cannot be rewritten with `\r`).
const DEFAULT_WIDTH: usize = 100;

pub struct ProgressLine<W: Write> {
    out: W,
    tty: bool,
    width: usize,
    /// `(server, job id)` → label, so the line shows `accounts` rather than a 24-char id.
    labels: BTreeMap<(String, String), String>,
    /// The last news printed, without its percentage: `(server, job, state)`.
    last_news: Option<(String, Option<String>, String)>,
    last_draw: Option<Instant>,
    drawn: bool,
}

impl<W: Write> ProgressLine<W> {
    /// `tty`: rewrite one line in place (use `std::io::IsTerminal` on the real stdout).
    pub fn new(out: W, tty: bool) -> Self {
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.trim().parse::<usize>().ok())
            .filter(|w| *w >= 20)
            .unwrap_or(DEFAULT_WIDTH);
        ProgressLine {
            out,
            tty,
            width,
            labels: BTreeMap::new(),
            last_news: None,
            last_draw: None,
            drawn: false,
        }
    }

    /// Cut lines at this many columns (e.g. [`stdout_width`]).
    pub fn with_width(mut self, width: usize) -> Self {
        self.width = width.max(20);
        self
    }

    /// Show `label` instead of the id for this job.
    pub fn label(&mut self, server: &str, job_id: &str, label: &str) {
        if !label.is_empty() {
            self.labels
                .insert((server.to_string(), job_id.to_string()), label.to_string());
        }
    }

    /// `web-01  accounts  processing 42%  12m30s`.
    pub fn format(&self, e: &Event) -> String {
        self.format_within(e, usize::MAX)
    }

    /// [`Self::format`] in at most `max` characters: the state is shortened with `…`, so the
    /// elapsed time stays visible.
    fn format_within(&self, e: &Event, max: usize) -> String {
        let job = e.job.as_deref().map(|id| {
            self.labels
                .get(&(e.server.clone(), id.to_string()))
                .cloned()
                .unwrap_or_else(|| short_id(id))
        });
        let mut line = format!("{}  ", e.server);
        if let Some(job) = job {
            line.push_str(&job);
            line.push_str("  ");
        }
        let state = shorten_ids(&e.state);
        let mut elapsed = duration(e.elapsed.as_secs_f64().floor());
        if let Some(eta) = eta(e) {
            elapsed.push_str("  ");
            elapsed.push_str(&eta);
        }
        let fixed = line.chars().count() + 2 + elapsed.chars().count();
        let room = max.saturating_sub(fixed);
        if state.chars().count() <= room {
            line.push_str(&state);
        } else {
            let cut: String = state.chars().take(room.saturating_sub(1)).collect();
            line.push_str(cut.trim_end());
            line.push('…');
        }
        line.push_str("  ");
        line.push_str(&elapsed);
        // Server and job alone may not fit a very narrow terminal: cut, never wrap.
        line.chars().take(max).collect()
    }

    pub fn event(&mut self, e: &Event) {
        // `still processing` is the same state as `processing`, repeated as news: it is shown,
        // but the next `processing` poll is not a change (it once printed a second line).
        let (heartbeat, state) = match e.state.strip_prefix(STILL) {
            Some(rest) if e.change => (true, rest),
            _ => (false, e.state.as_str()),
        };
        let key = (e.server.clone(), e.job.clone(), without_percent(state));
        let news = heartbeat || self.last_news.as_ref() != Some(&key);
        if news {
            self.last_news = Some(key);
        }
        // One column spare: a line that fills the terminal exactly wraps on some terminals.
        let text = if self.tty {
            self.format_within(e, self.width.saturating_sub(1))
        } else {
            self.format(e)
        };
        if self.tty && news && is_outcome(e) {
            // A job's outcome stays on screen above the live line: the history of the night.
            let _ = writeln!(self.out, "\r\x1b[2K{text}");
            let _ = self.out.flush();
            self.drawn = false;
        } else if self.tty {
            let due = self.last_draw.is_none_or(|t| t.elapsed() >= REDRAW);
            if news || due {
                // \r and "erase line": the new text may be shorter than the old.
                let _ = write!(self.out, "\r\x1b[2K{text}");
                let _ = self.out.flush();
                self.last_draw = Some(Instant::now());
                self.drawn = true;
            }
        } else if news {
            let _ = writeln!(self.out, "{text}");
        }
    }

    /// Clears the line on a terminal, so what follows starts on a clean line.
    pub fn finish(&mut self) {
        if self.tty && self.drawn {
            let _ = write!(self.out, "\r\x1b[2K");
            self.drawn = false;
        }
        let _ = self.out.flush();
    }

    pub fn into_inner(mut self) -> W {
        self.finish();
        self.out
    }
}

/// The width of the terminal on stdout, if it is one. `COLUMNS` is a shell variable that is
/// rarely exported, so ask the terminal itself.
pub fn stdout_width() -> Option<usize> {
    terminal_width(libc::STDOUT_FILENO)
}

/// [`stdout_width`] for stderr, where `jbr run` draws its line.
pub fn stderr_width() -> Option<usize> {
    terminal_width(libc::STDERR_FILENO)
}

fn terminal_width(fd: libc::c_int) -> Option<usize> {
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ only writes a `winsize` into the struct we own; on a descriptor that is
    // not a terminal it fails with ENOTTY and writes nothing.
    let rc = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut size) };
    (rc == 0 && size.ws_col > 0).then_some(usize::from(size.ws_col))
}

/// `enabling destination 6a005e070000000000000001` → `enabling destination 6a00…0001`: the
/// full id is in the report; the line needs room for the state.
fn shorten_ids(state: &str) -> String {
    state
        .split(' ')
        .map(|word| {
            let id = word.trim_start_matches('(').trim_end_matches(')');
            if id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
                word.replace(id, &short_id(id))
            } else {
                word.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `ETA 7m30s (usual 20m00s)` from a running job's usual duration, or how far past it the job
/// is; `None` without history.
fn eta(e: &Event) -> Option<String> {
    let usual = e.usual.filter(|_| !is_outcome(e))?;
    let whole = |d: Duration| duration(d.as_secs_f64().ceil());
    Some(match usual.checked_sub(e.elapsed) {
        Some(left) if !left.is_zero() => format!("ETA {} (usual {})", whole(left), whole(usual)),
        _ => format!(
            "usual {}, over by {}",
            whole(usual),
            whole(e.elapsed.saturating_sub(usual))
        ),
    })
}

/// The orchestrator's last event for a job is its outcome, as the report words it.
fn is_outcome(e: &Event) -> bool {
    e.job.is_some() && Outcome::ALL.iter().any(|o| o.as_str() == e.state)
}

/// `processing 42%` → `processing`: the watcher appends the server's percentage to the state.
fn without_percent(state: &str) -> String {
    match state.rsplit_once(' ') {
        Some((head, tail))
            if tail.ends_with('%')
                && tail.len() > 1
                && tail[..tail.len() - 1].bytes().all(|b| b.is_ascii_digit()) =>
        {
            head.to_string()
        }
        _ => state.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(job: Option<&str>, state: &str, secs: u64) -> Event {
        Event {
            server: "web-01".into(),
            job: job.map(str::to_string),
            state: state.into(),
            elapsed: Duration::from_secs(secs),
            change: true,
            usual: None,
        }
    }

    #[test]
    fn plain_lines_show_news_only() {
        let mut p = ProgressLine::new(Vec::new(), false);
        p.label("web-01", "6600aa0000000000000000b1", "accounts");
        p.event(&ev(None, "enabling destination d1", 0));
        p.event(&ev(Some("6600aa0000000000000000b1"), "processing 10%", 30));
        p.event(&ev(Some("6600aa0000000000000000b1"), "processing 55%", 60));
        p.event(&ev(Some("6600aa0000000000000000b1"), "completed", 750));
        let text = String::from_utf8(p.into_inner()).unwrap();
        assert_eq!(
            text,
            "web-01  enabling destination d1  0s\n\
             web-01  accounts  processing 10%  30s\n\
             web-01  accounts  completed  12m30s\n"
        );
    }

    /// Issue 11, item 5: every 20th poll of an unchanged state is one `still …` line, and the
    /// poll after it is not news (it used to print `processing` again: two lines per 10 min).
    #[test]
    fn a_still_line_is_not_followed_by_the_same_state_again() {
        use crate::orchestrator::progress::{Progress, Repeats};
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let progress = Progress::new(tx);
        let mut repeats = Repeats::default();
        for poll in 0..45 {
            let state = if poll < 43 {
                "processing"
            } else {
                "processing 99%"
            };
            repeats.report(
                &progress,
                "web-01",
                Some("6600aa0000000000000000b1"),
                state.to_string(),
                Duration::from_secs(30 * poll),
            );
        }
        let mut p = ProgressLine::new(Vec::new(), false);
        p.label("web-01", "6600aa0000000000000000b1", "accounts");
        while let Ok(e) = rx.try_recv() {
            p.event(&e);
        }
        let text = String::from_utf8(p.into_inner()).unwrap();
        assert_eq!(
            text,
            "web-01  accounts  processing  0s\n\
             web-01  accounts  still processing  10m00s\n\
             web-01  accounts  still processing  20m00s\n"
        );
    }

    #[test]
    fn a_running_job_with_history_shows_an_eta_from_its_usual_duration() {
        let mut p = ProgressLine::new(Vec::new(), false);
        p.label("web-01", "6600aa0000000000000000b1", "accounts");
        let usual = Some(Duration::from_secs(20 * 60));
        let job = Some("6600aa0000000000000000b1");
        p.event(&Event {
            usual,
            ..ev(job, "processing 10%", 750)
        });
        p.event(&Event {
            usual,
            ..ev(job, "still processing 80%", 1500)
        });
        // The outcome is a fact, not an estimate.
        p.event(&ev(job, "completed", 1510));
        let text = String::from_utf8(p.into_inner()).unwrap();
        assert_eq!(
            text,
            "web-01  accounts  processing 10%  12m30s  ETA 7m30s (usual 20m00s)\n\
             web-01  accounts  still processing 80%  25m00s  usual 20m00s, over by 5m00s\n\
             web-01  accounts  completed  25m10s\n"
        );
    }

    #[test]
    fn terminal_rewrites_one_line_and_clears_it() {
        let mut p = ProgressLine::new(Vec::new(), true);
        p.event(&ev(Some("6600aa0000000000000000b1"), "processing", 30));
        p.event(&ev(Some("6600aa0000000000000000b1"), "completed", 90));
        p.event(&ev(Some("6600aa0000000000000000b2"), "processing", 30));
        let text = String::from_utf8(p.into_inner()).unwrap();
        // The outcome is kept on its own line; the live line is rewritten, then cleared.
        assert_eq!(
            text,
            "\r\x1b[2Kweb-01  6600…00b1  processing  30s\
             \r\x1b[2Kweb-01  6600…00b1  completed  1m30s\n\
             \r\x1b[2Kweb-01  6600…00b2  processing  30s\
             \r\x1b[2K"
        );
    }

    /// What a terminal `width` columns wide shows for `e`.
    fn drawn(width: usize, e: &Event) -> String {
        let mut p = ProgressLine::new(Vec::new(), true).with_width(width);
        p.event(e);
        let text = String::from_utf8(p.into_inner()).unwrap();
        let shown = text.trim_start_matches("\r\x1b[2K");
        shown.trim_end_matches("\r\x1b[2K").to_string()
    }

    #[test]
    fn a_narrow_terminal_shortens_the_state_and_keeps_the_time_and_eta() {
        let waiting = ev(
            Some("6600aa0000000000000000b1"),
            "waiting for a foreign backup to end",
            90,
        );
        assert_eq!(
            drawn(40, &waiting),
            "web-01  6600…00b1  waiting for…  1m30s"
        );
        let with_history = Event {
            usual: Some(Duration::from_secs(3600)),
            ..waiting
        };
        assert_eq!(
            drawn(70, &with_history),
            "web-01  6600…00b1  waiting for a…  1m30s  ETA 58m30s (usual 1h00m00s)"
        );
    }

    #[test]
    fn object_ids_are_shortened() {
        assert_eq!(
            shorten_ids("waiting for a foreign backup (group 6a005e07000000000000000a) to end"),
            "waiting for a foreign backup (group 6a00…000a) to end"
        );
        assert_eq!(shorten_ids("processing 42%"), "processing 42%");
    }

    #[test]
    fn percent_is_not_news() {
        assert_eq!(without_percent("processing 42%"), "processing");
        assert_eq!(without_percent("processing"), "processing");
        assert_eq!(without_percent("waiting for 100% x"), "waiting for 100% x");
    }
}
