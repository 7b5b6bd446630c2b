//! The record as text: a headline, one aligned line per job, then details, servers, alerts and
//! critical leftovers. What an operator reads at 7 am; the email carries the same text.

use std::fmt::Write as _;

use super::record::{Outcome, RunRecord};
use super::time::{clock_utc, duration, iso_utc};

/// `6508…06d9` for 24-char ids: enough to recognize, short enough to align.
pub fn short_id(id: &str) -> String {
    if id.len() > 12 && id.is_ascii() {
        format!("{}…{}", &id[..4], &id[id.len() - 4..])
    } else {
        id.to_string()
    }
}

fn job_name(id: &str, label: &str) -> String {
    if label.is_empty() {
        short_id(id)
    } else {
        format!("{} \"{label}\"", short_id(id))
    }
}

pub fn render(record: &RunRecord) -> String {
    let mut out = String::new();
    let tally = record
        .tally()
        .iter()
        .map(|(o, n)| format!("{n} {}", o.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    let _ = writeln!(
        out,
        "jbr run {} from {} to {} ({}): {} job(s){}{}",
        record.run_id,
        iso_utc(record.started),
        clock_utc(record.ended),
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
    );

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
        let header = [
            "SERVER", "JOB", "OUTCOME", "START", "DURATION", "STATUS", "ITEMS", "GROUP",
        ];
        let rows: Vec<[String; 8]> = record
            .jobs
            .iter()
            .map(|j| {
                [
                    j.server.clone(),
                    job_name(&j.job_id, &j.label),
                    j.outcome.as_str().to_string(),
                    j.start.map(clock_utc).unwrap_or_else(|| "-".into()),
                    j.duration_secs.map(duration).unwrap_or_else(|| "-".into()),
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
            })
            .collect();
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

        let details: Vec<_> = record
            .jobs
            .iter()
            .filter(|j| !j.message.is_empty() || !j.failures.is_empty())
            .collect();
        if !details.is_empty() {
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
    }

    if !record.servers.is_empty() {
        let _ = writeln!(out, "\nservers:");
        for s in &record.servers {
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
