//! The record as text: a headline, one aligned line per job, then details, servers, alerts and
//! critical leftovers. What an operator reads at 7 am; the email's text part is this text (its
//! HTML part, `html.rs`, shows the table and the rest of it too).

use std::fmt::Write as _;

use super::record::{JobRecord, Outcome, RunRecord, ServerRecord};
use super::time::{clock_utc, duration, iso_utc};

/// `6508…06d9` for 24-char ids: enough to recognize, short enough to align.
pub fn short_id(id: &str) -> String {
    if id.len() > 12 && id.is_ascii() {
        format!("{}…{}", &id[..4], &id[id.len() - 4..])
    } else {
        id.to_string()
    }
}

/// `6508…06d9 "accounts"`: how every report names a job.
pub fn job_name(id: &str, label: &str) -> String {
    if label.is_empty() {
        short_id(id)
    } else {
        format!("{} \"{label}\"", short_id(id))
    }
}

/// The end of the run for the headline: the time alone when it is the start's UTC day,
/// otherwise with its date, so a night that crosses midnight (or an 8-hour job that does) is
/// never read as ending before it started.
fn headline_end(started: f64, ended: f64) -> String {
    let day = |t: f64| (t.floor() as i64).div_euclid(86_400);
    if day(started) == day(ended) {
        clock_utc(ended)
    } else {
        iso_utc(ended)
    }
}

pub fn render(record: &RunRecord) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", headline(record));

    if !record.critical.is_empty() {
        let _ = writeln!(out, "\nCRITICAL — act now:");
        for c in &record.critical {
            let _ = writeln!(out, "  {}", c.message);
        }
    }

    if !record.recovered.is_empty() {
        let _ = writeln!(out, "\nleft over from an earlier run (journal):");
        for r in &record.recovered {
            let _ = writeln!(out, "  {r}");
        }
    }

    if !record.jobs.is_empty() {
        write_job_table(&mut out, &record.jobs);
    }
    out.push_str(&after_table(record));
    out
}

/// Everything the report says after its job table: details, the scheduler window, servers,
/// alerts and the exit code. The HTML part shows it verbatim under its own table and timeline,
/// so a reader of either part learns the same things.
pub fn after_table(record: &RunRecord) -> String {
    let mut out = String::new();
    if !record.jobs.is_empty() {
        write_details(&mut out, &record.jobs);
        write_window(&mut out, record);
        write_night(&mut out, record);
        write_nas(&mut out, record);
    }

    if !record.servers.is_empty() {
        let _ = writeln!(out, "\nservers:");
        for s in &record.servers {
            write_server(&mut out, s);
        }
    }

    if !record.alerts.is_empty() {
        let _ = writeln!(out, "\nalerts:");
        for a in &record.alerts {
            let _ = writeln!(out, "  ! {}", a.message);
        }
    }

    let _ = writeln!(out, "\nexit {}", record.exit().code());
    out
}

/// `jbr run ID from START to END (DURATION): N job(s): TALLY`, and whether it was cancelled.
pub fn headline(record: &RunRecord) -> String {
    let tally = record
        .tally()
        .iter()
        .map(|(o, n)| format!("{n} {}", o.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "jbr run {} from {} to {} ({}): {} job(s){}{}",
        record.run_id,
        iso_utc(record.started),
        headline_end(record.started, record.ended),
        duration(record.ended - record.started),
        record.jobs.len(),
        if tally.is_empty() {
            String::new()
        } else {
            format!(": {tally}")
        },
        if record.cancelled {
            " — CANCELLED"
        } else {
            ""
        },
    )
}

/// One line per job, each column as wide as its widest cell; the last column is not padded.
/// The job table's columns, in order (`job_row` fills them).
pub const JOB_COLUMNS: [&str; 8] = [
    "SERVER", "JOB", "OUTCOME", "START", "DURATION", "STATUS", "ITEMS", "GROUP",
];

fn write_job_table(out: &mut String, jobs: &[JobRecord]) {
    let header = JOB_COLUMNS;
    let rows: Vec<[String; 8]> = jobs.iter().map(job_row).collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::from(" ");
        for (i, (cell, w)) in cells.iter().zip(widths.iter()).enumerate() {
            if i + 1 == cells.len() {
                s.push(' ');
                s.push_str(cell);
            } else {
                let pad = w - cell.chars().count();
                let _ = write!(s, " {cell}{} ", " ".repeat(pad));
            }
        }
        s.trim_end().to_string()
    };
    out.push('\n');
    let _ = writeln!(out, "{}", line(header.to_vec()));
    for row in &rows {
        let _ = writeln!(out, "{}", line(row.iter().map(String::as_str).collect()));
    }
}

/// One job's cells under `JOB_COLUMNS`, as both renderings show them.
pub fn job_row(j: &JobRecord) -> [String; 8] {
    [
        j.server.clone(),
        job_name(&j.job_id, &j.label),
        j.outcome.as_str().to_string(),
        j.start.map(clock_utc).unwrap_or_else(|| "-".into()),
        job_duration(j),
        match (j.status_raw, &j.status_name) {
            (Some(raw), Some(name)) => format!("{raw} {name}"),
            (Some(raw), None) => raw.to_string(),
            _ => "-".into(),
        },
        match (j.items_failed, j.items_total) {
            (Some(f), Some(t)) => format!("{}/{t} ok", t.saturating_sub(f)),
            _ => "-".into(),
        },
        j.group_id
            .as_deref()
            .map(short_id)
            .unwrap_or_else(|| "-".into()),
    ]
}

/// `2h10m00s (usual 1h05m00s)`: this run's duration, and the job's usual one when the history
/// has it, so a run that took twice as long stands out.
fn job_duration(j: &JobRecord) -> String {
    match (j.duration_secs, j.usual_duration_secs) {
        (Some(d), Some(usual)) => format!("{} (usual {})", duration(d), duration(usual)),
        (Some(d), None) => duration(d),
        (None, _) => "-".into(),
    }
}

/// The jobs with something to say (a message, failed items), `!` marking the ones that did not
/// succeed cleanly.
fn write_details(out: &mut String, jobs: &[JobRecord]) {
    let details: Vec<_> = jobs
        .iter()
        .filter(|j| !j.message.is_empty() || !j.failures.is_empty())
        .collect();
    if details.is_empty() {
        return;
    }
    let _ = writeln!(out, "\ndetails:");
    for j in details {
        let mark = if j.outcome.is_success() && j.outcome != Outcome::Warnings {
            " "
        } else {
            "!"
        };
        let _ = writeln!(
            out,
            " {mark} server {}, job {}: {}",
            j.server,
            job_name(&j.job_id, &j.label),
            if j.message.is_empty() {
                j.outcome.as_str()
            } else {
                &j.message
            }
        );
        for f in &j.failures {
            let _ = writeln!(out, "      - {f}");
        }
    }
}

/// What each job wrote to the NAS device (`nas.block_device`) and at what rate, and the
/// meter's notes.
fn write_nas(out: &mut String, record: &RunRecord) {
    let measured: Vec<_> = record
        .jobs
        .iter()
        .filter_map(|j| j.nas_written_bytes.map(|b| (j, b)))
        .collect();
    if measured.is_empty() && record.nas_notes.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nNAS writes (the device's own counter):");
    for (j, bytes) in measured {
        let rate = j
            .nas_write_mb_s
            .map(|r| format!(" at {r:.1} MB/s"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  server {}, job {}: {}{rate}",
            j.server,
            job_name(&j.job_id, &j.label),
            crate::nas::meter::human_bytes(bytes),
        );
    }
    for n in &record.nas_notes {
        let _ = writeln!(out, "  note: {n}");
    }
}

/// The night window (`orchestrator.window_end`): when it closed, what it left out (carried over
/// to the next run) and what an earlier window left out that started first tonight.
fn write_night(out: &mut String, record: &RunRecord) {
    let carried: Vec<_> = record
        .jobs
        .iter()
        .filter(|j| j.carried_over_from.is_some())
        .collect();
    if record.night_window.is_none() && carried.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nnight window:");
    if let Some(n) = &record.night_window {
        let _ = writeln!(
            out,
            "  no job starts at or after {} local time ({}), policy \"{}\"",
            n.window_end,
            iso_utc(n.closes),
            n.policy
        );
    }
    let names = |jobs: &[&JobRecord]| {
        jobs.iter()
            .map(|j| format!("server {}, job {}", j.server, job_name(&j.job_id, &j.label)))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let left: Vec<_> = record
        .jobs
        .iter()
        .filter(|j| j.left_out_by_window)
        .collect();
    if !left.is_empty() {
        let _ = writeln!(
            out,
            "  ! left out, carried over (the next run starts them first): {}",
            names(&left)
        );
    }
    let mut runs: Vec<&str> = carried
        .iter()
        .filter_map(|j| j.carried_over_from.as_deref())
        .collect();
    runs.dedup();
    for run in runs {
        let from: Vec<_> = carried
            .iter()
            .copied()
            .filter(|j| j.carried_over_from.as_deref() == Some(run))
            .collect();
        let _ = writeln!(
            out,
            "  carried over from run {run}, whose window left them out, so started first: {}",
            names(&from)
        );
    }
}

/// Per job that jbr enabled, how long the server's own scheduler could have started it, the
/// NAS's idle time before it and the scheduler's runs of it; then the night's totals.
fn write_window(out: &mut String, record: &RunRecord) {
    let exposed: Vec<_> = record
        .jobs
        .iter()
        .filter_map(|j| j.exposure.map(|e| (j, e)))
        .collect();
    if exposed.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\nscheduler window (a job enabled and idle while the NAS destination is enabled; the server's own scheduler may start it):"
    );
    for (j, e) in exposed {
        let idle = j
            .nas_idle_before_secs
            .map(|s| format!("; NAS idle {} before it", duration(s)))
            .unwrap_or_default();
        let runs = match j.scheduler_runs {
            0 => String::new(),
            n => format!("; the scheduler ran it {n} time(s)"),
        };
        let _ = writeln!(
            out,
            "  server {}, job {}: exposed {} ({} before the trigger, {} after the end){idle}{runs}",
            j.server,
            job_name(&j.job_id, &j.label),
            duration(e.total_secs),
            duration(e.before_trigger_secs),
            duration(e.after_end_secs),
        );
    }
    let w = &record.window;
    let gaps = if w.nas_idle_gaps == 0 {
        String::new()
    } else {
        format!(
            "; NAS idle between jobs: mean {}, max {}",
            duration(w.nas_idle_mean_secs),
            duration(w.nas_idle_max_secs)
        )
    };
    let _ = writeln!(
        out,
        "  in all: exposed {} (mean {}, max {}){gaps}; scheduler runs seen: {}",
        duration(w.exposure_secs),
        duration(w.exposure_mean_secs),
        duration(w.exposure_max_secs),
        w.scheduler_runs
    );
}

/// A server's line (skipped, or how its destination was switched), its notes, then every action
/// jbr took there.
fn write_server(out: &mut String, s: &ServerRecord) {
    match &s.skipped {
        Some(why) => {
            let _ = writeln!(out, "  {}: SKIPPED: {why}", s.server);
        }
        None => {
            let method = s
                .destination_method
                .as_deref()
                .map(|m| format!(" (destination via {m})"))
                .unwrap_or_default();
            let _ = writeln!(out, "  {}:{method}", s.server);
        }
    }
    for n in &s.notes {
        let _ = writeln!(out, "    note: {n}");
    }
    for a in &s.actions {
        let _ = writeln!(
            out,
            "    {} {} {}: {}",
            clock_utc(a.time),
            if a.ok { "ok  " } else { "FAIL" },
            a.what,
            a.result
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-22T22:20:46Z.
    const EVENING: f64 = 1_795_386_046.0;

    fn headline(started: f64, ended: f64) -> String {
        let mut r = RunRecord::new("r1", started);
        r.ended = ended;
        render(&r).lines().next().unwrap_or_default().to_string()
    }

    #[test]
    fn the_headline_dates_an_end_on_another_utc_day() {
        assert_eq!(iso_utc(EVENING), "2026-11-22T22:20:46Z");
        // Same day: the time alone is enough.
        assert_eq!(
            headline(EVENING, EVENING + 3600.0),
            "jbr run r1 from 2026-11-22T22:20:46Z to 23:20:46 (1h00m00s): 0 job(s)"
        );
        // Across midnight: the end says which day.
        assert_eq!(
            headline(EVENING, EVENING + 18.0 * 3600.0 + 600.0),
            "jbr run r1 from 2026-11-22T22:20:46Z to 2026-11-23T16:30:46Z (18h10m00s): 0 job(s)"
        );
        // One second before and at midnight.
        let midnight = 1_795_392_000.0;
        assert!(headline(EVENING, midnight - 1.0).contains(" to 23:59:59 ("));
        assert!(headline(EVENING, midnight).contains(" to 2026-11-23T00:00:00Z ("));
    }
}
