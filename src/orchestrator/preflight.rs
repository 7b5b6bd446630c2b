//! Pre-flight, on every selected server before anything is enabled anywhere: reachable? do the
//! destination and each job exist? is a backup already writing to the NAS destination? And the
//! alert for jobs that target the NAS but are not configured (production lesson 7: such jobs
//! silently never ran for weeks).

use std::collections::BTreeMap;

use crate::api::{BackupJob, Client, Destination, QueueGroup};
use crate::report::{Alert, AlertKind};
use crate::transport::Transport;

use super::context::Ctx;
use super::plan::ServerPlan;
use super::retry::{self, Repeat};

/// What pre-flight found on one server that may run.
#[derive(Debug, Clone)]
pub struct Facts {
    pub destination: Option<Destination>,
    /// Per planned job: what the server says, `None` when it does not have it.
    pub jobs: BTreeMap<String, Option<BackupJob>>,
    /// Active backup groups that write (or may write) to the NAS destination.
    pub foreign: Vec<QueueGroup>,
}

impl Facts {
    /// The planned job `id` as the server has it; `None` when the server does not have it.
    pub fn job(&self, id: &str) -> Option<&BackupJob> {
        self.jobs.get(id).and_then(Option::as_ref)
    }
}

/// What pre-flight of one server came to: its facts, or `Err` = skip this server, with the
/// reason; and the alerts it raised either way.
pub struct Checked {
    pub facts: Result<Facts, String>,
    pub alerts: Vec<Alert>,
}

/// Pre-flight of one server. It only reads (`ctx` is shared), so every server is checked at
/// once; the caller files the alerts.
pub async fn check<T: Transport>(
    ctx: &Ctx<'_, T>,
    client: &Client<T>,
    plan: &ServerPlan,
) -> Checked {
    let mut alerts = Vec::new();
    let facts = facts(ctx, client, plan, &mut alerts).await;
    Checked { facts, alerts }
}

async fn facts<T: Transport>(
    ctx: &Ctx<'_, T>,
    client: &Client<T>,
    plan: &ServerPlan,
    alerts: &mut Vec<Alert>,
) -> Result<Facts, String> {
    let server = plan.server.as_str();
    let policy = ctx.policy;
    retry::call(&policy, Repeat::Freely, server, "echo jbr-ping", || {
        client.ping()
    })
    .await
    .map_err(|e| format!("unreachable: {e}"))?;

    let destination = match &plan.destination_id {
        Some(d) => Some(
            retry::call(&policy, Repeat::Freely, server, "getDestination", || {
                client.get_destination(d)
            })
            .await
            .map_err(|e| format!("destination {d}: {e}"))?,
        ),
        None => None,
    };

    let mut jobs = BTreeMap::new();
    for j in &plan.jobs {
        // Repeat::OnlyIfUnanswered: retried only when no answer came; a refusal is the server saying the
        // job does not exist, and must not be retried into a skip of the whole server.
        let found = match retry::call(
            &policy,
            Repeat::OnlyIfUnanswered,
            server,
            "getBackupJob",
            || client.get_backup_job(&j.job_id),
        )
        .await
        {
            Ok(job) => Some(job),
            // The server answered, and said no: the job does not exist there — unless
            // listBackupJobs (below) lists it after all.
            Err(crate::api::ApiError::Refused { .. }) => None,
            Err(e) => return Err(format!("job {}: {e}", j.job_id)),
        };
        jobs.insert(j.job_id.clone(), found);
    }

    // Which jobs write to the NAS: needed both for the alert and to judge running groups.
    let all_jobs = retry::call(&policy, Repeat::Freely, server, "listBackupJobs", || {
        client.list_backup_jobs()
    })
    .await;
    let all_jobs = match all_jobs {
        Ok(list) => Some(list),
        Err(e) => {
            alerts.push(Alert {
                kind: AlertKind::Other,
                server: Some(server.to_string()),
                job_id: None,
                message: format!("server {server}: cannot check for unconfigured jobs: {e}"),
            });
            None
        }
    };
    // A read's `success: 0` may also be a busy server (jetbackup5-api.md): a job refused above
    // that the server does list is read again, retried like any read, rather than reported
    // missing.
    if let Some(list) = &all_jobs {
        for (id, found) in jobs.iter_mut() {
            if found.is_none() && list.iter().any(|b| b.id == *id) {
                let again = retry::call(&policy, Repeat::Freely, server, "getBackupJob", || {
                    client.get_backup_job(id)
                })
                .await
                .map_err(|e| format!("job {id}: {e}"))?;
                *found = Some(again);
            }
        }
    }
    if let (Some(list), Some(dest)) = (&all_jobs, &plan.destination_id) {
        for j in list
            .iter()
            .filter(|j| j.destinations.iter().any(|d| d == dest))
        {
            let configured = ctx
                .config
                .jobs
                .iter()
                .any(|c| c.server == server && c.job_id == j.id);
            if !configured {
                alerts.push(Alert {
                    kind: AlertKind::UnconfiguredJob,
                    server: Some(server.to_string()),
                    job_id: Some(j.id.clone()),
                    message: format!(
                        "server {server}: job {} \"{}\" targets the NAS destination {dest} but is not in the config; it never runs under jbr",
                        j.id, j.name
                    ),
                });
            }
        }
    }

    let foreign = foreign_writers(
        ctx,
        client,
        plan.destination_id.as_deref(),
        all_jobs.as_deref(),
    )
    .await?;

    Ok(Facts {
        destination,
        jobs,
        foreign,
    })
}

/// Active backup groups on this server that write (or may write) to the NAS. `jobs`: the
/// server's job list when known (to tell which jobs target the destination).
pub async fn foreign_writers<T: Transport>(
    ctx: &Ctx<'_, T>,
    client: &Client<T>,
    dest: Option<&str>,
    jobs: Option<&[BackupJob]>,
) -> Result<Vec<QueueGroup>, String> {
    let server = client.server();
    let groups = retry::call(
        &ctx.policy,
        Repeat::Freely,
        server,
        "listQueueGroups",
        || client.list_backup_queue_groups(),
    )
    .await
    .map_err(|e| format!("cannot tell whether a backup is already running: {e}"))?;
    Ok(groups
        .into_iter()
        .filter(|g| g.status.is_active())
        .filter(|g| writes_to_nas(g, dest, jobs))
        .collect())
}

/// Whether an active group may be writing to the NAS. When in doubt, yes: a wrong "no" puts two
/// writers on the NAS, a wrong "yes" only delays the run.
fn writes_to_nas(group: &QueueGroup, dest: Option<&str>, jobs: Option<&[BackupJob]>) -> bool {
    let (Some(dest), Some(jobs), Some(job_id)) = (dest, jobs, group.job_id.as_deref()) else {
        return true;
    };
    match jobs.iter().find(|j| j.id == job_id) {
        Some(j) => j.destinations.iter().any(|d| d == dest),
        None => true,
    }
}
