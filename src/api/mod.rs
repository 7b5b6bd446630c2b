//! The only code that knows jetbackup5api function names, the `-D` grammar, envelopes and status
//! codes. Returns typed values. No policy (that is the orchestrator's).
//!
//! INTERFACE CONTRACT (skeleton): the orchestrator is written against the `Client` methods and the
//! types below; the API issue fills in the bodies (command building, envelope parsing) without
//! changing these signatures. Add methods freely; do not remove or rename.

mod types;

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
        Err(self.unbuilt("ping"))
    }

    /// `getBackupJob _id`.
    pub async fn get_backup_job(&self, _job_id: &str) -> Result<BackupJob, ApiError> {
        Err(self.unbuilt("getBackupJob"))
    }

    /// `listBackupJobs` (all pages).
    pub async fn list_backup_jobs(&self) -> Result<Vec<BackupJob>, ApiError> {
        Err(self.unbuilt("listBackupJobs"))
    }

    /// `runBackupJobManually _id`. Success says nothing about whether the job will start.
    pub async fn run_backup_job_manually(&self, _job_id: &str) -> Result<BackupJob, ApiError> {
        Err(self.unbuilt("runBackupJobManually"))
    }

    /// `manageBackupJob _id action=modify disabled=0|1`. Read back with `get_backup_job`.
    pub async fn set_job_disabled(&self, _job_id: &str, _disabled: bool) -> Result<(), ApiError> {
        Err(self.unbuilt("manageBackupJob"))
    }

    /// `getDestination _id`.
    pub async fn get_destination(&self, _dest_id: &str) -> Result<Destination, ApiError> {
        Err(self.unbuilt("getDestination"))
    }

    /// `listDestinations`.
    pub async fn list_destinations(&self) -> Result<Vec<Destination>, ApiError> {
        Err(self.unbuilt("listDestinations"))
    }

    /// Enable/disable a destination with the given method (`manageDestinationState` or
    /// `manageDestination action=modify`). Read back with `get_destination`.
    pub async fn set_destination_disabled(
        &self,
        _dest_id: &str,
        _disabled: bool,
        method: DestinationMethod,
    ) -> Result<(), ApiError> {
        Err(self.unbuilt(method.function()))
    }

    /// `listQueueGroups type=1` (backup groups).
    pub async fn list_backup_queue_groups(&self) -> Result<Vec<QueueGroup>, ApiError> {
        Err(self.unbuilt("listQueueGroups"))
    }

    /// `getQueueGroup _id`.
    pub async fn get_queue_group(&self, _group_id: &str) -> Result<QueueGroup, ApiError> {
        Err(self.unbuilt("getQueueGroup"))
    }

    /// `listQueueItems group_id`.
    pub async fn list_queue_items(&self, _group_id: &str) -> Result<Vec<QueueItem>, ApiError> {
        Err(self.unbuilt("listQueueItems"))
    }

    /// `stopQueueGroup _id`: a signal; the group reaches a final state later.
    pub async fn stop_queue_group(&self, _group_id: &str) -> Result<(), ApiError> {
        Err(self.unbuilt("stopQueueGroup"))
    }

    /// `listLogs find[type]=1 find[info.ID]=JOB sort[start_time]=-1 limit=N`: newest first.
    pub async fn list_job_logs(
        &self,
        _job_id: &str,
        _limit: u32,
    ) -> Result<Vec<LogEntry>, ApiError> {
        Err(self.unbuilt("listLogs"))
    }

    /// `getLog _id`.
    pub async fn get_log(&self, _log_id: &str) -> Result<LogEntry, ApiError> {
        Err(self.unbuilt("getLog"))
    }

    /// `listLogItems log_id`.
    pub async fn list_log_items(&self, _log_id: &str) -> Result<Vec<LogItem>, ApiError> {
        Err(self.unbuilt("listLogItems"))
    }

    fn unbuilt(&self, function: &'static str) -> ApiError {
        ApiError::Refused {
            server: self.server().to_string(),
            function,
            message: "not built yet".to_string(),
        }
    }
}
