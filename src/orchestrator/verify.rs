//! After a job: what its final status, queue items and log say, turned into an outcome and the
//! details a person needs.
//!
//! The rule (invariant 5, issue 9): the outcome is the **worst** that any source says about
//! *this* run. The queue group jbr followed, its items, and the log that provably belongs to that
//! group each give a verdict; none of them can make another's better. A log counts only when it
//! is tied to the group: by the group's `log_id`, or (when the server gives none) by job and by
//! starting within the group's lifetime. List order and yesterday's logs never change anything;
//! a log that cannot be tied is reported as "no log for this run", never shown as this one's.
//! (An acceptance run once saw a 102 with 1 of 1 items failed reported as `warnings`, exit 0:
//! the type-filtered log list held only yesterday's log, and it was taken.)

use crate::api::{ApiError, Client, LogEntry, LogStatus, QueueGroup, QueueStatus};
use crate::report::{JobRecord, Outcome};
use crate::transport::Transport;

use super::retry::{self, Policy, Repeat};

/// How many failure messages the record keeps per job.
pub const MAX_FAILURES: usize = 5;

/// What the server says about one finished run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Evidence {
    pub status: QueueStatus,
    /// Failed and total queue items, when they could be read.
    pub items: Option<(u64, u64)>,
    /// The status of the log tied to this run, when there is one.
    pub log: Option<LogStatus>,
}

/// One source's verdict, as an outcome (`None`: that source says nothing definite).
fn by_status(status: QueueStatus) -> Outcome {
    match status.raw() {
        100 => Outcome::Completed,
        // Sources disagree on 101/102 (jetbackup5-api.md): not clean, but maybe usable.
        101 | 102 => Outcome::Partial,
        _ => Outcome::Failed,
    }
}

fn by_items(failed: u64) -> Outcome {
    if failed > 0 {
        Outcome::Partial
    } else {
        Outcome::Completed
    }
}

fn by_log(log: LogStatus) -> Option<Outcome> {
    match log.0 {
        1 => Some(Outcome::Completed),
        4 => Some(Outcome::Partial),
        2 | 3 | 5 => Some(Outcome::Failed),
        // 6 "processing" on a final group, or a code nobody documents: no verdict.
        _ => None,
    }
}

/// The outcome the evidence means, and, when the sources disagree, a note that says so.
pub fn outcome(e: Evidence) -> (Outcome, Option<String>) {
    let status = by_status(e.status);
    let mut verdicts = vec![(
        status,
        format!("queue status {} ({})", e.status.raw(), e.status.name()),
    )];
    if let Some((failed, total)) = e.items {
        let what = if failed > 0 {
            format!("{failed} of {total} items failed")
        } else {
            format!("all {total} items ok")
        };
        verdicts.push((by_items(failed), what));
    }
    let mut odd_log = None;
    if let Some(log) = e.log {
        match by_log(log) {
            Some(o) => verdicts.push((o, format!("log says {}", log.name()))),
            // No verdict, but said: it never makes the outcome better.
            None => {
                odd_log = Some(format!(
                    "the log says {} (status {}) for a finished run",
                    log.name(),
                    log.0
                ))
            }
        }
    }
    let mut result = worst(&verdicts);
    if result == Outcome::Completed && e.items.is_none() {
        // A success nobody could check item by item is not called "completed".
        result = Outcome::Warnings;
    }
    // A disagreement worth saying: some source called the run clean while another did not
    // (a failed item next to a failed status is one story, not two).
    let disagree =
        worst(&verdicts).severity() > 0 && verdicts.iter().any(|(o, _)| *o == Outcome::Completed);
    let note = disagree.then(|| {
        let said: Vec<&str> = verdicts.iter().map(|(_, s)| s.as_str()).collect();
        format!("sources disagree ({}): the worse counts", said.join(", "))
    });
    let note = match (note, odd_log) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    };
    (result, note)
}

fn worst(verdicts: &[(Outcome, String)]) -> Outcome {
    verdicts
        .iter()
        .map(|(o, _)| *o)
        .max_by_key(|o| o.severity())
        .unwrap_or(Outcome::Failed)
}

/// The log of `group`, or why there is none. `Err` when the logs could not be read at all.
async fn log_of_run<T: Transport>(
    policy: &Policy,
    client: &Client<T>,
    group: &QueueGroup,
    job_id: &str,
) -> Result<Result<LogEntry, String>, ApiError> {
    let server = client.server().to_string();
    let belongs = |l: &LogEntry| l.job_id.as_deref().is_none_or(|j| j == job_id);
    if let Some(id) = &group.log_id {
        // The group names its log: ask for exactly that one.
        if let Ok(log) = retry::call(policy, Repeat::Freely, &server, "getLog", || {
            client.get_log(id)
        })
        .await
            && &log.id == id
            && belongs(&log)
        {
            return Ok(Ok(log));
        }
        let logs = retry::call(policy, Repeat::Freely, &server, "listLogs", || {
            client.list_job_logs(job_id)
        })
        .await?;
        return Ok(logs
            .into_iter()
            .find(|l| &l.id == id && belongs(l))
            .ok_or_else(|| format!("no log for this run (its log {id} is not listed)")));
    }
    let logs = retry::call(policy, Repeat::Freely, &server, "listLogs", || {
        client.list_job_logs(job_id)
    })
    .await?;
    let epoch = |t: &Option<crate::api::Timestamp>| t.as_ref().and_then(|t| t.epoch);
    let Some(created) = epoch(&group.created) else {
        return Ok(Err(
            "no log for this run (its queue group has no creation time to tie a log to)".into(),
        ));
    };
    let ended = epoch(&group.ended).unwrap_or(f64::INFINITY);
    // Same server clock on both sides: a log of this run starts at or after its group was
    // created, and before it ended. Earlier runs' logs start before; later ones after.
    logs.into_iter()
        .filter(|l| belongs(l) && l.job_id.is_some())
        .filter(|l| l.kind.is_none_or(|k| k == 1 || k == 6))
        .filter_map(|l| epoch(&l.start_time).map(|s| (s, l)))
        .filter(|(s, _)| *s >= created && *s <= ended)
        .min_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.id.cmp(&b.1.id)))
        .map(|(_, l)| Ok(Ok(l)))
        .unwrap_or_else(|| {
            Ok(Err(
                "no log for this run (none of the job's logs started while its queue group ran)"
                    .into(),
            ))
        })
}

/// Failed queue items, as "name: message" lines.
fn item_lines(items: &[crate::api::QueueItem]) -> Vec<String> {
    items
        .iter()
        .filter(|i| !i.status.is_success())
        .take(MAX_FAILURES)
        .map(|i| {
            let msg = if i.message.is_empty() {
                i.status.name().to_string()
            } else {
                i.message.clone()
            };
            if i.name.is_empty() {
                msg
            } else {
                format!("{}: {msg}", i.name)
            }
        })
        .collect()
}

/// Fill `rec` from the final group: status, items, its log.
pub async fn verify<T: Transport>(
    policy: &Policy,
    client: &Client<T>,
    group: &QueueGroup,
    rec: &mut JobRecord,
) {
    let server = client.server().to_string();
    rec.status_raw = Some(group.status.raw());
    rec.status_name = Some(group.status.name().to_string());
    let mut notes = Vec::new();
    let mut items = None;
    match retry::call(policy, Repeat::Freely, &server, "listQueueItems", || {
        client.list_queue_items(&group.id)
    })
    .await
    {
        Ok(list) => {
            let failed = list.iter().filter(|i| !i.status.is_success()).count() as u64;
            items = Some((failed, list.len() as u64));
            rec.items_failed = Some(failed);
            rec.items_total = Some(list.len() as u64);
            rec.failures.extend(item_lines(&list));
        }
        Err(e) => notes.push(format!("queue items unreadable: {e}")),
    }

    // Read the log even for a clean run: a log that says "failed" must be able to say so.
    let mut log_status = None;
    match log_of_run(policy, client, group, &rec.job_id).await {
        Ok(Ok(log)) => {
            log_status = Some(log.status);
            rec.log_id = Some(log.id.clone());
            let clean = group.status.is_success() && items.is_some_and(|(f, _)| f == 0);
            if !clean {
                log_failures(policy, client, &log, rec, &mut notes).await;
            }
        }
        Ok(Err(why)) => notes.push(why),
        Err(e) => notes.push(format!("logs unreadable: {e}")),
    }

    let (result, disagreement) = outcome(Evidence {
        status: group.status,
        items,
        log: log_status,
    });
    rec.outcome = result;
    let mut message = match rec.outcome {
        Outcome::Completed => String::new(),
        _ => {
            let mut m = format!(
                "finished with status {} ({})",
                group.status.raw(),
                group.status.name()
            );
            if let Some(l) = log_status {
                m.push_str(&format!(", log says {}", l.name()));
            }
            if let Some((f, t)) = items
                && f > 0
            {
                m.push_str(&format!("; {f} of {t} items failed"));
            }
            m
        }
    };
    // Said, so the worse verdict never looks arbitrary.
    notes.extend(disagreement);
    for n in notes {
        if !message.is_empty() {
            message.push_str("; ");
        }
        message.push_str(&n);
    }
    rec.message = message;
}

/// The log's failed items, for the record (the queue items' messages are not repeated).
async fn log_failures<T: Transport>(
    policy: &Policy,
    client: &Client<T>,
    log: &LogEntry,
    rec: &mut JobRecord,
    notes: &mut Vec<String>,
) {
    let server = client.server().to_string();
    match retry::call(policy, Repeat::Freely, &server, "listLogItems", || {
        client.list_log_items(&log.id)
    })
    .await
    {
        Ok(items) => {
            let room = MAX_FAILURES.saturating_sub(rec.failures.len());
            let mut added: Vec<String> = Vec::new();
            for i in items
                .iter()
                .filter(|i| !i.status.is_success() && !i.message.is_empty())
            {
                if added.len() >= room {
                    break;
                }
                let repeated = rec
                    .failures
                    .iter()
                    .chain(&added)
                    .any(|f| f.ends_with(&i.message));
                if !repeated {
                    added.push(format!("log: {}", i.message));
                }
            }
            rec.failures.extend(added);
        }
        Err(e) => notes.push(format!("log items unreadable: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(status: i64, items: Option<(u64, u64)>, log: Option<i64>) -> Outcome {
        outcome(Evidence {
            status: QueueStatus(status),
            items,
            log: log.map(LogStatus),
        })
        .0
    }

    #[test]
    fn each_source_can_only_make_it_worse() {
        assert_eq!(ev(100, Some((0, 2)), Some(1)), Outcome::Completed);
        // Unverified: the items could not be read.
        assert_eq!(ev(100, None, None), Outcome::Warnings);
        assert_eq!(ev(100, None, Some(1)), Outcome::Warnings);
        assert_eq!(ev(100, None, Some(6)), Outcome::Warnings);
        assert_eq!(ev(100, Some((0, 1)), Some(6)), Outcome::Completed);
        // Failed items under a success code.
        assert_eq!(ev(100, Some((1, 2)), Some(1)), Outcome::Partial);
        // The acceptance run's case: 102, 1 of 1 failed, a log that says completed.
        assert_eq!(ev(102, Some((1, 1)), Some(1)), Outcome::Partial);
        assert_eq!(ev(101, Some((0, 1)), Some(1)), Outcome::Partial);
        assert_eq!(ev(102, Some((1, 1)), Some(2)), Outcome::Failed);
        assert_eq!(ev(100, Some((0, 1)), Some(2)), Outcome::Failed);
        assert_eq!(ev(104, None, Some(1)), Outcome::Failed);
        assert_eq!(ev(200, Some((0, 3)), None), Outcome::Failed);
        assert_eq!(ev(100, Some((0, 3)), Some(4)), Outcome::Partial);
        // A log that says "processing" gives no verdict, but never a better one.
        assert_eq!(ev(102, Some((1, 1)), Some(6)), Outcome::Partial);
    }

    #[test]
    fn no_success_code_or_failed_item_is_ever_completed_or_warnings() {
        for status in [100, 101, 102, 103, 104, 200, 201, 150] {
            for items in [None, Some((0, 1)), Some((1, 1)), Some((1, 3))] {
                for log in [
                    None,
                    Some(1),
                    Some(2),
                    Some(3),
                    Some(4),
                    Some(5),
                    Some(6),
                    Some(9),
                ] {
                    let o = ev(status, items, log);
                    let dirty = status != 100 || items.is_some_and(|(f, _)| f > 0);
                    if dirty {
                        assert!(!o.is_success(), "{status} {items:?} {log:?} -> {o:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_disagreement_is_said() {
        let (o, note) = outcome(Evidence {
            status: QueueStatus(102),
            items: Some((1, 1)),
            log: Some(LogStatus(1)),
        });
        assert_eq!(o, Outcome::Partial);
        let note = note.unwrap();
        assert_eq!(
            note,
            "sources disagree (queue status 102 (failed/partial), 1 of 1 items failed, log says completed): the worse counts"
        );
        let (_, agreed) = outcome(Evidence {
            status: QueueStatus(100),
            items: Some((0, 2)),
            log: Some(LogStatus(1)),
        });
        assert_eq!(agreed, None);
    }
}
