//! After a job: what its final status, queue items and (for non-clean runs) its log say, turned
//! into an outcome and the details a person needs.
//!
//! Status codes above 100 are not confirmed (jetbackup5-api.md): the job's log status, a
//! documented family, decides when it is there; the queue code is the fallback.

use crate::api::{Client, LogStatus, QueueGroup, QueueStatus};
use crate::report::{JobRecord, Outcome};
use crate::transport::Transport;

use super::retry::{self, Kind, Policy};

/// How many failure messages the record keeps per job.
pub const MAX_FAILURES: usize = 5;

/// The outcome a final group means, given the log's status when known.
pub fn outcome(status: QueueStatus, items_failed: u64, log: Option<LogStatus>) -> Outcome {
    if status.is_success() {
        return if items_failed > 0 {
            Outcome::Warnings
        } else {
            Outcome::Completed
        };
    }
    match log.map(|l| l.0) {
        Some(1) => Outcome::Warnings,
        Some(4) => Outcome::Partial,
        Some(2) | Some(3) | Some(5) => Outcome::Failed,
        _ => match status.raw() {
            101 | 102 => Outcome::Partial,
            _ => Outcome::Failed,
        },
    }
}

/// Fill `rec` from the final group: status, items, and for anything not clean, the log.
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
    let mut failed = 0u64;
    match retry::call(policy, Kind::Read, &server, "listQueueItems", || {
        client.list_queue_items(&group.id)
    })
    .await
    {
        Ok(items) => {
            let bad: Vec<_> = items.iter().filter(|i| !i.status.is_success()).collect();
            failed = bad.len() as u64;
            rec.items_failed = Some(failed);
            rec.items_total = Some(items.len() as u64);
            rec.failures.extend(bad.iter().take(MAX_FAILURES).map(|i| {
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
            }));
        }
        Err(e) => notes.push(format!("queue items unreadable: {e}")),
    }

    let mut log_status = None;
    if !group.status.is_success() || failed > 0 {
        match retry::call(policy, Kind::Read, &server, "listLogs", || {
            client.list_job_logs(&rec.job_id, 5)
        })
        .await
        {
            Ok(logs) => {
                let log = match &group.log_id {
                    Some(id) => logs.iter().find(|l| &l.id == id).or(logs.first()),
                    None => logs.first(),
                };
                if let Some(log) = log {
                    log_status = Some(log.status);
                    match retry::call(policy, Kind::Read, &server, "listLogItems", || {
                        client.list_log_items(&log.id)
                    })
                    .await
                    {
                        Ok(items) => {
                            let room = MAX_FAILURES.saturating_sub(rec.failures.len());
                            // The log often repeats the queue items' messages: keep new ones only.
                            let mut seen: Vec<String> = rec.failures.clone();
                            let mut added = Vec::new();
                            for i in items
                                .iter()
                                .filter(|i| !i.status.is_success() && !i.message.is_empty())
                            {
                                if added.len() >= room {
                                    break;
                                }
                                if seen.iter().any(|f| f.ends_with(&i.message)) {
                                    continue;
                                }
                                seen.push(i.message.clone());
                                added.push(format!("log: {}", i.message));
                            }
                            rec.failures.extend(added);
                        }
                        Err(e) => notes.push(format!("log items unreadable: {e}")),
                    }
                }
            }
            Err(e) => notes.push(format!("logs unreadable: {e}")),
        }
    }

    rec.outcome = outcome(group.status, failed, log_status);
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
            if let (Some(f), Some(t)) = (rec.items_failed, rec.items_total)
                && f > 0
            {
                m.push_str(&format!("; {f} of {t} items failed"));
            }
            m
        }
    };
    for n in notes {
        if !message.is_empty() {
            message.push_str("; ");
        }
        message.push_str(&n);
    }
    rec.message = message;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes() {
        assert_eq!(outcome(QueueStatus(100), 0, None), Outcome::Completed);
        assert_eq!(outcome(QueueStatus(100), 2, None), Outcome::Warnings);
        assert_eq!(
            outcome(QueueStatus(101), 0, Some(LogStatus(1))),
            Outcome::Warnings
        );
        assert_eq!(
            outcome(QueueStatus(102), 0, Some(LogStatus(4))),
            Outcome::Partial
        );
        assert_eq!(outcome(QueueStatus(102), 0, None), Outcome::Partial);
        assert_eq!(outcome(QueueStatus(104), 0, None), Outcome::Failed);
        assert_eq!(
            outcome(QueueStatus(101), 0, Some(LogStatus(2))),
            Outcome::Failed
        );
        assert_eq!(outcome(QueueStatus(200), 0, None), Outcome::Failed);
    }
}
