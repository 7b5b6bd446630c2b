//! The invariants, checked on the simulator's ground truth (its timeline, its groups, the calls
//! it saw), never on jbr's own account of the night. The outcome a group deserves is derived
//! here from the simulator's state, independently of `orchestrator::verify`.

use std::collections::BTreeMap;

use crate::report::{Outcome, RunRecord};
use crate::sim::{
    FinalState, Group, Outcome as SimOutcome, When, World, item_status, log_status, max_concurrent,
};

use super::night::BASE;
use super::play::Played;

#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub invariant: &'static str,
    pub detail: String,
}

fn v(invariant: &'static str, detail: String) -> Violation {
    Violation { invariant, detail }
}

pub fn check(p: &Played) -> Vec<Violation> {
    let mut out = Vec::new();
    one_writer(p, &mut out);
    left_as_found(p, &mut out);
    let runs: Vec<(&str, &RunRecord)> = [
        ("night", p.first.as_ref()),
        ("recovery", p.recovery.as_ref()),
    ]
    .into_iter()
    .filter_map(|(n, r)| r.map(|r| (n, r)))
    .collect();
    for (name, r) in &runs {
        record_is_true(p, name, r, &mut out);
        exit_follows(name, r, &mut out);
    }
    everything_reported(p, &runs, &mut out);
    triggered_once(p, &mut out);
    window_held(p, &mut out);
    grammar(p, &mut out);
    out
}

/// No jbr trigger at or after its run's night window closed (`orchestrator.window_end`), and a
/// job the window left out was never triggered by that run.
fn window_held(p: &Played, out: &mut Vec<Violation>) {
    let Some(end) = p.night.window_end else {
        return;
    };
    // Each run's own window, from its start: a crashed run left no record to read it from.
    let closes = |start: f64| {
        crate::orchestrator::night::NightWindow::for_run(
            end,
            crate::config::WindowPolicy::Start,
            start,
            &jiff::tz::TimeZone::UTC,
        )
        .map(|w| w.closes)
    };
    let recovery_at = p.recovery_start.map(|s| BASE + s);
    let (first, recovery) = (closes(BASE), recovery_at.and_then(closes));
    for (server, s) in &p.world.servers {
        for c in s
            .call_log
            .iter()
            .filter(|c| c.function == "runBackupJobManually")
        {
            let in_recovery = recovery_at.is_some_and(|r| c.at >= r);
            let close = if in_recovery { recovery } else { first };
            if let Some(close) = close
                && c.at >= close
            {
                out.push(v(
                    "night window",
                    format!(
                        "{server}: job {} triggered at +{:.0} s, the window closed at +{:.0} s",
                        c.params.get("_id").map_or("?", String::as_str),
                        c.at - BASE,
                        close - BASE
                    ),
                ));
            }
        }
    }
}

/// Never two NAS writers (tonight's intervals; earlier nights' runs are history).
fn one_writer(p: &Played, out: &mut Vec<Violation>) {
    let tonight: Vec<_> = p
        .timeline
        .iter()
        .filter(|i| i.end.is_none_or(|e| e > BASE))
        .cloned()
        .collect();
    if max_concurrent(&tonight) <= 1 {
        return;
    }
    for (i, a) in tonight.iter().enumerate() {
        for b in &tonight[i + 1..] {
            let a_end = a.end.unwrap_or(f64::INFINITY);
            if b.start < a_end && a.start < b.end.unwrap_or(f64::INFINITY) {
                out.push(v(
                    "one writer",
                    format!(
                        "{} {} (group {}) wrote +{:.0}..{} while {} {} (group {}) started at +{:.0}",
                        a.server,
                        a.job_name,
                        a.group_id,
                        a.start - BASE,
                        a.end.map_or("still".into(), |e| format!("+{:.0}", e - BASE)),
                        b.server,
                        b.job_name,
                        b.group_id,
                        b.start - BASE
                    ),
                ));
                return;
            }
        }
    }
}

/// What was enabled at the start by someone else (a foreign backup's destination) is not
/// jbr's to judge; everything else must be disabled, nothing of tonight still running.
/// `sigtermed`: the state right after a SIGTERMed run, which owes no abort of a foreign backup:
/// that backup was running when jbr came, so leaving it running is leaving it as found.
fn leftovers(p: &Played, fin: &FinalState, runs: &[&RunRecord], sigtermed: bool) -> Vec<String> {
    // Someone else left a foreign backup's destination enabled: jbr closes it after a window
    // it opened there, and leaves it as found if it never got to that server.
    let windowed = |server: &str| {
        runs.iter().any(|r| {
            r.servers.iter().any(|s| {
                s.server == server
                    && s.actions
                        .iter()
                        .any(|a| a.what.starts_with("enable destination"))
            })
        })
    };
    let exempt: Vec<String> = p
        .night
        .servers
        .iter()
        .filter(|s| s.foreign.is_some() && !windowed(&s.name))
        .map(|s| format!("{}: destination nas (", s.name))
        .collect();
    let mut left: Vec<String> = fin
        .enabled
        .iter()
        .filter(|e| !exempt.iter().any(|x| e.starts_with(x.as_str())))
        .cloned()
        .collect();
    // A foreign backup that outlives job_timeout is not jbr's to stop (without --abort-foreign).
    let foreign_ok = |r: &str| {
        (!p.night.abort_foreign || sigtermed)
            && p.foreign_groups.iter().any(|g| r.contains(g.as_str()))
    };
    left.extend(fin.running.iter().filter(|r| !foreign_ok(r)).cloned());
    left
}

fn left_as_found(p: &Played, out: &mut Vec<Violation>) {
    let fin = p.world.final_state();
    let runs: Vec<&RunRecord> = [&p.first, &p.recovery].into_iter().flatten().collect();
    let left = leftovers(p, &fin, &runs, false);
    if !left.is_empty() {
        out.push(v(
            "left as found",
            format!("after the last run: {}", left.join("; ")),
        ));
    }
    if !p.open_changes.is_empty() {
        out.push(v(
            "left as found",
            format!("journal not empty after the last run: {:?}", p.open_changes),
        ));
    }
    // SIGTERM: that run itself leaves everything as found (unless it said it could not).
    if p.interrupted
        && let (Some(first), Some(after)) = (&p.first, &p.after_first)
        && first.critical.is_empty()
    {
        let left = leftovers(p, after, &[first], true);
        if !left.is_empty() {
            out.push(v(
                "left as found",
                format!("after the SIGTERMed run: {}", left.join("; ")),
            ));
        }
    }
}

fn groups(world: &World) -> BTreeMap<(&str, &str), &Group> {
    world
        .servers
        .iter()
        .flat_map(|(name, s)| {
            s.groups
                .iter()
                .map(move |g| ((name.as_str(), g.id.as_str()), g))
        })
        .collect()
}

/// Whether a fault on `server` can hide a log from jbr.
fn log_faults(world: &World, server: &str) -> bool {
    world.servers.get(server).is_some_and(|s| {
        s.faults.iter().any(|f| match &f.function {
            Some(name) => name == "getLog" || name == "listLogs",
            None => !matches!(f.when, When::WhileProcessing),
        })
    })
}

/// What the simulator's group deserves: status, items and log each give a verdict (100 ok,
/// 101/102 partial, other codes failed; a failed item partial; log 4 partial, 2/3/5 failed),
/// and the worst counts. `items`/`log`: whether jbr could read that source.
fn deserved(world: &World, server: &str, g: &Group, items: bool, log: bool) -> Outcome {
    let code = world
        .servers
        .get(server)
        .map(|s| s.settings.processing_code)
        .unwrap_or(2);
    let mut verdicts = vec![match g.status {
        Some(100) => Outcome::Completed,
        Some(101 | 102) => Outcome::Partial,
        _ => Outcome::Failed,
    }];
    if items {
        let failed = (0..g.item_ids.len()).any(|i| item_status(g, i, code) != 100);
        verdicts.push(if failed {
            Outcome::Partial
        } else {
            Outcome::Completed
        });
    } else if g.status == Some(100) {
        verdicts.push(Outcome::Warnings);
    }
    if log {
        verdicts.push(match log_status(g) {
            1 => Outcome::Completed,
            4 => Outcome::Partial,
            _ => Outcome::Failed,
        });
    }
    verdicts
        .into_iter()
        .max_by_key(|o| o.severity())
        .unwrap_or(Outcome::Failed)
}

fn record_is_true(p: &Played, run: &str, r: &RunRecord, out: &mut Vec<Violation>) {
    let all = groups(&p.world);
    let mut seen = std::collections::BTreeSet::new();
    for j in &r.jobs {
        let who = format!("{run}: {} {} ({})", j.server, j.label, j.outcome.as_str());
        if !seen.insert((j.server.clone(), j.job_id.clone())) {
            out.push(v("record is true", format!("{who}: listed twice")));
        }
        let group = j
            .group_id
            .as_deref()
            .and_then(|g| all.get(&(j.server.as_str(), g)).copied());
        if let (Some(id), None) = (&j.group_id, group) {
            out.push(v(
                "record is true",
                format!("{who}: names group {id}, which its server does not have"),
            ));
            continue;
        }
        if let Some(g) = group
            && g.job_id != j.job_id
        {
            out.push(v(
                "record is true",
                format!("{who}: names group {} of another job", g.id),
            ));
            continue;
        }
        let msg = j.message.as_str();
        match (j.outcome, group) {
            (
                Outcome::Completed | Outcome::Warnings | Outcome::Partial | Outcome::Failed,
                Some(g),
            ) if !msg.contains("cancelled (SIGTERM)") => {
                if g.created < BASE {
                    out.push(v(
                        "record is true",
                        format!("{who}: its group {} is from an earlier night", g.id),
                    ));
                    continue;
                }
                if g.ended.is_none() {
                    out.push(v(
                        "record is true",
                        format!("{who}: its group {} has not ended", g.id),
                    ));
                    continue;
                }
                let items = !msg.contains("queue items unreadable");
                let log = !(msg.contains("logs unreadable") || msg.contains("no log for this run"));
                let want = deserved(&p.world, &j.server, g, items, log);
                if want != j.outcome {
                    out.push(v(
                        "record is true",
                        format!(
                            "{who}: group {} ended {:?} ({:?}), log status {}: deserves {}; message: {msg}",
                            g.id,
                            g.status,
                            g.final_outcome,
                            log_status(g),
                            want.as_str()
                        ),
                    ));
                }
                // "No log" must be true: the simulator always has one for an ended group, so
                // only a fault on the log calls (or the whole server) excuses it.
                if msg.contains("no log for this run") && !log_faults(&p.world, &j.server) {
                    out.push(v(
                        "record is true",
                        format!(
                            "{who}: says \"no log for this run\", but its run's log is {}",
                            g.log_id
                        ),
                    ));
                }
                if log && j.log_id.as_deref() != Some(g.log_id.as_str()) {
                    out.push(v(
                        "record is true",
                        format!(
                            "{who}: shows log {:?}, but its run's log is {}",
                            j.log_id, g.log_id
                        ),
                    ));
                }
            }
            (Outcome::Completed | Outcome::Warnings, None) => {
                out.push(v(
                    "record is true",
                    format!("{who}: a success with no queue group"),
                ));
            }
            // Aborted: by jbr's stop, or it ended as aborted by itself past its timeout.
            (Outcome::TimedOutAborted, Some(g))
                if g.ended.is_none()
                    || g.status == Some(100)
                    || (g.stop_at.is_none() && g.final_outcome != Some(SimOutcome::Aborted)) =>
            {
                out.push(v(
                    "record is true",
                    format!(
                        "{who}: group {} ended {:?}, stop sent: {}",
                        g.id,
                        g.status,
                        g.stop_at.is_some()
                    ),
                ));
            }
            // Cancelled: aborted, and the stop confirmed.
            (Outcome::Failed, Some(g)) if g.ended.is_none() => {
                out.push(v(
                    "record is true",
                    format!("{who}: group {} still running", g.id),
                ));
            }
            _ => {}
        }
    }
}

/// The exit code follows from the record: 4 critical, 1 any job not a success (or cancelled),
/// else 0.
fn exit_follows(run: &str, r: &RunRecord, out: &mut Vec<Violation>) {
    let want = if !r.critical.is_empty() {
        4
    } else if r.cancelled
        || r.jobs.iter().any(|j| {
            !matches!(
                j.outcome,
                Outcome::Completed | Outcome::Warnings | Outcome::DisabledInConfig
            )
        })
    {
        1
    } else {
        0
    };
    let got = r.exit().code();
    if got != want {
        out.push(v(
            "exit follows the record",
            format!("{run}: exit {got}, the record means {want}"),
        ));
    }
}

/// Every backup that wrote tonight is one jbr followed or reported, by its group id, unless
/// it wrote entirely while no run of jbr was alive (after a crash).
fn everything_reported(p: &Played, runs: &[(&str, &RunRecord)], out: &mut Vec<Violation>) {
    let text: String = runs
        .iter()
        .map(|(_, r)| crate::report::to_json(r))
        .collect();
    let first_end = p
        .sent
        .iter()
        .filter(|s| s.run == 0)
        .map(|s| s.at)
        .fold(0.0, f64::max);
    for (name, s) in &p.world.servers {
        for g in &s.groups {
            let Some(started) = g.started else {
                continue;
            };
            if g.created < BASE || text.contains(&g.id) {
                continue;
            }
            let ended = g.ended.unwrap_or(f64::INFINITY) - BASE;
            let crashed = p.first.is_none();
            let unwatched = crashed
                && p.recovery_start
                    .is_some_and(|r| started - BASE >= first_end && ended <= r);
            // A crash loses that run's report, not what it did: a backup it followed (it
            // polled that very group) counts as followed.
            let followed_by_the_crashed_run = crashed
                && p.sent
                    .iter()
                    .any(|c| c.run == 0 && c.argv.iter().any(|a| a.contains(g.id.as_str())));
            // A foreign backup that was over before jbr first got the server's list of
            // groups is one jbr could not see (it then wrote alone: pre-flight starts
            // nothing). A list whose answer was lost, refused or garbled showed nothing.
            let first_call = p
                .sent
                .iter()
                .filter(|c| &c.server == name && c.argv.iter().any(|a| a == "listQueueGroups"))
                .find(|c| c.answered.is_some())
                .map_or(f64::INFINITY, |c| c.at);
            // Or over before the restart looked, when the run that saw it crashed (a crash
            // loses that run's report; the restart can only report what it sees).
            let lost_with_the_crash = crashed && p.recovery_start.is_some_and(|r| ended <= r);
            let unseen_foreign =
                p.foreign_groups.contains(&g.id) && (ended <= first_call || lost_with_the_crash);
            if unwatched || followed_by_the_crashed_run || unseen_foreign {
                continue;
            }
            let job = s.job(&g.job_id).map(|j| j.name.as_str()).unwrap_or("?");
            let by = if g.scheduled {
                "the server's scheduler"
            } else {
                "a trigger"
            };
            out.push(v(
                "every backup followed or reported",
                format!(
                    "{name} {job}: group {} ({by}) wrote +{:.0}..+{:.0} and no record names it",
                    g.id,
                    started - BASE,
                    ended
                ),
            ));
        }
    }
}

/// jbr never triggers a job twice in one night without saying so: at most once per run, and
/// a second trigger by the recovery run is named in its record.
fn triggered_once(p: &Played, out: &mut Vec<Violation>) {
    // The calls jbr sent, by run; a crash's last call never reached the server unless the
    // crash came after it.
    let mut sent: Vec<&super::play::Sent> = p.sent.iter().collect();
    if let super::night::Interruption::Crash { after: false, .. } = p.night.interruption
        && p.first.is_none()
        && let Some(last) = sent.iter().rposition(|c| c.run == 0)
    {
        sent.remove(last);
    }
    for name in p.world.servers.keys() {
        let mut count: BTreeMap<(&str, usize), u32> = BTreeMap::new();
        for c in sent.iter().filter(|c| &c.server == name) {
            let a: Vec<&str> = c.argv.iter().map(String::as_str).collect();
            if let [
                "jetbackup5api",
                "-F",
                "runBackupJobManually",
                "-D",
                data,
                ..,
            ] = a.as_slice()
            {
                let id = data.strip_prefix("_id=").unwrap_or(data);
                *count.entry((id, c.run)).or_default() += 1;
            }
        }
        for ((id, run), n) in &count {
            // disable_while_running's safety net runs a job once more, and says so.
            // (A crashed run's report is lost; its recovery says what it found.)
            let record = if *run == 0 { &p.first } else { &p.recovery };
            let again = record.as_ref().is_some_and(|r| {
                r.jobs.iter().any(|j| {
                    &j.server == name
                        && j.job_id == *id
                        && j.message
                            .contains("run again with the job enabled throughout")
                })
            }) || (*run == 0
                && p.first.is_none()
                && p.recovery.as_ref().is_some_and(|r| {
                    r.recovered.iter().any(|l| {
                        l.contains(&format!("job {id}:"))
                            && l.contains("does not let a disabled job's backup finish")
                    })
                }));
            if *n > 1 + u32::from(again) {
                out.push(v(
                    "triggered once",
                    format!("{name}: job {id} triggered {n} times by one run"),
                ));
            }
            // A crash's restart is the same night; after SIGTERM or a critical end, the next
            // run is a new one the operator (or the next timer) starts.
            if *run == 1 && p.first.is_none() && count.contains_key(&(*id, 0)) {
                let said = p.recovery.as_ref().is_some_and(|r| {
                    r.recovered.iter().any(|l| {
                        // The replay's own words for a trigger of the interrupted run:
                        // seen to its end there, or still open and settled now.
                        l.contains(id)
                            && (l.contains("already ran to its end in the interrupted run")
                                || l.contains("triggered by run")
                                || l.contains("it is backed up again"))
                    })
                });
                if !said {
                    out.push(v(
                        "triggered once",
                        format!("{name}: job {id} triggered by the night's run and again by the recovery, which does not say so"),
                    ));
                }
            }
            // A job the recovery reports as completed in the interrupted run is one it does
            // not back up again.
            if *run == 1
                && p.recovery.as_ref().is_some_and(|r| {
                    r.jobs.iter().any(|j| {
                        &j.server == name
                            && j.job_id == *id
                            && j.message.starts_with("completed (in the interrupted run")
                    })
                })
            {
                out.push(v(
                    "triggered once",
                    format!("{name}: job {id} reported completed in the interrupted run, and triggered again by the recovery"),
                ));
            }
        }
    }
}

/// No call outside the contract's grammar (checked here on its own, not by jbr's builder).
fn grammar(p: &Played, out: &mut Vec<Violation>) {
    let key_ok = |k: &str| {
        !k.is_empty()
            && k.bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"_.[]".contains(&c))
    };
    let value_ok = |v: &str| {
        v.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"_.:-".contains(&c))
    };
    for s in &p.sent {
        let a: Vec<&str> = s.argv.iter().map(String::as_str).collect();
        let ok = match a.as_slice() {
            ["echo", "jbr-ping"] => true,
            ["jetbackup5api", "-F", f, rest @ ..] => {
                let allowed = crate::contract::ALLOWED_FUNCTIONS.contains(f);
                let data_ok = match rest {
                    ["-D", data, "-O", "json"] => data.split('&').all(|pair| {
                        pair.split_once('=')
                            .is_some_and(|(k, v)| key_ok(k) && value_ok(v))
                    }),
                    ["-O", "json"] => true,
                    _ => false,
                };
                allowed && data_ok
            }
            _ => false,
        };
        if !ok {
            out.push(v("contract grammar", format!("{}: {:?}", s.server, s.argv)));
        }
    }
}
