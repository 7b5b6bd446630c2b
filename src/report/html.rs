//! The record as HTML, for the email's `text/html` alternative: the headline, anything critical,
//! the job table, and a picture of the night (one row per server, one bar per job, widths
//! proportional to time, colours by outcome). Below it, everything else the text report says,
//! verbatim: a reader whose client shows only this part must learn exactly what the text says.
//!
//! Mail clients are the constraint (issue 11, item 6): plain tables, inline styles, `bgcolor`
//! and `width` attributes for the clients that ignore CSS. No SVG, no scripts, no classes, no
//! external resources (images and fonts are blocked by default, and a report must not phone
//! home). Every string that came from the config or a server goes through `esc`: job names with
//! `<script>`, quotes and ampersands exist.

use std::fmt::Write as _;

use super::record::{AlertKind, JobRecord, Outcome, RunRecord};
use super::text::{self, JOB_COLUMNS};
use super::time::{clock_utc, duration};

/// The timeline's width in CSS pixels: fits a phone held sideways and a narrow reading pane
/// next to the server labels.
pub const TRACK_PX: u32 = 600;

/// The narrowest bar drawn. A job of seconds in a night of hours would be under a pixel, and a
/// job that ran must never look as if it did not.
pub const MIN_BAR_PX: u32 = 2;

/// The track behind the bars: where this server ran no jbr job.
const IDLE: &str = "#e0e0e0";
/// Enabled and idle before the trigger: the server's own scheduler could have started the job.
const EXPOSED: &str = "#ffca28";
/// Above a bar: the server's scheduler ran this job too, inside the bar's span.
const SCHEDULER: &str = "#6a1b9a";
/// A server's label when a backup jbr did not start was writing to the NAS.
const FOREIGN: &str = "#e65100";

/// The bar colour of each outcome: green is good, amber and orange are "look", reds are bad,
/// greys did not run. Each outcome has its own colour, so the legend names exactly one.
pub fn outcome_colour(o: Outcome) -> &'static str {
    match o {
        Outcome::Completed => "#2e7d32",
        Outcome::Warnings => "#9e9d24",
        Outcome::Partial => "#ef6c00",
        Outcome::Failed => "#c62828",
        Outcome::TimedOutAborted => "#ad1457",
        Outcome::TimedOutNotStopped => "#4a0000",
        Outcome::NotStarted => "#616161",
        Outcome::Skipped => "#9e9e9e",
        Outcome::DisabledInConfig => "#bdbdbd",
        Outcome::MissingOnServer => "#5d4037",
    }
}

/// Text as HTML text or a double-quoted attribute value.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The whole HTML document. `footer` is the text that follows the report in the text part (where
/// it came from, which switch sent it); it closes the verbatim section here too.
pub fn render(record: &RunRecord, footer: &str) -> String {
    let mut out = String::new();
    let headline = esc(&text::headline(record));
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{headline}</title></head>\n\
         <body style=\"margin:0;padding:16px;background:#ffffff;color:#212121;\
         font-family:Arial,Helvetica,sans-serif;font-size:14px\">\n\
         <p style=\"margin:0 0 12px;font-size:16px;font-weight:bold\">{headline}</p>\n"
    );
    write_critical(&mut out, record);
    write_recovered(&mut out, record);
    if !record.jobs.is_empty() {
        write_job_table(&mut out, &record.jobs);
    }
    write_timeline(&mut out, record);
    let _ = write!(
        out,
        "<pre style=\"margin:16px 0 0;font-family:Menlo,Consolas,'Courier New',monospace;\
         font-size:12px;white-space:pre-wrap\">{}{}</pre>\n</body></html>\n",
        esc(text::after_table(record).trim_start_matches('\n')),
        esc(footer)
    );
    out
}

/// First, in red: what the operator must undo by hand (exit 4).
fn write_critical(out: &mut String, record: &RunRecord) {
    if record.critical.is_empty() {
        return;
    }
    let _ = write!(
        out,
        "<table role=\"presentation\" cellpadding=\"8\" cellspacing=\"0\" border=\"0\" \
         style=\"border-collapse:collapse;margin:0 0 12px\"><tr><td bgcolor=\"#b71c1c\" \
         style=\"background-color:#b71c1c;color:#ffffff\"><b>CRITICAL — act now:</b>"
    );
    for c in &record.critical {
        let _ = write!(out, "<br>{}", esc(&c.message));
    }
    out.push_str("</td></tr></table>\n");
}

fn write_recovered(out: &mut String, record: &RunRecord) {
    if record.recovered.is_empty() {
        return;
    }
    out.push_str("<p style=\"margin:0 0 4px\"><b>left over from an earlier run (journal):</b></p>\n<ul style=\"margin:0 0 12px\">");
    for r in &record.recovered {
        let _ = write!(out, "<li>{}</li>", esc(r));
    }
    out.push_str("</ul>\n");
}

/// The text report's table, cell for cell, with the outcome on its bar colour.
fn write_job_table(out: &mut String, jobs: &[JobRecord]) {
    const CELL: &str =
        "padding:3px 8px;border-bottom:1px solid #e0e0e0;text-align:left;white-space:nowrap";
    out.push_str(
        "<table cellpadding=\"0\" cellspacing=\"0\" border=\"0\" \
         style=\"border-collapse:collapse;margin:0 0 16px;font-size:13px\">\n<tr>",
    );
    for h in JOB_COLUMNS {
        let _ = write!(
            out,
            "<th style=\"{CELL};background-color:#f5f5f5\">{}</th>",
            esc(h)
        );
    }
    out.push_str("</tr>\n");
    for j in jobs {
        out.push_str("<tr>");
        for (i, cell) in text::job_row(j).iter().enumerate() {
            if JOB_COLUMNS[i] == "OUTCOME" {
                let colour = outcome_colour(j.outcome);
                let _ = write!(
                    out,
                    "<td bgcolor=\"{colour}\" style=\"{CELL};background-color:{colour};color:#ffffff;font-weight:bold\">{}</td>",
                    esc(cell)
                );
            } else {
                let _ = write!(out, "<td style=\"{CELL}\">{}</td>", esc(cell));
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

/// What one stretch of a server's track shows.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// No jbr job on this server.
    Idle,
    /// The job enabled and waiting for its trigger (its `exposure.before_trigger_secs`).
    Exposed,
    /// The job, from its trigger to the end of everything jbr did for it.
    Job,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Idle => "idle",
            Kind::Exposed => "exposed",
            Kind::Job => "job",
        }
    }
}

/// One cell of a track, `px` wide.
struct Segment<'a> {
    kind: Kind,
    px: u32,
    job: Option<&'a JobRecord>,
    title: String,
}

/// The night's span on the time axis: the run's start to its end, stretched to cover any job
/// that (by a clock step) lies outside it, and never zero wide.
fn axis(record: &RunRecord) -> (f64, f64) {
    let from = record
        .jobs
        .iter()
        .filter_map(drawn)
        .map(|(s, _, j)| s - before_trigger(j))
        .fold(record.started, f64::min);
    let to = record
        .jobs
        .iter()
        .filter_map(drawn)
        .map(|(_, e, _)| e)
        .fold(record.ended, f64::max);
    (from, (to - from).max(1.0))
}

/// A job's place on the time axis, when it has one: (start, end).
fn drawn(j: &JobRecord) -> Option<(f64, f64, &JobRecord)> {
    match (j.start, j.end) {
        (Some(s), Some(e)) if e >= s => Some((s, e, j)),
        _ => None,
    }
}

fn before_trigger(j: &JobRecord) -> f64 {
    j.exposure.map_or(0.0, |e| e.before_trigger_secs.max(0.0))
}

/// A server's track: idle stretches, then per job its exposure before the trigger and its bar,
/// in time order. Positions are rounded to whole pixels from the axis, so rounding never adds
/// up along a row; a bar is at least `MIN_BAR_PX` wide, pushing what follows right (the row
/// then ends a little past `TRACK_PX`: never a bar drawn narrower than it ran).
fn segments<'a>(jobs: &[&'a JobRecord], from: f64, span: f64) -> Vec<Segment<'a>> {
    let x = |t: f64| (((t - from) / span) * f64::from(TRACK_PX)).round().max(0.0) as u32;
    let mut placed: Vec<(f64, f64, &JobRecord)> = jobs.iter().filter_map(|j| drawn(j)).collect();
    placed.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out = Vec::new();
    let mut cursor = 0u32;
    let mut last_end: Option<f64> = None;
    let idle = |out: &mut Vec<Segment<'a>>, cursor: u32, to: u32, secs: Option<f64>| {
        if to > cursor {
            out.push(Segment {
                kind: Kind::Idle,
                px: to - cursor,
                job: None,
                title: secs
                    .map(|s| format!("no jbr job on this server for {}", duration(s)))
                    .unwrap_or_default(),
            });
        }
    };
    for (start, end, j) in placed {
        let name = text::job_name(&j.job_id, &j.label);
        let bt = before_trigger(j);
        let enabled = start - bt;
        // The bar starts where the job did; a sliver of exposure too short to see grows to the
        // left, into idle track, rather than pushing the bar late.
        let job_x0 = x(start).max(cursor);
        let exposed_x0 = if bt > 0.0 {
            x(enabled)
                .min(job_x0.saturating_sub(MIN_BAR_PX))
                .max(cursor)
        } else {
            job_x0
        };
        idle(&mut out, cursor, exposed_x0, last_end.map(|e| enabled - e));
        if job_x0 > exposed_x0 {
            out.push(Segment {
                kind: Kind::Exposed,
                px: job_x0 - exposed_x0,
                job: Some(j),
                title: format!(
                    "{name}: enabled and waiting {} for its trigger from {} (the server's scheduler could have started it)",
                    duration(bt),
                    clock_utc(enabled)
                ),
            });
        }
        let job_x1 = x(end).max(job_x0 + MIN_BAR_PX);
        let runs = match j.scheduler_runs {
            0 => String::new(),
            n => format!("; the server's scheduler ran it {n} time(s) too"),
        };
        out.push(Segment {
            kind: Kind::Job,
            px: job_x1 - job_x0,
            job: Some(j),
            title: format!(
                "{} {name}: {}, {} to {} ({}){runs}",
                j.server,
                j.outcome.as_str(),
                clock_utc(start),
                clock_utc(end),
                duration(end - start)
            ),
        });
        cursor = job_x1;
        last_end = Some(end);
    }
    idle(&mut out, cursor, TRACK_PX, None);
    out
}

/// The servers in the report's order: the record's servers, then any that only jobs name.
fn servers(record: &RunRecord) -> Vec<&str> {
    let mut names: Vec<&str> = record.servers.iter().map(|s| s.server.as_str()).collect();
    for j in &record.jobs {
        if !names.contains(&j.server.as_str()) {
            names.push(&j.server);
        }
    }
    names
}

/// One row per server: its name (and a badge when a foreign backup was seen there), then its
/// track. A skipped server's track says why instead.
fn write_timeline(out: &mut String, record: &RunRecord) {
    let names = servers(record);
    if names.is_empty() {
        return;
    }
    let (from, span) = axis(record);
    let _ = write!(
        out,
        "<p style=\"margin:0 0 4px;font-weight:bold\">The night, {} to {} ({})</p>\n\
         <table role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" \
         style=\"border-collapse:collapse;font-size:12px\">\n",
        clock_utc(from),
        clock_utc(from + span),
        duration(span)
    );
    let mut shown = Shown::default();
    for server in names {
        let jobs: Vec<&JobRecord> = record.jobs.iter().filter(|j| j.server == server).collect();
        let foreign: Vec<&str> = record
            .alerts
            .iter()
            .filter(|a| a.kind == AlertKind::ForeignBackup && a.server.as_deref() == Some(server))
            .map(|a| a.message.as_str())
            .collect();
        let _ = write!(
            out,
            "<tr data-server=\"{}\"><td style=\"padding:4px 8px 4px 0;white-space:nowrap;vertical-align:middle\">{}",
            esc(server),
            esc(server)
        );
        if !foreign.is_empty() {
            shown.foreign = true;
            let _ = write!(
                out,
                "<span data-kind=\"foreign\" title=\"{}\" style=\"margin-left:6px;background-color:{FOREIGN};color:#ffffff;padding:0 4px;font-size:11px\">foreign backup</span>",
                esc(&foreign.join("\n"))
            );
        }
        out.push_str("</td><td style=\"padding:4px 0;vertical-align:middle\">");
        let skipped = record
            .servers
            .iter()
            .find(|s| s.server == server)
            .and_then(|s| s.skipped.as_deref());
        match skipped {
            Some(why) if jobs.iter().all(|j| drawn(j).is_none()) => {
                let _ = write!(
                    out,
                    "<table role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" width=\"{TRACK_PX}\" style=\"width:{TRACK_PX}px;border-collapse:collapse\"><tr><td data-kind=\"skipped\" bgcolor=\"{IDLE}\" style=\"background-color:{IDLE};color:#424242;font-style:italic;padding:2px 6px\">skipped: {}</td></tr></table>",
                    esc(why)
                );
            }
            _ => write_track(out, &segments(&jobs, from, span), &mut shown),
        }
        out.push_str("</td></tr>\n");
    }
    write_axis(out, from, span);
    out.push_str("</table>\n");
    write_legend(out, record, &shown);
}

/// The clock's ticks over the axis: each round UTC time (every 1, 5, 15 or 30 minutes, or 1 to
/// 12 hours, whichever gives at most 8). A span of days (a server clock far off) gets whole
/// days, still at most 8 or 9 ticks, so a bad clock cannot bloat the mail.
fn ticks(from: f64, span: f64) -> Vec<f64> {
    const STEPS: [f64; 9] = [
        60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 10_800.0, 21_600.0, 43_200.0,
    ];
    let step = STEPS
        .into_iter()
        .find(|step| span / step <= 8.0)
        .unwrap_or_else(|| (span / 8.0 / 86_400.0).ceil().max(1.0) * 86_400.0);
    let mut ticks = Vec::new();
    let mut t = (from / step).ceil() * step;
    while t <= from + span && ticks.len() < 10 {
        ticks.push(t);
        t += step;
    }
    ticks
}

/// Under the tracks, the clock, so a bar's time can be read off the picture.
fn write_axis(out: &mut String, from: f64, span: f64) {
    let x = |t: f64| (((t - from) / span) * f64::from(TRACK_PX)).round() as u32;
    let ticks = ticks(from, span);
    let _ = write!(
        out,
        "<tr><td></td><td style=\"padding:0\"><table role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" width=\"{TRACK_PX}\" style=\"width:{TRACK_PX}px;border-collapse:collapse;table-layout:fixed;font-size:10px;color:#616161\"><tr>"
    );
    let first = ticks.first().map_or(TRACK_PX, |&t| x(t));
    if first > 0 {
        let _ = write!(out, "<td width=\"{first}\" style=\"width:{first}px\"></td>");
    }
    // The tick's line is its label's left border, inside the cell: padding or a border on the
    // cell itself would widen it and push every later tick right.
    for (i, &t) in ticks.iter().enumerate() {
        let x0 = x(t);
        let x1 = ticks.get(i + 1).map_or(TRACK_PX, |&n| x(n));
        let px = x1.saturating_sub(x0).max(1);
        let _ = write!(
            out,
            "<td data-kind=\"tick\" width=\"{px}\" style=\"width:{px}px;padding:0;white-space:nowrap;overflow:hidden\"><span style=\"border-left:1px solid #9e9e9e;padding-left:2px\">{}</span></td>",
            &clock_utc(t)[..5]
        );
    }
    out.push_str("</tr></table></td></tr>\n");
}

/// Which marks the timeline used, so the legend explains exactly those.
#[derive(Default)]
struct Shown {
    exposed: bool,
    scheduler: bool,
    foreign: bool,
    outcomes: Vec<Outcome>,
}

/// A track is a one-row table of fixed-width cells (`table-layout:fixed`, so clients honour the
/// widths), with a thin row above it when the scheduler ran one of its jobs: a stripe over that
/// job's bar.
fn write_track(out: &mut String, segs: &[Segment<'_>], shown: &mut Shown) {
    let width: u32 = segs.iter().map(|s| s.px).sum();
    let _ = write!(
        out,
        "<table role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" width=\"{width}\" style=\"width:{width}px;border-collapse:collapse;table-layout:fixed\">"
    );
    let scheduled =
        |s: &Segment<'_>| s.kind == Kind::Job && s.job.is_some_and(|j| j.scheduler_runs > 0);
    if segs.iter().any(scheduled) {
        shown.scheduler = true;
        out.push_str("<tr>");
        for s in segs {
            if scheduled(s) {
                let _ = write!(
                    out,
                    "<td data-kind=\"scheduler\" width=\"{px}\" height=\"4\" bgcolor=\"{SCHEDULER}\" title=\"{}\" style=\"width:{px}px;height:4px;background-color:{SCHEDULER};font-size:0;line-height:0\"></td>",
                    esc(&s.title),
                    px = s.px
                );
            } else {
                let _ = write!(
                    out,
                    "<td width=\"{px}\" height=\"4\" style=\"width:{px}px;height:4px;font-size:0;line-height:0\"></td>",
                    px = s.px
                );
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("<tr>");
    for s in segs {
        let colour = match (s.kind, s.job) {
            (Kind::Job, Some(j)) => {
                if !shown.outcomes.contains(&j.outcome) {
                    shown.outcomes.push(j.outcome);
                }
                outcome_colour(j.outcome)
            }
            (Kind::Exposed, _) => {
                shown.exposed = true;
                EXPOSED
            }
            _ => IDLE,
        };
        let _ = write!(
            out,
            "<td data-kind=\"{}\" width=\"{px}\" height=\"18\" bgcolor=\"{colour}\"{} style=\"width:{px}px;height:18px;background-color:{colour};font-size:0;line-height:0\">&nbsp;</td>",
            s.kind.name(),
            if s.title.is_empty() {
                String::new()
            } else {
                format!(" title=\"{}\"", esc(&s.title))
            },
            px = s.px
        );
    }
    out.push_str("</tr></table>");
}

/// A swatch and a few words for every colour and mark the timeline used.
fn write_legend(out: &mut String, record: &RunRecord, shown: &Shown) {
    let mut items: Vec<(&str, &str, String)> = Vec::new();
    for o in Outcome::ALL {
        if shown.outcomes.contains(&o) {
            items.push(("outcome", outcome_colour(o), o.as_str().to_string()));
        }
    }
    if shown.exposed {
        items.push((
            "exposed",
            EXPOSED,
            "enabled, waiting for jbr's trigger: the server's scheduler could start it".into(),
        ));
    }
    if shown.scheduler {
        items.push((
            "scheduler",
            SCHEDULER,
            "stripe above a bar: the server's scheduler ran that job too, within the bar".into(),
        ));
    }
    if shown.foreign {
        items.push((
            "foreign",
            FOREIGN,
            "a backup jbr did not start wrote to the NAS on that server (see alerts)".into(),
        ));
    }
    items.push(("idle", IDLE, "no jbr job on that server".into()));
    let _ = write!(
        out,
        "<table role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" style=\"border-collapse:collapse;margin:6px 0 0;font-size:12px;color:#424242\">"
    );
    for (kind, colour, words) in items {
        let _ = write!(
            out,
            "<tr data-legend=\"{kind}\"><td width=\"12\" height=\"12\" bgcolor=\"{colour}\" style=\"width:12px;height:12px;background-color:{colour};font-size:0;line-height:0\">&nbsp;</td><td style=\"padding:1px 6px\">{}</td></tr>",
            esc(&words)
        );
    }
    let drawn_jobs = record.jobs.iter().filter(|j| drawn(j).is_some()).count();
    if drawn_jobs < record.jobs.len() {
        let _ = write!(
            out,
            "<tr><td></td><td style=\"padding:1px 6px\">{} job(s) have no time on the night's axis and no bar; the table shows them</td></tr>",
            record.jobs.len() - drawn_jobs
        );
    }
    out.push_str("</table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn esc_covers_text_and_attributes() {
        assert_eq!(
            esc(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
    }

    #[test]
    fn ticks_are_round_times_and_few_whatever_the_span() {
        // 2026-11-18T11:06:40Z, three hours: every half hour from 11:30.
        let t = ticks(1_795_000_000.0, 10_800.0);
        let shown: Vec<String> = t.iter().map(|&t| clock_utc(t)).collect();
        assert_eq!(
            shown,
            [
                "11:30:00", "12:00:00", "12:30:00", "13:00:00", "13:30:00", "14:00:00"
            ]
        );
        // A job stamped at the epoch (a clock that was never set): still a handful of ticks.
        let t = ticks(0.0, 1_795_000_000.0);
        assert!((1..=9).contains(&t.len()), "{}", t.len());
        assert!(ticks(100.0, 1.0).len() <= 1);
    }

    #[test]
    fn a_short_job_still_gets_a_bar_and_rounding_never_adds_up() {
        let mut a = JobRecord::new("s", "a", "", Outcome::Completed);
        a.start = Some(0.0);
        a.end = Some(0.5);
        let mut b = JobRecord::new("s", "b", "", Outcome::Failed);
        b.start = Some(5000.0);
        b.end = Some(10_000.0);
        let segs = segments(&[&a, &b], 0.0, 10_000.0);
        let kinds: Vec<(&str, u32)> = segs.iter().map(|s| (s.kind.name(), s.px)).collect();
        assert_eq!(
            kinds,
            [("job", MIN_BAR_PX), ("idle", 298), ("job", 300)],
            "{kinds:?}"
        );
    }
}
