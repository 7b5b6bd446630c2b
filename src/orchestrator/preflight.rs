//! Pre-flight, on every selected server before anything is enabled anywhere: reachable? do the
//! destination and each job exist? is a backup already writing to the NAS destination? And the
//! alert for jobs that target the NAS but are not configured (production lesson 7: such jobs
//! silently never ran for weeks).

use std::collections::BTreeMap;

use tokio::time::Instant;

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
    /// The server's whole job list (`None`: it could not be read).
    pub all_jobs: Option<Vec<BackupJob>>,
    /// The server's backup queue as pre-flight listed it, and when: the first window may take
    /// it as its fresh look while it is young.
    pub groups: (Vec<QueueGroup>, Instant),
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

    // Which jobs write to the NAS: needed both for the alert and to judge running groups. Its
    // entries also serve as the planned jobs' facts (one call for all of them, issue 13).
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

    let mut jobs = BTreeMap::new();
    for j in &plan.jobs {
        let listed = all_jobs
            .as_deref()
            .and_then(|list| list.iter().find(|b| b.id == j.job_id));
        if let Some(b) = listed.filter(|b| b.disabled_stated && b.disabled) {
            // Listed as disabled, as jbr leaves every job: that is all the run needs to know.
            // An entry that shows it enabled, or does not say, is read on its own below: an
            // enabled job is not enabled again, so a wrong "enabled" would go untriggered.
            jobs.insert(j.job_id.clone(), Some(b.clone()));
            continue;
        }
        // Repeat::OnlyIfUnanswered: retried only when no answer came; a refusal is the server
        // saying the job does not exist, and must not be retried into a skip of the whole
        // server.
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
            // A read's `success: 0` may also be a busy server (jetbackup5-api.md): a job the
            // server does list is read again, retried like any read, rather than reported
            // missing.
            Err(crate::api::ApiError::Refused { .. }) if listed.is_some() => Some(
                retry::call(&policy, Repeat::Freely, server, "getBackupJob", || {
                    client.get_backup_job(&j.job_id)
                })
                .await
                .map_err(|e| format!("job {}: {e}", j.job_id))?,
            ),
            // The server answered, and said no, and does not list it: it does not exist there.
            Err(crate::api::ApiError::Refused { .. }) => None,
            Err(e) => return Err(format!("job {}: {e}", j.job_id)),
        };
        jobs.insert(j.job_id.clone(), found);
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

    let groups = list_groups(ctx, client).await?;
    let listed_at = Instant::now();
    let foreign = foreign_in(&groups, plan.destination_id.as_deref(), all_jobs.as_deref());

    Ok(Facts {
        destination,
        jobs,
        foreign,
        all_jobs,
        groups: (groups, listed_at),
    })
}

/// The server's backup queue groups, all of them.
pub async fn list_groups<T: Transport>(
    ctx: &Ctx<'_, T>,
    client: &Client<T>,
) -> Result<Vec<QueueGroup>, String> {
    retry::call(
        &ctx.policy,
        Repeat::Freely,
        client.server(),
        "listQueueGroups",
        || client.list_backup_queue_groups(),
    )
    .await
    .map_err(|e| format!("cannot tell whether a backup is already running: {e}"))
}

/// The active groups among `groups` that write (or may write) to the NAS. `jobs`: the server's
/// job list when known (to tell which jobs target the destination).
pub fn foreign_in(
    groups: &[QueueGroup],
    dest: Option<&str>,
    jobs: Option<&[BackupJob]>,
) -> Vec<QueueGroup> {
    groups
        .iter()
        .filter(|g| g.status.is_active())
        .filter(|g| writes_to_nas(g, dest, jobs))
        .cloned()
        .collect()
}

/// A fresh look for backups writing to the NAS, `groups` being the server's queue as just
/// listed. The job list (which jobs target the destination) is read only when some group is
/// active: an idle queue needs no judging, and that is the usual night (one call less per
/// server; issue 13).
pub async fn foreign_now<T: Transport>(
    ctx: &Ctx<'_, T>,
    client: &Client<T>,
    dest: Option<&str>,
    groups: &[QueueGroup],
) -> Vec<QueueGroup> {
    if !groups.iter().any(|g| g.status.is_active()) {
        return Vec::new();
    }
    let jobs = retry::call(
        &ctx.policy,
        Repeat::Freely,
        client.server(),
        "listBackupJobs",
        || client.list_backup_jobs(),
    )
    .await
    .ok();
    foreign_in(groups, dest, jobs.as_deref())
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
