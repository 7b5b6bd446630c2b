//! The real API client over the real SSH transport, through `server/jbr-gate` on a real sshd, to
//! `jbr-sim` installed as `jetbackup5api`: every call jbr makes, quoted as the openssh crate quotes
//! it, passes the gate and reaches the simulator with the intended arguments, over one connection.

mod support;

use std::path::Path;
use std::time::Duration;

use jbr::api::{Client, DestinationMethod};
use jbr::transport::ssh::{SshOptions, SshTransport};

use support::sshd::{Sshd, skip_without_sshd};

#[tokio::test]
async fn every_api_call_passes_the_gate_to_jbr_sim_over_one_connection() {
    if skip_without_sshd("every_api_call_passes_the_gate_to_jbr_sim_over_one_connection") {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    // The simulator runs as the sshd test user and writes its state here.
    support::gate::open_dir(work.path(), 0o777);
    let bin = work.path().join("bin");
    support::gate::install_as(
        &bin,
        "jetbackup5api",
        Path::new(env!("CARGO_BIN_EXE_jbr-sim")),
    );
    let state = work.path().join("web-01.json");
    let sshd = Sshd::start_with(
        "127.0.0.1",
        &bin,
        &[("JBR_SIM_STATE", &state.display().to_string())],
    );
    let server = sshd.server_config("web-01", Duration::from_secs(5));
    let control = tempfile::tempdir().expect("tempdir");
    let options = SshOptions {
        control_dir: Some(control.path().to_path_buf()),
        call_timeout: Duration::from_secs(20),
        config_file: Some("/dev/null".into()),
        ..SshOptions::default()
    };
    let client = Client::new(SshTransport::new(&server, &options).expect("transport"));

    client.ping().await.expect("ping");
    let jobs = client.list_backup_jobs().await.expect("listBackupJobs");
    assert!(!jobs.is_empty());
    let dests = client.list_destinations().await.expect("listDestinations");
    assert!(!dests.is_empty());
    let job = &jobs[0].id;
    let dest = &dests[0].id;

    assert_eq!(
        &client.get_backup_job(job).await.expect("getBackupJob").id,
        job
    );
    assert_eq!(
        &client
            .get_destination(dest)
            .await
            .expect("getDestination")
            .id,
        dest
    );
    for method in [DestinationMethod::State, DestinationMethod::Modify] {
        client
            .set_destination_disabled(dest, false, method)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", method.function()));
    }
    client
        .set_job_disabled(job, false)
        .await
        .expect("enable job");
    assert!(
        !client
            .get_backup_job(job)
            .await
            .expect("read back")
            .disabled
    );
    client
        .run_backup_job_manually(job)
        .await
        .expect("runBackupJobManually");
    let group = client
        .latest_group_for_job(job)
        .await
        .expect("listQueueGroups")
        .expect("a queue group for the triggered job");
    client
        .get_queue_group(&group.id)
        .await
        .expect("getQueueGroup");
    client
        .list_queue_items(&group.id)
        .await
        .expect("listQueueItems");
    client
        .stop_queue_group(&group.id)
        .await
        .expect("stopQueueGroup");
    client.list_job_logs(job).await.expect("listLogs");
    client
        .set_job_disabled(job, true)
        .await
        .expect("disable job");
    client
        .set_destination_disabled(dest, true, DestinationMethod::Modify)
        .await
        .expect("disable destination");
    assert!(
        client
            .get_destination(dest)
            .await
            .expect("read back")
            .disabled
    );

    assert_eq!(client.transport().connections_opened(), 1);
    assert_eq!(sshd.logins(), 1);
}
