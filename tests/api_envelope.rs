//! The envelope parser against fixtures in the exact shapes of the notes (docs examples,
//! `{collection, total}` lists, the group's job id in `data._id`, flags as 0/1/true/""/missing),
//! through a transport that answers canned bytes and records what was asked.

use std::sync::Mutex;

use jbr::api::{ApiError, Client, DestinationMethod, QueueStatus};
use jbr::transport::{RawOutput, Transport, TransportError};

struct Canned {
    answer: Result<RawOutput, TransportError>,
    asked: Mutex<Vec<Vec<String>>>,
}

impl Transport for Canned {
    fn server(&self) -> &str {
        "web-01"
    }
    async fn run(&self, argv: &[String]) -> Result<RawOutput, TransportError> {
        self.asked.lock().unwrap().push(argv.to_vec());
        self.answer.clone()
    }
}

fn raw(status: i32, stdout: &[u8], stderr: &str) -> Client<Canned> {
    Client::new(Canned {
        answer: Ok(RawOutput {
            status: Some(status),
            stdout: stdout.to_vec(),
            stderr: stderr.as_bytes().to_vec(),
        }),
        asked: Mutex::new(Vec::new()),
    })
}

fn fixture(name: &str) -> Client<Canned> {
    let path = format!("{}/tests/fixtures/api/{name}", env!("CARGO_MANIFEST_DIR"));
    raw(0, &std::fs::read(&path).unwrap(), "")
}

fn asked(c: &Client<Canned>) -> Vec<Vec<String>> {
    c.transport().asked.lock().unwrap().clone()
}

const JOB: &str = "6504c79fd4b57d536c05bbe2";
const GROUP: &str = "6508e9aed49adbd1660f06d9";

#[tokio::test]
async fn queue_groups_list_under_data_groups_with_the_job_in_data_id() {
    let c = fixture("list_queue_groups.json");
    let groups = c.list_backup_queue_groups().await.unwrap();
    assert_eq!(groups.len(), 3);
    let g = &groups[0];
    assert_eq!(g.id, GROUP);
    assert_eq!(g.job_id.as_deref(), Some(JOB));
    assert_eq!(g.status, QueueStatus::COMPLETED);
    assert_eq!(g.created.as_ref().unwrap().epoch, Some(1_695_082_926.0));
    assert_eq!(g.ended.as_ref().unwrap().raw, "2023-09-19T00:22:22+00:00");
    assert_eq!(g.log_id.as_deref(), Some("6508e9aee2238a334103e472"));
    assert_eq!(
        (g.items, g.items_completed, g.progress_percent),
        (1, 1, Some(0.0))
    );
    // Status 30: still active; empty dates are no dates; a string percentage is read.
    let g = &groups[1];
    assert!(g.status.is_active() && !g.status.is_final());
    assert_eq!(g.status.name(), "running");
    assert!(g.started.is_none() && g.ended.is_none());
    assert_eq!(g.progress_percent, Some(12.0));
    // Status as a string, `data` without `_id`, `ended: null`.
    assert_eq!(groups[2].status, QueueStatus::PENDING);
    assert_eq!(groups[2].job_id, None);
    assert_eq!(
        asked(&c),
        vec![
            [
                "jetbackup5api",
                "-F",
                "listQueueGroups",
                "-D",
                "type=1&limit=500",
                "-O",
                "json"
            ]
            .map(String::from)
            .to_vec()
        ]
    );
}

#[tokio::test]
async fn jobs_list_with_every_flag_and_destination_shape() {
    let c = fixture("list_backup_jobs.json");
    let jobs = c.list_backup_jobs().await.unwrap();
    let flags: Vec<(bool, bool)> = jobs.iter().map(|j| (j.disabled, j.running)).collect();
    assert_eq!(
        flags,
        vec![(false, false), (true, true), (true, false), (false, false)]
    );
    assert_eq!(
        jobs[0].destinations,
        ["6503d9d5a31fb181bf02f682", "6503eec8ebbf07708d06f1d2"]
    );
    assert_eq!(
        jobs[1].destinations,
        ["6503eec8ebbf07708d06f1d2"],
        "objects with _id"
    );
    assert!(jobs[2].destinations.is_empty() && jobs[3].destinations.is_empty());
    assert_eq!(
        jobs[0].last_run.as_ref().unwrap().epoch,
        Some(1_695_220_750.0)
    );
    assert_eq!(jobs[1].last_run, None);
}

#[tokio::test]
async fn destination_flags_by_the_truthy_rule() {
    let c = fixture("list_destinations_flags.json");
    let d = c.list_destinations().await.unwrap();
    let got: Vec<(&str, bool)> = d.iter().map(|d| (d.name.as_str(), d.disabled)).collect();
    assert_eq!(
        got,
        [
            ("int0", false),
            ("int1", true),
            ("true", true),
            ("empty", false),
            ("missing", false),
            ("str1", true),
            ("null", false),
            ("strtrue", true)
        ]
    );
    let c = fixture("get_destination.json");
    let d = c.get_destination("6a73be9121cbba8e210debb2").await.unwrap();
    assert_eq!(
        (d.name.as_str(), d.kind.as_str(), d.disabled),
        ("Wasabi Object Lock", "S3", false)
    );
}

#[tokio::test]
async fn run_backup_job_manually_returns_the_job_object() {
    let c = fixture("run_backup_job_manually.json");
    let j = c.run_backup_job_manually(JOB).await.unwrap();
    assert_eq!(
        (j.id.as_str(), j.name.as_str(), j.running, j.disabled),
        (JOB, "job1", true, false)
    );
    let c = fixture("disabled_job_trigger.json");
    let e = c.run_backup_job_manually(JOB).await.unwrap_err();
    assert!(e.to_string().contains("was not queued"), "{e}");
}

#[tokio::test]
async fn empty_data_as_object_array_or_null_and_success_in_any_spelling() {
    for f in [
        "stop_queue_group.json",
        "stop_queue_group_array.json",
        "stop_queue_group_null.json",
    ] {
        let c = fixture(f);
        c.stop_queue_group(GROUP).await.unwrap();
        assert_eq!(asked(&c)[0][4], format!("_id={GROUP}"));
    }
}

#[tokio::test]
async fn refusals_carry_the_servers_message() {
    let e = fixture("refused.json")
        .get_queue_group(GROUP)
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "server web-01: getQueueGroup: success=0 \"No queue group found with the provided id\""
    );
    assert!(!e.is_transient());
    let e = fixture("refused_false.json")
        .set_job_disabled(JOB, true)
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "server web-01: manageBackupJob: success=0 \"(no message)\""
    );
}

#[tokio::test]
async fn logs_and_items() {
    let c = fixture("list_logs.json");
    let logs = c.list_job_logs(JOB).await.unwrap();
    // Newest first whatever the server's order.
    assert_eq!(logs[0].id, "6508e8f1bd155427ab017ca6");
    assert_eq!(logs[0].status.name(), "processing");
    assert_eq!(logs[0].job_id.as_deref(), Some(JOB));
    assert_eq!(
        logs[0].start_time.as_ref().unwrap().epoch,
        Some(1_695_168_000.0),
        "offset applied"
    );
    assert_eq!(logs[1].status.name(), "completed");
    assert_eq!(
        asked(&c)[0][4],
        // No `find[type]`: a run started by hand may be logged as type 6 (issue 9).
        format!("find[info.ID]={JOB}&sort[start_time]=-1&limit=500")
    );
    let c = fixture("list_log_items.json");
    let items = c.list_log_items("6508e8f1bd155427ab017ca5").await.unwrap();
    assert_eq!(
        (items[0].status, items[0].message.as_str()),
        (QueueStatus::COMPLETED, "Backup completed successfully")
    );
    assert_eq!(
        asked(&c)[0][4],
        "log_id=6508e8f1bd155427ab017ca5&limit=500",
        "log_id, not _id"
    );
    let c = fixture("list_queue_items.json");
    let items = c.list_queue_items(GROUP).await.unwrap();
    assert_eq!(
        (items[0].name.as_str(), items[0].status.raw()),
        ("example", 100)
    );
}

#[tokio::test]
async fn shape_errors_name_the_field() {
    let e = fixture("group_without_status.json")
        .get_queue_group(GROUP)
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "server web-01: getQueueGroup: unexpected reply: data.status: missing"
    );
    let e = fixture("group_epoch_dates.json")
        .get_queue_group(GROUP)
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("data.created: expected an ISO-8601 date, got 1695082926"),
        "{e}"
    );
    let e = fixture("bare_array_jobs.json")
        .list_backup_jobs()
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("(top level): not a JSON object"),
        "{e}"
    );
    let e = fixture("list_queue_groups.json")
        .get_backup_job(JOB)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("data._id: missing"), "{e}");
}

#[tokio::test]
async fn transport_level_failures() {
    let e = raw(0, b"<html>500 Internal Server Error</html>", "")
        .get_backup_job(JOB)
        .await
        .unwrap_err();
    assert!(
        matches!(e, ApiError::NotJson { .. }) && e.is_transient(),
        "{e}"
    );
    let long = "x".repeat(5000);
    let ApiError::NotJson { snippet, .. } = raw(0, long.as_bytes(), "")
        .get_backup_job(JOB)
        .await
        .unwrap_err()
    else {
        panic!()
    };
    assert!(snippet.len() <= 203, "{}", snippet.len());
    let e = raw(127, b"", "bash: jetbackup5api: command not found\n")
        .get_backup_job(JOB)
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "server web-01: getBackupJob: exit status 127: bash: jetbackup5api: command not found"
    );
    let e = raw(0, b"  \n", "").get_backup_job(JOB).await.unwrap_err();
    assert!(matches!(e, ApiError::BadExit { .. }), "{e}");
    let c = Client::new(Canned {
        answer: Err(TransportError::HostKey {
            server: "web-01".into(),
            reason: "changed".into(),
        }),
        asked: Mutex::new(Vec::new()),
    });
    let e = c.get_backup_job(JOB).await.unwrap_err();
    assert!(
        matches!(e, ApiError::Transport { .. }) && !e.is_transient(),
        "host key: never retried"
    );
}

#[tokio::test]
async fn ping_wants_exactly_the_word() {
    raw(0, b"jbr-ping\n", "").ping().await.unwrap();
    let e = raw(1, b"", "jbr-gate: denied: not allowed\n")
        .ping()
        .await
        .unwrap_err();
    assert!(e.to_string().contains("jbr-gate: denied"), "{e}");
    let c = raw(0, b"Welcome to web-01\n", "");
    assert!(c.ping().await.is_err());
    assert_eq!(
        asked(&c),
        vec![vec!["echo".to_string(), "jbr-ping".to_string()]]
    );
}

#[tokio::test]
async fn destination_methods_send_their_own_grammar() {
    let c = fixture("stop_queue_group.json");
    c.set_destination_disabled("6a73be9121cbba8e210debb2", true, DestinationMethod::State)
        .await
        .unwrap();
    c.set_destination_disabled("6a73be9121cbba8e210debb2", false, DestinationMethod::Modify)
        .await
        .unwrap();
    c.set_job_disabled(JOB, false).await.unwrap();
    let a = asked(&c);
    assert_eq!(
        a[0][2..5],
        [
            "manageDestinationState",
            "-D",
            "_id=6a73be9121cbba8e210debb2&disabled=1"
        ]
    );
    assert_eq!(
        a[1][2..5],
        [
            "manageDestination",
            "-D",
            "_id=6a73be9121cbba8e210debb2&action=modify&disabled=0"
        ]
    );
    assert_eq!(
        a[2][2..5],
        [
            "manageBackupJob",
            "-D",
            &format!("_id={JOB}&action=modify&disabled=0")
        ]
    );
}
