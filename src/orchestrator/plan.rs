//! The plan: which jobs run, in which order, inside which destination window. Pure: no I/O.
//!
//! Order is the older tool's (drop-in migration): jobs by priority, high first, grouped by
//! server, all jobs of one server inside one destination window. A server's place is decided by
//! its highest-priority job; ties keep config order (the first job naming that server).

use std::fmt;
use std::time::Duration;

use crate::config::{Config, JobType};

/// What the operator selected on the command line (`run --server NAME… --job ID…`).
/// Empty lists select everything; both given means a job must match both.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub servers: Vec<String>,
    pub jobs: Vec<String>,
}

/// One job as it will run.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedJob {
    pub job_id: String,
    pub server: String,
    pub label: String,
    pub kind: JobType,
    pub priority: i64,
    /// `jobs[].timeout`, else `orchestrator.job_timeout`.
    pub timeout: Duration,
    /// Position in `jobs[]`, for messages (`jobs[3]`).
    pub config_index: usize,
}

/// All jobs of one server: one destination window.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerPlan {
    pub server: String,
    /// `servers.NAME.destination_id`; `None` means no destination lifecycle on this server.
    pub destination_id: Option<String>,
    pub jobs: Vec<PlannedJob>,
}

/// A selected job that will not run because the config says `"enabled": false`.
#[derive(Debug, Clone, PartialEq)]
pub struct DisabledInConfig {
    pub job_id: String,
    pub server: String,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    /// Servers in run order, each with its jobs in run order.
    pub servers: Vec<ServerPlan>,
    /// Selected but `"enabled": false`: reported, never run.
    pub disabled_in_config: Vec<DisabledInConfig>,
}

impl Plan {
    pub fn job_count(&self) -> usize {
        self.servers.iter().map(|s| s.jobs.len()).sum()
    }

    /// This plan without the jobs `drop` says (server, job id); a server left with no job goes
    /// too (its destination window would run nothing).
    pub fn without(&self, drop: impl Fn(&str, &str) -> bool) -> Plan {
        let mut plan = self.clone();
        for s in &mut plan.servers {
            s.jobs.retain(|j| !drop(&s.server, &j.job_id));
        }
        plan.servers.retain(|s| !s.jobs.is_empty());
        plan
    }

    /// This plan with the jobs `carried` says first: the servers that have one before the
    /// others, and inside each server those jobs before its others, every other order kept. So
    /// the jobs a night window left out are not the ones cut again the next night.
    pub fn carried_first(&self, carried: impl Fn(&str, &str) -> bool) -> Plan {
        let mut plan = self.clone();
        for s in &mut plan.servers {
            // Stable: carried jobs keep their priority order, and so do the others.
            s.jobs.sort_by_key(|j| !carried(&s.server, &j.job_id));
        }
        plan.servers
            .sort_by_key(|s| !s.jobs.iter().any(|j| carried(&s.server, &j.job_id)));
        plan
    }

    pub fn jobs(&self) -> impl Iterator<Item = &PlannedJob> {
        self.servers.iter().flat_map(|s| s.jobs.iter())
    }
}

/// A selection that names something the config does not have: a usage error (exit 2),
/// raised before anything touches a server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "--server {name:?}: not a server in the config (known: {})",
        list(known)
    )]
    UnknownServer { name: String, known: Vec<String> },
    #[error("--job {id:?}: not a job in the config (known: {})", list(known))]
    UnknownJob { id: String, known: Vec<String> },
    #[error("the selection (--server {servers}, --job {jobs}) matches no configured job")]
    NothingSelected { servers: String, jobs: String },
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

/// Build the plan for `selection`. Every unknown name is an error before anything runs.
pub fn build(config: &Config, selection: &Selection) -> Result<Plan, PlanError> {
    for name in &selection.servers {
        if !config.servers.contains_key(name) {
            return Err(PlanError::UnknownServer {
                name: name.clone(),
                known: config.servers.keys().cloned().collect(),
            });
        }
    }
    for id in &selection.jobs {
        if !config.jobs.iter().any(|j| &j.job_id == id) {
            let mut known: Vec<String> = config.jobs.iter().map(|j| j.job_id.clone()).collect();
            known.dedup();
            return Err(PlanError::UnknownJob {
                id: id.clone(),
                known,
            });
        }
    }

    let selected: Vec<(usize, &crate::config::Job)> = config
        .jobs
        .iter()
        .enumerate()
        .filter(|(_, j)| selection.servers.is_empty() || selection.servers.contains(&j.server))
        .filter(|(_, j)| selection.jobs.is_empty() || selection.jobs.contains(&j.job_id))
        .collect();
    if selected.is_empty() && !(selection.servers.is_empty() && selection.jobs.is_empty()) {
        return Err(PlanError::NothingSelected {
            servers: list(&selection.servers),
            jobs: list(&selection.jobs),
        });
    }

    let mut plan = Plan::default();
    let mut runnable = Vec::new();
    for (index, job) in selected {
        if !job.enabled {
            plan.disabled_in_config.push(DisabledInConfig {
                job_id: job.job_id.clone(),
                server: job.server.clone(),
                label: job.label.clone(),
            });
            continue;
        }
        runnable.push(PlannedJob {
            job_id: job.job_id.clone(),
            server: job.server.clone(),
            label: job.label.clone(),
            kind: job.kind,
            priority: job.priority,
            timeout: job.effective_timeout(&config.orchestrator),
            config_index: index,
        });
    }
    // Stable: equal priorities keep config order.
    runnable.sort_by_key(|j| std::cmp::Reverse(j.priority));

    // Jobs are already in priority order, so the first job seen for a server is its
    // highest-priority one (config order on ties): first seen = the server's place.
    for job in runnable {
        match plan.servers.iter_mut().find(|s| s.server == job.server) {
            Some(server) => server.jobs.push(job),
            None => plan.servers.push(ServerPlan {
                server: job.server.clone(),
                destination_id: config
                    .servers
                    .get(&job.server)
                    .and_then(|s| s.destination_id.clone()),
                jobs: vec![job],
            }),
        }
    }
    Ok(plan)
}

/// A job named for humans: label when set, else the id.
pub fn job_display(job_id: &str, label: &str) -> String {
    if label.is_empty() {
        job_id.to_string()
    } else {
        format!("{job_id} \"{label}\"")
    }
}

impl fmt::Display for PlannedJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&job_display(&self.job_id, &self.label))
    }
}
