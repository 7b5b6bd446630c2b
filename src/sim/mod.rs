//! A simulated JetBackup 5 server: jobs, destinations, queue groups, logs, scheduler, faults, timeline.
//!
//! One [`SimWorld`] holds several named servers on ONE timeline, so a test can ask "how many
//! servers wrote to the NAS at once" across all of them. Time comes from tokio's clock
//! in-process (so `jbr demo` and tests run on a paused, auto-advancing clock) and from the wall
//! clock in `jbr-sim`. Nothing runs in the background: each call advances the state lazily.
//!
//! ```
//! use jbr::sim::{SimWorld, Outcome};
//! let world = SimWorld::builder()
//!     .server("web-01", |s| s.destination("nas").job("accounts", 3.0))
//!     .server("web-02", |s| s.destination("nas").job_with("db", 2.0, |j| j.outcome(Outcome::Failed)))
//!     .build();
//! let _transport = jbr::transport::simulated::SimTransport::new(world.clone(), "web-01");
//! assert!(world.final_state().is_clean());
//! ```

pub mod disk;
mod engine;
mod handler;
mod model;
mod render;

use std::sync::{Arc, Mutex, MutexGuard};

pub use engine::{final_code, group_status, item_status, log_status};
pub use handler::{Step, functions, handle};
pub use model::{
    CallRecord, DestStateFn, Destination, DisabledRun, DisabledTriggerReply, Fault, FaultKind,
    FinalState, FlagStyle, Group, Job, ListOrder, Outcome, Server, Settings, StatusFamily, When,
    World, WriteInterval, max_concurrent,
};

/// Seconds, for builder calls that read well: `.job("accounts", secs(3))`.
pub fn secs(s: impl Into<f64>) -> f64 {
    s.into()
}

/// Seconds since the Unix epoch by the wall clock (0 if the clock is before 1970).
pub fn wall_clock() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

struct Inner {
    world: World,
    /// Tokio instant that corresponds to `base` epoch seconds.
    start: tokio::time::Instant,
    base: f64,
}

/// Shared handle to simulated servers. Cheap to clone.
#[derive(Clone)]
pub struct SimWorld {
    inner: Arc<Mutex<Inner>>,
    /// The NAS device's counter file, rewritten after every call (`attach_disk`).
    disk: Arc<Mutex<Option<disk::SimDisk>>>,
}

impl SimWorld {
    pub fn builder() -> WorldBuilder {
        WorldBuilder::default()
    }

    /// Wraps an existing state (e.g. loaded from a `jbr-sim` file); its clock starts now.
    pub fn from_world(world: World) -> SimWorld {
        SimWorld::from_world_at(world, wall_clock().floor())
    }

    /// Like [`SimWorld::from_world`], with "now" at epoch `base` (seeded nights are the same
    /// whatever the wall clock says).
    pub fn from_world_at(world: World, base: f64) -> SimWorld {
        SimWorld {
            inner: Arc::new(Mutex::new(Inner {
                world,
                start: tokio::time::Instant::now(),
                base,
            })),
            disk: Arc::new(Mutex::new(None)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock (only possible in a failing test) leaves plain data;
        // keep using it rather than cascading panics.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Epoch seconds now, on tokio's clock.
    pub fn now(&self) -> f64 {
        let inner = self.lock();
        inner.base + inner.start.elapsed().as_secs_f64()
    }

    fn locked_now(inner: &Inner) -> f64 {
        inner.base + inner.start.elapsed().as_secs_f64()
    }

    /// One `jetbackup5api` call (everything after the program name) at the current time.
    pub fn handle(&self, server: &str, args: &[String], after_stall: bool) -> Step {
        let step = {
            let mut inner = self.lock();
            let now = Self::locked_now(&inner);
            handler::handle(&mut inner.world, server, args, now, after_stall)
        };
        self.refresh_disk();
        step
    }

    /// Simulate the NAS device's counter file from now on (see [`disk::SimDisk`]).
    pub fn attach_disk(&self, disk: disk::SimDisk) -> std::io::Result<()> {
        disk.write(&self.timeline(), self.now())?;
        *self.disk.lock().unwrap_or_else(|e| e.into_inner()) = Some(disk);
        Ok(())
    }

    /// Rewrite the attached counter file for now. A write that fails leaves the old figure,
    /// which jbr reads as no writes: the demo and tests see that, nothing else depends on it.
    pub fn refresh_disk(&self) {
        let disk = self.disk.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(d) = disk {
            let _ = d.write(&self.timeline(), self.now());
        }
    }

    /// How long a call to `server` takes (`Settings::call_latency`; 0 for an unknown server).
    pub fn call_latency(&self, server: &str) -> f64 {
        let inner = self.lock();
        inner
            .world
            .servers
            .get(server)
            .map_or(0.0, |s| s.settings.call_latency)
    }

    /// Ground truth for jbr's scheduler exposure (see `World::exposure`).
    pub fn exposure(&self) -> std::collections::BTreeMap<(String, String), f64> {
        let now = self.now();
        self.with_world(|w| w.exposure(now))
    }

    /// Reads or changes the state directly (advanced to now first).
    pub fn with_world<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        let mut inner = self.lock();
        let now = Self::locked_now(&inner);
        inner.world.advance_all(now);
        f(&mut inner.world)
    }

    /// Reads or changes one server; `None` for an unknown name.
    pub fn try_with_server<R>(&self, server: &str, f: impl FnOnce(&mut Server) -> R) -> Option<R> {
        self.with_world(|w| w.servers.get_mut(server).map(f))
    }

    /// Reads or changes one server.
    ///
    /// # Panics
    /// On an unknown server name: a test helper, where that is a bug in the test.
    pub fn with_server<R>(&self, server: &str, f: impl FnOnce(&mut Server) -> R) -> R {
        match self.try_with_server(server, f) {
            Some(r) => r,
            None => panic!("no simulated server {server:?}"),
        }
    }

    /// The id of the job or destination named (or with id) `name` on `server`.
    pub fn find_id(&self, server: &str, name: &str) -> Option<String> {
        self.try_with_server(server, |s| {
            s.jobs
                .iter()
                .map(|j| (&j.name, &j.id))
                .chain(s.destinations.iter().map(|d| (&d.name, &d.id)))
                .find(|(n, id)| *n == name || *id == name)
                .map(|(_, id)| id.clone())
        })
        .flatten()
    }

    /// [`SimWorld::find_id`] for tests.
    ///
    /// # Panics
    /// When there is no such server, job or destination (a bug in the test).
    pub fn id(&self, server: &str, name: &str) -> String {
        match self.find_id(server, name) {
            Some(id) => id,
            None => panic!("no job or destination {name:?} on simulated server {server:?}"),
        }
    }

    /// The server's own scheduler: starts every enabled, idle job whose destination is enabled.
    /// Returns the new group ids.
    pub fn tick(&self, server: &str) -> Vec<String> {
        let mut inner = self.lock();
        let now = Self::locked_now(&inner);
        let World { servers, next_id } = &mut inner.world;
        match servers.get_mut(server) {
            Some(s) => s.tick(&mut engine::IdSource { next_id }, now),
            None => Vec::new(),
        }
    }

    pub fn add_fault(&self, server: &str, fault: Fault) {
        self.with_server(server, |s| s.faults.push(fault));
    }

    /// How many times `function` was called on `server`.
    pub fn calls(&self, server: &str, function: &str) -> u64 {
        self.with_server(server, |s| s.calls.get(function).copied().unwrap_or(0))
    }

    /// Every call `server` saw, in order.
    pub fn call_log(&self, server: &str) -> Vec<CallRecord> {
        self.with_server(server, |s| s.call_log.clone())
    }

    /// Every processing interval on every server, by start time.
    pub fn timeline(&self) -> Vec<WriteInterval> {
        self.with_world(|w| w.timeline())
    }

    /// The most groups that were processing at the same instant, across all servers.
    pub fn max_concurrent_writers(&self) -> usize {
        max_concurrent(&self.timeline())
    }

    /// What is left enabled or running.
    pub fn final_state(&self) -> FinalState {
        self.with_world(|w| w.final_state())
    }

    /// `final_state().enabled`.
    pub fn left_enabled(&self) -> Vec<String> {
        self.final_state().enabled
    }

    /// A copy of the state (e.g. to save for `jbr-sim`).
    pub fn snapshot(&self) -> World {
        self.with_world(|w| w.clone())
    }
}

/// Builds a [`SimWorld`] or a [`World`] (for `jbr-sim --init`).
#[derive(Default)]
pub struct WorldBuilder {
    world: World,
    /// Epoch seconds of "now" when built; `None`: the wall clock.
    base: Option<f64>,
}

impl WorldBuilder {
    /// Start the world's clock at epoch `base` instead of the wall clock (call before `server`:
    /// past runs are placed relative to it).
    pub fn at(mut self, base: f64) -> Self {
        self.base = Some(base);
        self
    }

    fn base(&self) -> f64 {
        self.base.unwrap_or_else(|| wall_clock().floor())
    }

    /// Adds a server; `f` configures it. Servers start with every destination and job
    /// disabled unless the builder says otherwise (jbr's invariant: disabled at rest).
    pub fn server(mut self, name: &str, f: impl FnOnce(ServerBuilder) -> ServerBuilder) -> Self {
        let b = f(ServerBuilder {
            server: Server::default(),
            next_id: self.world.next_id,
            last_destination: None,
            past: Vec::new(),
        });
        self.world.next_id = b.next_id;
        let mut server = b.server;
        // Past runs, finished before the world starts (e.g. yesterday's groups still listed).
        let now = self.base();
        let mut ids = engine::IdSource {
            next_id: &mut self.world.next_id,
        };
        // Only the listed past runs: an enabled job must not be fired by the exposure
        // scheduler all through yesterday.
        let exposure = server.settings.exposure.take();
        // Oldest first: a real ObjectId begins with its creation time, so ids grow with time
        // (jbr takes the greatest id as the newest), whatever order the builder was told.
        let mut past = b.past;
        past.sort_by(|a, b| b.1.total_cmp(&a.1));
        for (job, ago, outcome, scheduled) in past {
            let at = now - ago;
            let id = server.queue_run(&mut ids, &job, at, scheduled);
            if let Some(g) = server.groups.iter_mut().find(|g| g.id == id) {
                // It wrote back then, whatever the destination's state is now.
                g.fail_at = None;
                g.outcome = outcome;
                g.start_due = at;
                g.started = Some(at);
            }
            server.advance(&mut ids, at + 86_400.0_f64.min(ago));
        }
        server.settings.exposure = exposure;
        for job in &mut server.jobs {
            job.idle_since = None;
        }
        server.refresh_idle(now);
        self.world.servers.insert(name.to_string(), server);
        self
    }

    pub fn build(self) -> SimWorld {
        let base = self.base();
        SimWorld::from_world_at(self.world, base)
    }

    pub fn build_state(self) -> World {
        self.world
    }
}

pub struct ServerBuilder {
    server: Server,
    next_id: u64,
    last_destination: Option<String>,
    /// Job id, seconds before the start, outcome, started by the scheduler (else by hand).
    past: Vec<(String, f64, Outcome, bool)>,
}

/// 24 hex characters: then the given name is the id.
fn is_object_id(s: &str) -> bool {
    s.len() == 24 && s.bytes().all(|c| c.is_ascii_hexdigit())
}

impl ServerBuilder {
    fn id_for(&mut self, name: &str) -> String {
        if is_object_id(name) {
            return name.to_string();
        }
        engine::IdSource {
            next_id: &mut self.next_id,
        }
        .next()
    }

    /// A disabled destination; later jobs target it.
    pub fn destination(self, name: &str) -> Self {
        self.destination_with(name, true)
    }

    /// An enabled destination (someone left it on).
    pub fn destination_enabled(self, name: &str) -> Self {
        self.destination_with(name, false)
    }

    fn destination_with(mut self, name: &str, disabled: bool) -> Self {
        let id = self.id_for(name);
        self.server.destinations.push(Destination {
            id: id.clone(),
            name: name.to_string(),
            kind: "SSH".to_string(),
            disabled,
        });
        self.last_destination = Some(id);
        self
    }

    /// A disabled job of `duration` seconds targeting the last destination added.
    pub fn job(self, name: &str, duration: f64) -> Self {
        self.job_with(name, duration, |j| j)
    }

    pub fn job_with(
        mut self,
        name: &str,
        duration: f64,
        f: impl FnOnce(JobBuilder) -> JobBuilder,
    ) -> Self {
        let id = self.id_for(name);
        let job = Job {
            id,
            name: name.to_string(),
            destinations: self.last_destination.iter().cloned().collect(),
            duration,
            outcome: Outcome::Completed,
            items: 2,
            disabled: true,
            last_run: None,
            idle_since: None,
            exposed_secs: 0.0,
        };
        let b = f(JobBuilder {
            job,
            destinations: &self.server.destinations,
        });
        self.server.jobs.push(b.job);
        self
    }

    /// A finished run of `job` (name or id) `ago` seconds before the start, fired by the
    /// server's own scheduler.
    pub fn past_run(self, job: &str, ago: f64, outcome: Outcome) -> Self {
        self.past_run_by(job, ago, outcome, true)
    }

    /// A finished run, `scheduled` by the server or triggered by hand (an earlier jbr run: its
    /// log has the server's `manual_log_type`).
    pub fn past_run_by(mut self, job: &str, ago: f64, outcome: Outcome, scheduled: bool) -> Self {
        let id = self
            .server
            .jobs
            .iter()
            .find(|j| j.name == job || j.id == job)
            .map(|j| j.id.clone())
            .unwrap_or_else(|| job.to_string());
        self.past.push((id, ago, outcome, scheduled));
        self
    }

    pub fn settings(mut self, f: impl FnOnce(&mut Settings)) -> Self {
        f(&mut self.server.settings);
        self
    }

    pub fn startup_delay(self, secs: f64) -> Self {
        self.settings(|s| s.startup_delay = secs)
    }
    pub fn abort_delay(self, secs: f64) -> Self {
        self.settings(|s| s.abort_delay = secs)
    }
    pub fn exposure(self, secs: f64) -> Self {
        self.settings(|s| s.exposure = Some(secs))
    }
    pub fn family(self, family: StatusFamily) -> Self {
        self.settings(|s| s.status_family = family)
    }
    pub fn flags(self, style: FlagStyle) -> Self {
        self.settings(|s| s.flag_style = style)
    }
    pub fn order(self, order: ListOrder) -> Self {
        self.settings(|s| s.list_order = order)
    }
    pub fn destination_state_fn(self, f: DestStateFn) -> Self {
        self.settings(|s| s.destination_state_fn = f)
    }
    pub fn fault(mut self, fault: Fault) -> Self {
        self.server.faults.push(fault);
        self
    }
}

pub struct JobBuilder<'a> {
    job: Job,
    destinations: &'a [Destination],
}

impl JobBuilder<'_> {
    pub fn outcome(mut self, outcome: Outcome) -> Self {
        self.job.outcome = outcome;
        self
    }
    pub fn enabled(mut self) -> Self {
        self.job.disabled = false;
        self
    }
    pub fn items(mut self, n: u32) -> Self {
        self.job.items = n;
        self
    }
    /// Targets the destination named (or with id) `name` instead of the last one added.
    pub fn destination(mut self, name: &str) -> Self {
        let id = self
            .destinations
            .iter()
            .find(|d| d.name == name || d.id == name)
            .map(|d| d.id.clone())
            .unwrap_or_else(|| name.to_string());
        self.job.destinations = vec![id];
        self
    }
}

/// The state `jbr-sim` creates on first use: one server "sim" with a disabled NAS destination
/// and three disabled jobs of 2, 3 and 4 seconds targeting it.
pub fn default_world() -> World {
    let mut world = SimWorld::builder()
        .server("sim", |s| {
            s.destination("6a5e0700000000000000a001")
                .job("6a5e0700000000000000b001", 2.0)
                .job("6a5e0700000000000000b002", 3.0)
                .job("6a5e0700000000000000b003", 4.0)
        })
        .build_state();
    // Ids above are fixed so scripts and docs can name them; give them readable names.
    if let Some(s) = world.servers.get_mut("sim") {
        for d in &mut s.destinations {
            d.name = "NAS".to_string();
        }
        for (j, name) in s
            .jobs
            .iter_mut()
            .zip(["accounts", "databases", "directories"])
        {
            j.name = name.to_string();
        }
    }
    world
}
