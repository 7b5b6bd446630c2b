//! The state machine. Nothing runs in the background: every call first advances the server to
//! "now" (lazily, from the stored times), then acts. Between two calls the server's flags are
//! constant, so replaying the events in time order is exact.

use super::model::{Group, Job, Outcome, Server, StatusFamily, World, WriteInterval};

/// Final queue status code of an outcome in a family.
pub fn final_code(family: StatusFamily, outcome: Outcome) -> i64 {
    match (family, outcome) {
        (_, Outcome::Completed | Outcome::ItemFailed) => 100,
        (StatusFamily::Research, Outcome::Warnings) => 100,
        (StatusFamily::Research, Outcome::Partial) => 101,
        (StatusFamily::Research, Outcome::Failed) => 102,
        (StatusFamily::Research, Outcome::Aborted | Outcome::Hang) => 103,
        (StatusFamily::OlderTool, Outcome::Warnings) => 101,
        (StatusFamily::OlderTool, Outcome::Partial) => 102,
        (StatusFamily::OlderTool, Outcome::Failed) => 200,
        (StatusFamily::OlderTool, Outcome::Aborted | Outcome::Hang) => 201,
    }
}

/// Log status (a different family): 1 completed, 2 failed, 3 aborted, 4 partial, 6 processing.
pub fn log_status(group: &Group) -> i64 {
    match group.final_outcome {
        None => 6,
        Some(Outcome::Completed | Outcome::Warnings) => 1,
        Some(Outcome::Failed) => 2,
        Some(Outcome::Aborted | Outcome::Hang) => 3,
        Some(Outcome::Partial | Outcome::ItemFailed) => 4,
    }
}

/// Queue status now: 1 pending, the server's processing code (2 or a sub-status), or the
/// final code.
pub fn group_status(group: &Group, processing_code: i64) -> i64 {
    match (group.status, group.started) {
        (Some(code), _) => code,
        (None, Some(_)) => processing_code,
        (None, None) => 1,
    }
}

/// The queue status of item `index` of a group: the group's, except the failed item of an
/// `ItemFailed` run.
pub fn item_status(group: &Group, index: usize, processing_code: i64) -> i64 {
    if index == 0 && group.final_outcome == Some(Outcome::ItemFailed) {
        return 102;
    }
    group_status(group, processing_code)
}

impl Server {
    pub fn job(&self, id: &str) -> Option<&Job> {
        self.jobs.iter().find(|j| j.id == id)
    }

    fn job_destinations_enabled(&self, job: &Job) -> bool {
        !job.destinations.is_empty()
            && job.destinations.iter().all(|d| {
                self.destinations
                    .iter()
                    .any(|dest| &dest.id == d && !dest.disabled)
            })
    }

    pub fn active_group_of(&self, job_id: &str) -> Option<&Group> {
        self.groups
            .iter()
            .find(|g| g.job_id == job_id && g.is_active())
    }

    /// The scheduler's condition: job and its destinations enabled, no run queued or running.
    fn schedulable(&self, job: &Job) -> bool {
        !job.disabled
            && self.job_destinations_enabled(job)
            && self.active_group_of(&job.id).is_none()
    }

    pub fn any_processing(&self) -> bool {
        self.groups.iter().any(Group::is_processing)
    }

    /// Moves every group to its state at `now`, and lets the scheduler fire.
    pub fn advance(&mut self, world_ids: &mut IdSource<'_>, now: f64) {
        // Each pass settles groups, then fires at most one scheduled run per job; a fired run can
        // itself end before `now`, hence the loop (bounded: each pass moves time forward).
        for _ in 0..10_000 {
            self.settle_groups(now);
            if !self.fire_exposed(world_ids, now) {
                break;
            }
        }
        self.refresh_idle(now);
    }

    fn settle_groups(&mut self, now: f64) {
        let family = self.settings.status_family;
        // Flags are constant between two calls, so "is the destination enabled now" is also
        // what it was at any start time since the previous call.
        let writable: std::collections::HashSet<String> = self
            .jobs
            .iter()
            .filter(|j| self.job_destinations_enabled(j))
            .map(|j| j.id.clone())
            .collect();
        let mut ended: Vec<(String, f64)> = Vec::new();
        for g in self.groups.iter_mut().filter(|g| g.ended.is_none()) {
            let stop = g.stop_at.unwrap_or(f64::INFINITY);
            if let Some(fail) = g.fail_at {
                // Destination disabled at trigger: fails fast, writes nothing.
                let end = fail.min(stop);
                if end <= now {
                    let outcome = if stop < fail {
                        Outcome::Aborted
                    } else {
                        Outcome::Failed
                    };
                    g.ended = Some(end);
                    g.status = Some(final_code(family, outcome));
                    g.final_outcome = Some(outcome);
                    ended.push((g.job_id.clone(), end));
                }
                continue;
            }
            if g.started.is_none() && g.start_due <= now && g.start_due < stop {
                if !writable.contains(&g.job_id) {
                    // Destination disabled while the run was pending: it fails, writing nothing.
                    g.ended = Some(g.start_due);
                    g.status = Some(final_code(family, Outcome::Failed));
                    g.final_outcome = Some(Outcome::Failed);
                    ended.push((g.job_id.clone(), g.start_due));
                    continue;
                }
                g.started = Some(g.start_due);
            }
            match g.started {
                Some(start) => {
                    let natural = if g.outcome == Outcome::Hang {
                        f64::INFINITY
                    } else {
                        start + g.duration
                    };
                    let end = natural.min(stop);
                    if end <= now {
                        let outcome = if stop < natural {
                            Outcome::Aborted
                        } else {
                            g.outcome
                        };
                        g.ended = Some(end);
                        g.status = Some(final_code(family, outcome));
                        g.final_outcome = Some(outcome);
                        ended.push((g.job_id.clone(), end));
                    }
                }
                None if stop <= now => {
                    g.ended = Some(stop);
                    g.status = Some(final_code(family, Outcome::Aborted));
                    g.final_outcome = Some(Outcome::Aborted);
                    ended.push((g.job_id.clone(), stop));
                }
                None => {}
            }
        }
        // A job becomes idle when its run ends; the exposure clock starts then, not at the call.
        for (job_id, end) in ended {
            let ok = self
                .job(&job_id)
                .is_some_and(|j| !j.disabled && self.job_destinations_enabled(j));
            if let Some(job) = self.jobs.iter_mut().find(|j| j.id == job_id) {
                job.close_idle(end);
                if ok {
                    job.idle_since = Some(end);
                }
            }
        }
    }

    fn fire_exposed(&mut self, ids: &mut IdSource<'_>, now: f64) -> bool {
        let Some(exposure) = self.settings.exposure else {
            return false;
        };
        let due: Vec<(String, f64)> = self
            .jobs
            .iter()
            .filter(|j| self.schedulable(j))
            .filter_map(|j| j.idle_since.map(|s| (j.id.clone(), s + exposure)))
            .filter(|(_, at)| *at <= now)
            .collect();
        for (job_id, at) in &due {
            self.queue_run(ids, job_id, *at, true);
        }
        !due.is_empty()
    }

    /// After any change: start or stop each job's exposure clock.
    pub fn refresh_idle(&mut self, now: f64) {
        let flags: Vec<bool> = self.jobs.iter().map(|j| self.schedulable(j)).collect();
        for (job, ok) in self.jobs.iter_mut().zip(flags) {
            if !ok {
                job.close_idle(now);
            } else if job.idle_since.is_none() {
                job.idle_since = Some(now);
            }
        }
    }

    /// The server's scheduler, one explicit tick: every schedulable job starts a run.
    pub fn tick(&mut self, ids: &mut IdSource<'_>, now: f64) -> Vec<String> {
        self.advance(ids, now);
        let due: Vec<String> = self
            .jobs
            .iter()
            .filter(|j| self.schedulable(j))
            .map(|j| j.id.clone())
            .collect();
        let groups = due
            .iter()
            .map(|id| self.queue_run(ids, id, now, true))
            .collect();
        self.refresh_idle(now);
        groups
    }

    /// Creates a queue group for the job at time `at`; returns its id. Writes only when every
    /// destination of the job is enabled; otherwise the group fails fast.
    pub fn queue_run(
        &mut self,
        ids: &mut IdSource<'_>,
        job_id: &str,
        at: f64,
        scheduled: bool,
    ) -> String {
        let (duration, outcome, items, writes) = match self.job(job_id) {
            Some(j) => (
                j.duration,
                j.outcome,
                j.items,
                self.job_destinations_enabled(j),
            ),
            None => (0.0, Outcome::Failed, 0, false),
        };
        let id = ids.next();
        let log_id = ids.next();
        let item_ids = (0..items.max(1)).map(|_| ids.next()).collect();
        let fail_at = (!writes).then_some(at + self.settings.fail_fast);
        self.groups.push(Group {
            id: id.clone(),
            log_id,
            job_id: job_id.to_string(),
            created: at,
            start_due: at + self.settings.startup_delay,
            started: None,
            ended: None,
            status: None,
            final_outcome: None,
            stop_at: None,
            fail_at,
            duration,
            outcome,
            item_ids,
            scheduled,
            cleared: false,
        });
        if let Some(j) = self.jobs.iter_mut().find(|j| j.id == job_id) {
            j.last_run = Some(at);
            j.close_idle(at);
        }
        id
    }

    /// A stop signal: the group ends as aborted `abort_delay` later (unless it ends first).
    pub fn signal_stop(&mut self, group_id: &str, now: f64) -> bool {
        let delay = self.settings.abort_delay;
        match self
            .groups
            .iter_mut()
            .find(|g| g.id == group_id && g.is_active())
        {
            Some(g) => {
                if g.stop_at.is_none() {
                    g.stop_at = Some(now + delay);
                }
                true
            }
            None => false,
        }
    }

    pub fn write_intervals(&self, server: &str) -> Vec<WriteInterval> {
        self.groups
            .iter()
            .filter_map(|g| {
                let start = g.started?;
                let job = self.job(&g.job_id);
                Some(WriteInterval {
                    server: server.to_string(),
                    job_id: g.job_id.clone(),
                    job_name: job.map(|j| j.name.clone()).unwrap_or_default(),
                    group_id: g.id.clone(),
                    destinations: job.map(|j| j.destinations.clone()).unwrap_or_default(),
                    start,
                    end: g.ended,
                    status: g.status,
                })
            })
            .collect()
    }
}

/// Hands out world-unique ids while one server is borrowed mutably.
pub struct IdSource<'a> {
    pub next_id: &'a mut u64,
}

impl IdSource<'_> {
    pub fn next(&mut self) -> String {
        *self.next_id += 1;
        format!("6a{:06x}{:016x}", 0x5e07u32, *self.next_id)
    }
}

impl World {
    /// Advances every server to `now` (for timeline and final-state queries).
    pub fn advance_all(&mut self, now: f64) {
        let World { servers, next_id } = self;
        for server in servers.values_mut() {
            server.advance(&mut IdSource { next_id }, now);
        }
    }

    /// Ground truth for jbr's scheduler exposure: per (server, job id), the seconds the job was
    /// enabled, idle and with its destinations enabled up to `now` (the open span included).
    pub fn exposure(&self, now: f64) -> std::collections::BTreeMap<(String, String), f64> {
        let mut all = std::collections::BTreeMap::new();
        for (name, s) in &self.servers {
            for j in &s.jobs {
                let open = j.idle_since.map_or(0.0, |since| (now - since).max(0.0));
                all.insert((name.clone(), j.id.clone()), j.exposed_secs + open);
            }
        }
        all
    }

    pub fn timeline(&self) -> Vec<WriteInterval> {
        let mut all: Vec<WriteInterval> = self
            .servers
            .iter()
            .flat_map(|(name, s)| s.write_intervals(name))
            .collect();
        all.sort_by(|a, b| a.start.total_cmp(&b.start));
        all
    }

    pub fn final_state(&self) -> super::model::FinalState {
        let mut state = super::model::FinalState::default();
        for (name, s) in &self.servers {
            for d in s.destinations.iter().filter(|d| !d.disabled) {
                state
                    .enabled
                    .push(format!("{name}: destination {} ({}) enabled", d.name, d.id));
            }
            for j in s.jobs.iter().filter(|j| !j.disabled) {
                state
                    .enabled
                    .push(format!("{name}: job {} ({}) enabled", j.name, j.id));
            }
            for g in s.groups.iter().filter(|g| g.is_active()) {
                let job = s.job(&g.job_id).map(|j| j.name.as_str()).unwrap_or("?");
                let phase = if g.started.is_some() {
                    "processing"
                } else {
                    "pending"
                };
                state
                    .running
                    .push(format!("{name}: group {} of job {job} {phase}", g.id));
            }
        }
        state
    }
}
