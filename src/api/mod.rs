//! A typed client for `jetbackup5api`: one method per function, the envelopes and the status
//! codes. Returns typed values. No policy (that is the orchestrator's). The call grammar is
//! `contract`'s.

mod command;
mod envelope;
mod timestamp;
mod types;

pub use command::build_argv;
pub use envelope::{Ctx, Envelope, parse_reply, truthy};
pub use types::*;

use crate::transport::Transport;

/// A typed client for one server's `jetbackup5api`, over any `Transport`.
pub struct Client<T: Transport> {
    transport: T,
}

impl<T: Transport> Client<T> {
    pub fn new(transport: T) -> Self {
        Client { transport }
    }

    /// The server's name as in the config.
    pub fn server(&self) -> &str {
        self.transport.server()
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// `echo jbr-ping`: SSH and the gate answer.
    pub async fn ping(&self) -> Result<(), ApiError> {
        let argv = vec!["echo".to_string(), "jbr-ping".to_string()];
        let out = self
            .transport
            .run(&argv)
            .await
            .map_err(|source| ApiError::Transport {
                function: "ping",
                source,
            })?;
        let answer = envelope::snippet(&out.stdout, 200);
        if out.status == Some(0) && answer == "jbr-ping" {
            return Ok(());
        }
        Err(ApiError::BadExit {
            server: self.server().to_string(),
            function: "ping",
            detail: format!(
                "`echo jbr-ping` answered {answer:?} with {} (stderr: {:?})",
                match out.status {
                    Some(c) => format!("exit status {c}"),
                    None => "a signal".to_string(),
                },
                envelope::snippet(&out.stderr, 200)
            ),
        })
    }

    /// `getBackupJob _id`.
    pub async fn get_backup_job(&self, job_id: &str) -> Result<BackupJob, ApiError> {
        let (ctx, env) = self.call("getBackupJob", &[("_id", job_id)]).await?;
        envelope::object(ctx, &env.data)?;
        envelope::backup_job(ctx, "data", &env.data)
    }

    /// `listBackupJobs` (all pages).
    pub async fn list_backup_jobs(&self) -> Result<Vec<BackupJob>, ApiError> {
        let (ctx, items) = self.list_all("listBackupJobs", &[], "jobs").await?;
        items
            .iter()
            .enumerate()
            .map(|(i, v)| envelope::backup_job(ctx, &format!("data.jobs[{i}]"), v))
            .collect()
    }

    /// `runBackupJobManually _id`. Success says nothing about whether the job will start.
    ///
    /// An empty `data` (what a disabled job gets) is a `Shape` error on `data`: nothing was
    /// queued, and saying so now beats waiting out the startup timeout.
    pub async fn run_backup_job_manually(&self, job_id: &str) -> Result<BackupJob, ApiError> {
        let (ctx, env) = self
            .call("runBackupJobManually", &[("_id", job_id)])
            .await?;
        if env.data_is_empty() {
            return Err(ctx.shape(
                "data",
                format!(
                    "empty: job {job_id} was not queued (a disabled job answers like this); message {:?}",
                    env.message
                ),
            ));
        }
        envelope::backup_job(ctx, "data", &env.data)
    }

    /// `manageBackupJob _id action=modify disabled=0|1`. Read back with `get_backup_job`.
    pub async fn set_job_disabled(&self, job_id: &str, disabled: bool) -> Result<(), ApiError> {
        let flag = if disabled { "1" } else { "0" };
        self.call(
            "manageBackupJob",
            &[("_id", job_id), ("action", "modify"), ("disabled", flag)],
        )
        .await?;
        Ok(())
    }

    /// `getDestination _id`.
    pub async fn get_destination(&self, dest_id: &str) -> Result<Destination, ApiError> {
        let (ctx, env) = self.call("getDestination", &[("_id", dest_id)]).await?;
        envelope::object(ctx, &env.data)?;
        envelope::destination(ctx, "data", &env.data)
    }

    /// `listDestinations`.
    pub async fn list_destinations(&self) -> Result<Vec<Destination>, ApiError> {
        let (ctx, items) = self
            .list_all("listDestinations", &[], "destinations")
            .await?;
        items
            .iter()
            .enumerate()
            .map(|(i, v)| envelope::destination(ctx, &format!("data.destinations[{i}]"), v))
            .collect()
    }

    /// Enable/disable a destination with the given method (`manageDestinationState` or
    /// `manageDestination action=modify`). Read back with `get_destination`.
    pub async fn set_destination_disabled(
        &self,
        dest_id: &str,
        disabled: bool,
        method: DestinationMethod,
    ) -> Result<(), ApiError> {
        let flag = if disabled { "1" } else { "0" };
        match method {
            DestinationMethod::State => {
                self.call(method.function(), &[("_id", dest_id), ("disabled", flag)])
                    .await?
            }
            DestinationMethod::Modify => {
                self.call(
                    method.function(),
                    &[("_id", dest_id), ("action", "modify"), ("disabled", flag)],
                )
                .await?
            }
        };
        Ok(())
    }

    /// `listQueueGroups type=1` (backup groups).
    pub async fn list_backup_queue_groups(&self) -> Result<Vec<QueueGroup>, ApiError> {
        let (ctx, items) = self
            .list_all("listQueueGroups", &[("type", "1")], "groups")
            .await?;
        items
            .iter()
            .enumerate()
            .map(|(i, v)| envelope::queue_group(ctx, &format!("data.groups[{i}]"), v))
            .collect()
    }

    /// The newest backup queue group of `job_id`, if any. List order is not documented, so
    /// this takes the newest `created`; ties (same second) go to the greater id, as ObjectIds
    /// grow with creation time.
    pub async fn latest_group_for_job(&self, job_id: &str) -> Result<Option<QueueGroup>, ApiError> {
        let groups = self.list_backup_queue_groups().await?;
        let created = |g: &QueueGroup| g.created.as_ref().and_then(|t| t.epoch).unwrap_or(f64::MIN);
        Ok(groups
            .into_iter()
            .filter(|g| g.job_id.as_deref() == Some(job_id))
            .max_by(|a, b| {
                created(a)
                    .total_cmp(&created(b))
                    .then_with(|| a.id.cmp(&b.id))
            }))
    }

    /// `getQueueGroup _id`.
    pub async fn get_queue_group(&self, group_id: &str) -> Result<QueueGroup, ApiError> {
        let (ctx, env) = self.call("getQueueGroup", &[("_id", group_id)]).await?;
        envelope::object(ctx, &env.data)?;
        envelope::queue_group(ctx, "data", &env.data)
    }

    /// `listQueueItems group_id`.
    pub async fn list_queue_items(&self, group_id: &str) -> Result<Vec<QueueItem>, ApiError> {
        let (ctx, items) = self
            .list_all("listQueueItems", &[("group_id", group_id)], "items")
            .await?;
        items
            .iter()
            .enumerate()
            .map(|(i, v)| envelope::queue_item(ctx, &format!("data.items[{i}]"), v))
            .collect()
    }

    /// `stopQueueGroup _id`: a signal; the group reaches a final state later.
    pub async fn stop_queue_group(&self, group_id: &str) -> Result<(), ApiError> {
        self.call("stopQueueGroup", &[("_id", group_id)]).await?;
        Ok(())
    }

    /// Every log of `job_id` (`listLogs find[info.ID]=JOB sort[start_time]=-1`, all pages),
    /// newest first whatever order the server used. No `find[type]`: a run started by hand may
    /// be logged as type 6 "backup on demand", and filtering on 1 would leave only older logs.
    pub async fn list_job_logs(&self, job_id: &str) -> Result<Vec<LogEntry>, ApiError> {
        let (ctx, items) = self
            .list_all(
                "listLogs",
                &[("find[info.ID]", job_id), ("sort[start_time]", "-1")],
                "logs",
            )
            .await?;
        let mut logs = items
            .iter()
            .enumerate()
            .map(|(i, v)| envelope::log_entry(ctx, &format!("data.logs[{i}]"), v))
            .collect::<Result<Vec<_>, _>>()?;
        // A log without a start sorts last; equal starts by id, so the order is the same
        // whatever the server's.
        let t = |l: &LogEntry| {
            l.start_time
                .as_ref()
                .and_then(|t| t.epoch)
                .unwrap_or(f64::MIN)
        };
        logs.sort_by(|a, b| t(b).total_cmp(&t(a)).then_with(|| b.id.cmp(&a.id)));
        Ok(logs)
    }

    /// `getLog _id`.
    pub async fn get_log(&self, log_id: &str) -> Result<LogEntry, ApiError> {
        let (ctx, env) = self.call("getLog", &[("_id", log_id)]).await?;
        envelope::object(ctx, &env.data)?;
        envelope::log_entry(ctx, "data", &env.data)
    }

    /// `listLogItems log_id` (the parameter is `log_id`, not `_id`).
    pub async fn list_log_items(&self, log_id: &str) -> Result<Vec<LogItem>, ApiError> {
        let (ctx, items) = self
            .list_all("listLogItems", &[("log_id", log_id)], "items")
            .await?;
        items
            .iter()
            .enumerate()
            .map(|(i, v)| envelope::log_item(ctx, &format!("data.items[{i}]"), v))
            .collect()
    }

    /// `getLogItem log_id _id` (both are required).
    pub async fn get_log_item(&self, log_id: &str, item_id: &str) -> Result<LogItem, ApiError> {
        let (ctx, env) = self
            .call("getLogItem", &[("log_id", log_id), ("_id", item_id)])
            .await?;
        envelope::object(ctx, &env.data)?;
        envelope::log_item(ctx, "data", &env.data)
    }

    /// One call: build the argv (refusing bad values), run it, check the envelope.
    pub async fn call(
        &self,
        function: &'static str,
        params: &[(&str, &str)],
    ) -> Result<(Ctx<'_>, Envelope), ApiError> {
        let ctx = Ctx {
            server: self.server(),
            function,
        };
        let argv = command::build_argv(ctx.server, function, params)?;
        let out = self
            .transport
            .run(&argv)
            .await
            .map_err(|source| ApiError::Transport { function, source })?;
        let env = envelope::parse_reply(ctx, &out)?;
        Ok((ctx, env))
    }

    /// Every entry of a list call. List calls stop at 100 entries unless asked, so page with
    /// `limit`/`skip` until the announced `total` (or a short page when there is none), or a
    /// page with nothing new (a server that ignores `skip` must not loop us forever).
    async fn list_all(
        &self,
        function: &'static str,
        params: &[(&str, &str)],
        collection: &str,
    ) -> Result<(Ctx<'_>, Vec<serde_json::Value>), ApiError> {
        const PAGE: usize = 500;
        const MAX_PAGES: usize = 200;
        let ctx = Ctx {
            server: self.server(),
            function,
        };
        let mut all: Vec<serde_json::Value> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let limit = PAGE.to_string();
        for _ in 0..MAX_PAGES {
            let skip = all.len().to_string();
            let mut p: Vec<(&str, &str)> = params.to_vec();
            p.push(("limit", &limit));
            if !all.is_empty() {
                p.push(("skip", &skip));
            }
            let (_, env) = self.call(function, &p).await?;
            let (items, total) = envelope::collection(ctx, &env.data, collection)?;
            let got = items.len();
            let mut fresh = 0;
            for item in items {
                let key = item
                    .get("_id")
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| item.to_string());
                if seen.insert(key) {
                    all.push(item.clone());
                    fresh += 1;
                }
            }
            // With a `total`, page until it is reached even after a short page: a server that
            // caps `limit` at its default of 100 must not hide the newest groups.
            let done = match total {
                Some(t) => all.len() as u64 >= t,
                None => got < PAGE,
            };
            if got == 0 || fresh == 0 || done {
                break;
            }
        }
        Ok((ctx, all))
    }
}
