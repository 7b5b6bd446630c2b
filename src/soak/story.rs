//! `-v`: one night told in full (fleet, faults, interruption, every call, jbr's reports, the
//! simulator's truth, the verdict). Only seed-derived data goes in, so the same seed prints
//! the same story byte for byte.

use std::fmt::Write;

use crate::sim::{Fault, FaultKind, Settings, When, log_status};

use super::check::Violation;
use super::night::{self, BASE, Down, Interruption, Night};
use super::play::Played;

fn settings(s: &Settings) -> String {
    let exposure = match s.exposure {
        Some(e) => format!("fires a job idle and enabled for {e:.0} s"),
        None => "only explicit ticks".to_string(),
    };
    format!(
        "codes {:?}, flags {:?}, groups {:?}, logs {}, log type of manual runs {}, group log_id {}, processing code {}, manageDestinationState {:?}, disabled-job trigger reply {:?}, list cap {:?}, startup {:.0} s, abort {:.0} s, a disabled job's run {:?}; scheduler: {exposure}",
        s.status_family,
        s.flag_style,
        s.list_order,
        match s.log_order {
            None => "honour sort".to_string(),
            Some(o) => format!("{o:?} (sort ignored)"),
        },
        s.manual_log_type,
        if s.group_log_id { "given" } else { "absent" },
        s.processing_code,
        s.destination_state_fn,
        s.disabled_trigger_reply,
        s.list_cap,
        s.startup_delay,
        s.abort_delay,
        s.disabled_run,
    )
}

fn fault(f: &Fault) -> String {
    let what = f.function.as_deref().unwrap_or("every call");
    let when = match f.when {
        When::Call(k) => format!("call {k}"),
        When::Calls(a, b) => format!("calls {a}-{b}"),
        When::WhileProcessing => "while writing".to_string(),
        When::Always => "always".to_string(),
        When::Between(a, b) => format!("+{:.0}..+{:.0} s", a - BASE, b - BASE),
    };
    let kind = match &f.kind {
        FaultKind::Stall(s) => format!("stall {s:.0} s"),
        other => format!("{other:?}"),
    };
    let effect = if f.takes_effect {
        " (the call takes effect)"
    } else {
        ""
    };
    format!("{what} {when}: {kind}{effect}")
}

fn header(n: &Night, out: &mut String) {
    let _ = writeln!(
        out,
        "night {}: {} server(s), {} job(s); poll {} s, startup_timeout {} s, job_timeout {} s, call_timeout {} s; --abort-foreign {}; disable_while_running {}; window_end {}",
        n.seed,
        n.servers.len(),
        n.jobs(),
        night::POLL,
        night::STARTUP_TIMEOUT,
        night::JOB_TIMEOUT,
        night::CALL_TIMEOUT,
        if n.abort_foreign { "yes" } else { "no" },
        n.disable_while_running,
        n.window_end
            .map_or("none".to_string(), |t| format!("{t} UTC")),
    );
    let _ = writeln!(
        out,
        "interruption: {}",
        match n.interruption {
            Interruption::None => "none".to_string(),
            Interruption::Crash { call, after, gap } => format!(
                "crash at call {call} ({}), nobody watching for {gap:.0} s",
                if after {
                    "it reached the server, its answer is lost"
                } else {
                    "it never reached the server"
                }
            ),
            Interruption::Sigterm { call } => format!("SIGTERM before call {call}"),
        }
    );
    let _ = writeln!(out, "fleet:");
    for s in &n.servers {
        let _ = writeln!(out, "  {}: {}", s.name, settings(&s.settings));
        match s.down {
            Down::Never => {}
            Down::ForGood => {
                let _ = writeln!(out, "    down for good");
            }
            Down::During(a, b) => {
                let _ = writeln!(out, "    down +{a:.0}..+{b:.0} s");
            }
        }
        if s.dest_by_other {
            let _ = writeln!(out, "    its destination was disabled by someone else");
        }
        for (i, j) in s.jobs.iter().enumerate() {
            let past: Vec<String> = j
                .past
                .iter()
                .map(|(ago, o, by)| {
                    format!(
                        "-{ago:.0} s {o:?} ({})",
                        if *by { "scheduler" } else { "by hand" }
                    )
                })
                .collect();
            let _ = writeln!(
                out,
                "    {} {:.0} s {:?}, {} item(s){}{}{}",
                j.name,
                j.duration,
                j.outcome,
                j.items,
                j.timeout
                    .map(|t| format!(", timeout {t:.0} s"))
                    .unwrap_or_default(),
                if past.is_empty() {
                    String::new()
                } else {
                    format!("; earlier: {}", past.join(", "))
                },
                if s.foreign == Some(i) {
                    "; a backup of it started outside jbr is writing at the start"
                } else {
                    ""
                }
            );
        }
        for f in &s.faults {
            let _ = writeln!(out, "    fault: {}", fault(f));
        }
    }
    for (at, s) in &n.ticks {
        let name = n.servers.get(*s).map(|s| s.name.as_str()).unwrap_or("?");
        let _ = writeln!(out, "outside: scheduler tick on {name} at +{at:.0} s");
    }
}

pub fn render(p: &Played, violations: &[Violation]) -> String {
    let mut out = String::new();
    header(&p.night, &mut out);
    if !p.foreign_groups.is_empty() {
        let _ = writeln!(
            out,
            "outside: foreign backup group(s) {}",
            p.foreign_groups.join(", ")
        );
    }
    let _ = writeln!(out, "calls:");
    for s in &p.sent {
        let run = if s.run == 0 { "night" } else { "recovery" };
        let call = match s.argv.as_slice() {
            [_, f, function, d, data, ..] if f == "-F" && d == "-D" => {
                format!("{function} {data}")
            }
            [_, f, function, ..] if f == "-F" => function.clone(),
            other => other.join(" "),
        };
        let _ = writeln!(out, "  {run} +{:.1} {} {call}", s.at, s.server);
    }
    for (name, r) in [("night", &p.first), ("recovery", &p.recovery)] {
        match r {
            Some(r) => {
                let _ = writeln!(out, "jbr's report ({name} run):");
                for line in crate::report::text::render(r).lines() {
                    let _ = writeln!(out, "  | {line}");
                }
            }
            None if name == "night" => {
                let _ = writeln!(out, "jbr's report (night run): none, it crashed");
            }
            None => {}
        }
    }
    if let Some(why) = p.recovery_why {
        let _ = writeln!(
            out,
            "recovery run at +{:.0} s: {why}",
            p.recovery_start.unwrap_or(0.0)
        );
    }
    let _ = writeln!(out, "truth (the simulator's groups of tonight):");
    for (name, s) in &p.world.servers {
        for g in s.groups.iter().filter(|g| g.created >= BASE) {
            let job = s.job(&g.job_id).map(|j| j.name.as_str()).unwrap_or("?");
            let t = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("+{:.0}", x - BASE));
            let _ = writeln!(
                out,
                "  {name} {job} group {} ({}) created +{:.0} wrote {}..{} status {:?} ({:?}) log {} log status {}{}",
                g.id,
                if g.scheduled { "scheduler" } else { "trigger" },
                g.created - BASE,
                t(g.started),
                t(g.ended),
                g.status,
                g.final_outcome,
                g.log_id,
                log_status(g),
                if g.stop_at.is_some() {
                    ", stop sent"
                } else {
                    ""
                }
            );
        }
    }
    let _ = writeln!(out, "simulated time: {:.0} s", p.end);
    if violations.is_empty() {
        let _ = writeln!(out, "verdict: every invariant holds");
    } else {
        for v in violations {
            let _ = writeln!(out, "VIOLATION {}: {}", v.invariant, v.detail);
        }
    }
    out
}
