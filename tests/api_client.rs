//! The typed client against the in-process simulator: every call, every variant, every fault.
//! Paused tokio clock: simulated seconds pass instantly, and the tests stop by themselves.

use std::time::Duration;

use jbr::api::{ApiError, Client, DestinationMethod, QueueGroup, QueueStatus};
use jbr::sim::{
    DestStateFn, DisabledTriggerReply, Fault, FaultKind, FlagStyle, ListOrder, Outcome, SimWorld,
    StatusFamily, When, secs,
};
use jbr::transport::simulated::SimTransport;

async fn wait(secs: f64) {
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
}

fn client(world: &SimWorld, server: &str) -> Client<SimTransport> {
    Client::new(SimTransport::new(world.clone(), server))
}

fn one_server(f: impl FnOnce(jbr::sim::ServerBuilder) -> jbr::sim::ServerBuilder) -> SimWorld {
    SimWorld::builder()
        .server("web-01", |s| f(s.destination("nas")))
        .build()
}

/// Enables destination and job, as the orchestrator would.
async fn open_window(c: &Client<SimTransport>, dest: &str, job: &str) {
    c.set_destination_disabled(dest, false, DestinationMethod::Modify)
        .await
        .unwrap();
    c.set_job_disabled(job, false).await.unwrap();
}

async fn group_of(c: &Client<SimTransport>, job: &str) -> Option<QueueGroup> {
    // Order is not documented: take the matching group with the newest `created`.
    c.list_backup_queue_groups()
        .await
        .unwrap()
        .into_iter()
        .filter(|g| g.job_id.as_deref() == Some(job))
        .max_by(|a, b| {
            let t = |g: &QueueGroup| g.created.as_ref().and_then(|t| t.epoch).unwrap_or(0.0);
            t(a).total_cmp(&t(b))
        })
}

#[tokio::test(start_paused = true)]
async fn a_whole_run_through_every_call() {
    let world = one_server(|s| s.job("accounts", secs(3)).startup_delay(1.0));
    let (dest, job) = (world.id("web-01", "nas"), world.id("web-01", "accounts"));
    let c = client(&world, "web-01");

    c.ping().await.unwrap();
    let d = c.get_destination(&dest).await.unwrap();
    assert!(d.disabled);
    assert_eq!((d.name.as_str(), d.kind.as_str()), ("nas", "SSH"));
    open_window(&c, &dest, &job).await;
    assert!(!c.get_destination(&dest).await.unwrap().disabled);
    let j = c.get_backup_job(&job).await.unwrap();
    assert!(!j.disabled && !j.running);
    assert_eq!(j.destinations, vec![dest.clone()]);

    let triggered = c.run_backup_job_manually(&job).await.unwrap();
    assert_eq!(triggered.id, job);
    assert!(
        !triggered.running,
        "running turns truthy only after the startup delay"
    );

    let g = group_of(&c, &job).await.expect("a queue group for the job");
    assert_eq!(g.status, QueueStatus::PENDING);
    assert!(g.ended.is_none() && g.started.is_none());

    wait(1.5).await;
    let g = c.get_queue_group(&g.id).await.unwrap();
    assert_eq!(g.status, QueueStatus::PROCESSING);
    assert_eq!(g.job_id.as_deref(), Some(job.as_str()));
    assert!(c.get_backup_job(&job).await.unwrap().running);
    let items = c.list_queue_items(&g.id).await.unwrap();
    assert_eq!(items.len(), 2);
    assert!(
        items
            .iter()
            .all(|i| i.status == QueueStatus::PROCESSING && i.name.starts_with("account"))
    );

    wait(3.0).await;
    let g = c.get_queue_group(&g.id).await.unwrap();
    assert!(g.status.is_success(), "{:?}", g.status);
    assert_eq!(g.items_completed, 2);
    assert_eq!(g.progress_percent, Some(100.0));
    let (s, e) = (
        g.started.unwrap().epoch.unwrap(),
        g.ended.unwrap().epoch.unwrap(),
    );
    assert!((e - s - 3.0).abs() <= 1.0, "ran {} s", e - s);
    assert!(!c.get_backup_job(&job).await.unwrap().running);

    let logs = c.list_job_logs(&job).await.unwrap();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].status.name(), "completed");
    assert_eq!(logs[0].job_id.as_deref(), Some(job.as_str()));
    assert_eq!(Some(logs[0].id.clone()), g.log_id);
    assert_eq!(c.get_log(&logs[0].id).await.unwrap(), logs[0]);
    let log_items = c.list_log_items(&logs[0].id).await.unwrap();
    assert_eq!(log_items.len(), 2);
    assert_eq!(log_items[0].message, "Backup completed successfully");
    assert_eq!(
        c.get_log_item(&logs[0].id, &log_items[1].id).await.unwrap(),
        log_items[1]
    );

    c.set_job_disabled(&job, true).await.unwrap();
    c.set_destination_disabled(&dest, true, DestinationMethod::Modify)
        .await
        .unwrap();
    assert_eq!(c.list_destinations().await.unwrap().len(), 1);
    assert_eq!(c.list_backup_jobs().await.unwrap().len(), 1);
    assert!(world.final_state().is_clean(), "{:?}", world.final_state());
    assert_eq!(world.max_concurrent_writers(), 1);
}

#[tokio::test(start_paused = true)]
async fn destination_state_function_variants() {
    for (variant, works) in [
        (DestStateFn::Works, true),
        (DestStateFn::Absent, false),
        (DestStateFn::Ignored, false),
    ] {
        let world = one_server(|s| s.destination_state_fn(variant));
        let dest = world.id("web-01", "nas");
        let c = client(&world, "web-01");
        let r = c
            .set_destination_disabled(&dest, false, DestinationMethod::State)
            .await;
        match variant {
            DestStateFn::Absent => {
                let e = r.unwrap_err();
                assert!(matches!(e, ApiError::Refused { .. }));
                assert!(e.to_string().contains("manageDestinationState"), "{e}");
            }
            _ => r.unwrap(),
        }
        // Only the read-back tells whether it worked (the safe rule).
        assert_eq!(
            !c.get_destination(&dest).await.unwrap().disabled,
            works,
            "{variant:?}"
        );
        c.set_destination_disabled(&dest, false, DestinationMethod::Modify)
            .await
            .unwrap();
        assert!(!c.get_destination(&dest).await.unwrap().disabled);
    }
}

#[tokio::test(start_paused = true)]
async fn every_flag_style_parses_by_the_truthy_rule() {
    for style in [
        FlagStyle::Mixed,
        FlagStyle::Int,
        FlagStyle::Bool,
        FlagStyle::String,
        FlagStyle::NullMissing,
    ] {
        let world = one_server(|s| s.job("accounts", 5.0).flags(style).startup_delay(0.5));
        let (dest, job) = (world.id("web-01", "nas"), world.id("web-01", "accounts"));
        let c = client(&world, "web-01");
        let j = c.get_backup_job(&job).await.unwrap();
        assert!(j.disabled && !j.running, "{style:?}");
        assert!(
            c.get_destination(&dest).await.unwrap().disabled,
            "{style:?}"
        );
        open_window(&c, &dest, &job).await;
        c.run_backup_job_manually(&job).await.unwrap();
        wait(1.0).await;
        let j = c.get_backup_job(&job).await.unwrap();
        assert!(!j.disabled && j.running, "{style:?}");
        assert!(
            !c.get_destination(&dest).await.unwrap().disabled,
            "{style:?}"
        );
        let listed = c.list_backup_jobs().await.unwrap();
        assert!(listed[0].running && !listed[0].disabled, "{style:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn list_order_and_yesterdays_groups_do_not_fool_the_newest_match() {
    for order in [ListOrder::OldestFirst, ListOrder::NewestFirst] {
        let world = one_server(|s| {
            s.job("accounts", 2.0)
                .order(order)
                .past_run("accounts", 86_400.0, Outcome::Completed)
                .past_run("accounts", 90_000.0, Outcome::Failed)
        });
        let (dest, job) = (world.id("web-01", "nas"), world.id("web-01", "accounts"));
        let c = client(&world, "web-01");
        let groups = c.list_backup_queue_groups().await.unwrap();
        assert_eq!(groups.len(), 2);
        assert!(groups.iter().all(|g| g.status.is_final()));
        open_window(&c, &dest, &job).await;
        c.run_backup_job_manually(&job).await.unwrap();
        let all = c.list_backup_queue_groups().await.unwrap();
        assert_eq!(all.len(), 3);
        let first_is_new = all[0].status.is_active();
        assert_eq!(first_is_new, order == ListOrder::NewestFirst);
        let newest = group_of(&c, &job).await.unwrap();
        assert_eq!(newest.status, QueueStatus::PENDING, "{order:?}");
        assert_eq!(c.latest_group_for_job(&job).await.unwrap(), Some(newest));
        assert_eq!(
            c.latest_group_for_job("6508e9aed49adbd1660f0000")
                .await
                .unwrap(),
            None
        );
    }
}

#[tokio::test(start_paused = true)]
async fn lists_longer_than_a_page_are_read_whole() {
    let world = SimWorld::builder()
        .server("web-01", |mut s| {
            s = s.destination("nas");
            for i in 0..1100 {
                s = s.job(&format!("job{i}"), 1.0);
            }
            for i in 0..130 {
                s = s.past_run("job0", 1000.0 + i as f64 * 10.0, Outcome::Completed);
            }
            s
        })
        .build();
    let c = client(&world, "web-01");
    let jobs = c.list_backup_jobs().await.unwrap();
    assert_eq!(jobs.len(), 1100, "past the default 100 and past one page");
    assert_eq!(jobs[1099].name, "job1099");
    assert_eq!(world.calls("web-01", "listBackupJobs"), 3, "pages of 500");
    assert_eq!(c.list_backup_queue_groups().await.unwrap().len(), 130);

    // A server that caps every list at 100 whatever `limit` says: `total` and `skip` still
    // get every group, so the newest run is never hidden behind yesterday's.
    world.with_server("web-01", |s| s.settings.list_cap = Some(100));
    let before = world.calls("web-01", "listQueueGroups");
    assert_eq!(c.list_backup_queue_groups().await.unwrap().len(), 130);
    assert_eq!(world.calls("web-01", "listQueueGroups") - before, 2);
}

#[tokio::test(start_paused = true)]
async fn final_codes_per_outcome_and_status_family() {
    use Outcome::*;
    let cases = [
        (StatusFamily::Research, Completed, 100, 1),
        (StatusFamily::Research, Warnings, 100, 1),
        (StatusFamily::Research, Partial, 101, 4),
        (StatusFamily::Research, Failed, 102, 2),
        (StatusFamily::Research, Aborted, 103, 3),
        (StatusFamily::OlderTool, Completed, 100, 1),
        (StatusFamily::OlderTool, Warnings, 101, 1),
        (StatusFamily::OlderTool, Partial, 102, 4),
        (StatusFamily::OlderTool, Failed, 200, 2),
        (StatusFamily::OlderTool, Aborted, 201, 3),
    ];
    for (family, outcome, code, log_code) in cases {
        let world = one_server(|s| s.job_with("j", 2.0, |j| j.outcome(outcome)).family(family));
        let (dest, job) = (world.id("web-01", "nas"), world.id("web-01", "j"));
        let c = client(&world, "web-01");
        open_window(&c, &dest, &job).await;
        c.run_backup_job_manually(&job).await.unwrap();
        wait(4.0).await;
        let g = group_of(&c, &job).await.unwrap();
        assert_eq!(g.status.raw(), code, "{family:?} {outcome:?}");
        assert_eq!(g.status.is_success(), code == 100);
        assert!(g.status.is_final());
        let log = &c.list_job_logs(&job).await.unwrap()[0];
        assert_eq!(log.status.0, log_code, "{family:?} {outcome:?}");
        let items = c.list_log_items(&log.id).await.unwrap();
        let warned = items.iter().any(|i| i.message.contains("warnings"));
        assert_eq!(warned, outcome == Warnings, "{family:?} {outcome:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn stop_is_a_delayed_signal_and_a_hung_job_needs_it() {
    let world = one_server(|s| {
        s.job_with("j", 1.0, |j| j.outcome(Outcome::Hang))
            .abort_delay(5.0)
    });
    let (dest, job) = (world.id("web-01", "nas"), world.id("web-01", "j"));
    let c = client(&world, "web-01");
    open_window(&c, &dest, &job).await;
    c.run_backup_job_manually(&job).await.unwrap();
    wait(600.0).await;
    let g = group_of(&c, &job).await.unwrap();
    assert_eq!(
        g.status,
        QueueStatus::PROCESSING,
        "a hung job never ends by itself"
    );
    c.stop_queue_group(&g.id).await.unwrap();
    wait(4.0).await;
    assert_eq!(
        c.get_queue_group(&g.id).await.unwrap().status,
        QueueStatus::PROCESSING
    );
    assert!(c.get_backup_job(&job).await.unwrap().running);
    wait(1.5).await;
    let g = c.get_queue_group(&g.id).await.unwrap();
    assert_eq!(g.status.raw(), 103);
    assert_eq!(g.status.name(), "aborted");
    assert!(!c.get_backup_job(&job).await.unwrap().running);
    // A second stop on a finished group is refused.
    assert!(matches!(
        c.stop_queue_group(&g.id).await,
        Err(ApiError::Refused { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn stop_while_pending_aborts_without_writing() {
    let world = one_server(|s| s.job("j", 5.0).startup_delay(10.0).abort_delay(1.0));
    let (dest, job) = (world.id("web-01", "nas"), world.id("web-01", "j"));
    let c = client(&world, "web-01");
    open_window(&c, &dest, &job).await;
    c.run_backup_job_manually(&job).await.unwrap();
    let g = group_of(&c, &job).await.unwrap();
    c.stop_queue_group(&g.id).await.unwrap();
    wait(30.0).await;
    assert_eq!(c.get_queue_group(&g.id).await.unwrap().status.raw(), 103);
    assert!(world.timeline().is_empty(), "never processed, never wrote");
}

#[tokio::test(start_paused = true)]
async fn trigger_on_a_disabled_job_answers_success_and_never_starts() {
    for reply in [DisabledTriggerReply::Empty, DisabledTriggerReply::JobObject] {
        let world = one_server(|s| {
            s.job("j", 1.0)
                .settings(|st| st.disabled_trigger_reply = reply)
        });
        let (dest, job) = (world.id("web-01", "nas"), world.id("web-01", "j"));
        let c = client(&world, "web-01");
        c.set_destination_disabled(&dest, false, DestinationMethod::Modify)
            .await
            .unwrap();
        let r = c.run_backup_job_manually(&job).await;
        match reply {
            DisabledTriggerReply::Empty => {
                let e = r.unwrap_err();
                assert!(matches!(e, ApiError::Shape { .. }));
                assert!(e.to_string().contains("was not queued"), "{e}");
                assert!(
                    e.to_string()
                        .starts_with("server web-01: runBackupJobManually:"),
                    "{e}"
                );
            }
            DisabledTriggerReply::JobObject => assert!(r.unwrap().disabled),
        }
        wait(60.0).await;
        assert!(c.list_backup_queue_groups().await.unwrap().is_empty());
        assert!(!c.get_backup_job(&job).await.unwrap().running);
    }
}

#[tokio::test(start_paused = true)]
async fn trigger_with_the_destination_disabled_fails_fast_and_writes_nothing() {
    let world = one_server(|s| s.job("j", 30.0));
    let job = world.id("web-01", "j");
    let c = client(&world, "web-01");
    c.set_job_disabled(&job, false).await.unwrap();
    c.run_backup_job_manually(&job).await.unwrap();
    wait(2.0).await;
    let g = group_of(&c, &job).await.unwrap();
    assert_eq!(g.status.raw(), 102);
    assert!(g.started.is_none());
    assert!(world.timeline().is_empty());
    assert_eq!(world.max_concurrent_writers(), 0);
}

#[tokio::test(start_paused = true)]
async fn trigger_on_an_already_queued_job_is_refused() {
    let world = one_server(|s| s.job("j", 10.0));
    let (dest, job) = (world.id("web-01", "nas"), world.id("web-01", "j"));
    let c = client(&world, "web-01");
    open_window(&c, &dest, &job).await;
    c.run_backup_job_manually(&job).await.unwrap();
    let e = c.run_backup_job_manually(&job).await.unwrap_err();
    assert!(matches!(e, ApiError::Refused { .. }), "{e}");
    assert_eq!(c.list_backup_queue_groups().await.unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn values_outside_the_grammar_are_never_sent() {
    let world = one_server(|s| s.job("j", 1.0));
    let c = client(&world, "web-01");
    for bad in [
        "6508e9aed49adbd1660f06d9&disabled=0",
        "x y",
        "'; reboot",
        "a\"b",
    ] {
        let e = c.set_job_disabled(bad, false).await.unwrap_err();
        assert!(matches!(e, ApiError::BadValue { .. }), "{e}");
        assert!(
            e.to_string()
                .contains("server web-01: manageBackupJob: refusing to send _id="),
            "{e}"
        );
    }
    assert_eq!(world.calls("web-01", "manageBackupJob"), 0);
}

#[tokio::test(start_paused = true)]
async fn faults_become_the_right_errors() {
    let world = one_server(|s| {
        s.job("j", 1.0)
            .fault(Fault::on("getBackupJob", When::Call(1), FaultKind::Garbage))
            .fault(Fault::on(
                "getBackupJob",
                When::Call(2),
                FaultKind::Refuse("database is locked".into()),
            ))
            .fault(Fault::on(
                "getBackupJob",
                When::Call(3),
                FaultKind::Exit(255),
            ))
            .fault(Fault::on("getBackupJob", When::Call(4), FaultKind::Empty))
    });
    let job = world.id("web-01", "j");
    let c = client(&world, "web-01");

    let e = c.get_backup_job(&job).await.unwrap_err();
    let ApiError::NotJson { snippet, .. } = &e else {
        panic!("{e}")
    };
    assert!(
        snippet.starts_with("PHP Warning") && snippet.len() <= 200 + 3,
        "{snippet}"
    );
    assert!(e.is_transient());
    assert!(
        e.to_string()
            .starts_with("server web-01: getBackupJob: output is not JSON"),
        "{e}"
    );

    let e = c.get_backup_job(&job).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "server web-01: getBackupJob: success=0 \"database is locked\""
    );

    let e = c.get_backup_job(&job).await.unwrap_err();
    assert!(matches!(e, ApiError::BadExit { .. }) && e.is_transient());
    assert!(
        e.to_string().contains("exit status 255: PHP Fatal error"),
        "{e}"
    );

    let e = c.get_backup_job(&job).await.unwrap_err();
    assert!(e.to_string().contains("no output"), "{e}");

    assert_eq!(
        c.get_backup_job(&job).await.unwrap().id,
        job,
        "the fifth call is clean"
    );
}

#[tokio::test(start_paused = true)]
async fn a_stall_sleeps_on_tokios_clock_so_timeouts_work() {
    let world = one_server(|s| {
        s.job("j", 1.0).fault(Fault::on(
            "getBackupJob",
            When::Call(1),
            FaultKind::Stall(120.0),
        ))
    });
    let job = world.id("web-01", "j");
    let c = client(&world, "web-01");
    let r = tokio::time::timeout(Duration::from_secs(30), c.get_backup_job(&job)).await;
    assert!(r.is_err(), "the first call stalls past the timeout");
    let before = tokio::time::Instant::now();
    assert_eq!(c.get_backup_job(&job).await.unwrap().id, job);
    assert!(
        before.elapsed() < Duration::from_secs(1),
        "the second call is prompt"
    );

    let world = one_server(|s| {
        s.job("j", 1.0).fault(Fault::on(
            "getBackupJob",
            When::Call(1),
            FaultKind::Stall(5.0),
        ))
    });
    let c = client(&world, "web-01");
    let before = tokio::time::Instant::now();
    c.get_backup_job(&world.id("web-01", "j")).await.unwrap();
    assert!(
        before.elapsed() >= Duration::from_secs(5),
        "answered late, then normally"
    );
}

#[tokio::test(start_paused = true)]
async fn a_late_answer_after_the_change_and_a_dropped_connection() {
    let world = one_server(|s| {
        s.job("j", 60.0)
            .fault(
                Fault::on(
                    "runBackupJobManually",
                    When::Call(1),
                    FaultKind::Stall(60.0),
                )
                .taking_effect(),
            )
            .fault(Fault::on(
                "getQueueGroup",
                When::Calls(1, 2),
                FaultKind::Disconnect,
            ))
    });
    let (dest, job) = (world.id("web-01", "nas"), world.id("web-01", "j"));
    let c = client(&world, "web-01");
    open_window(&c, &dest, &job).await;
    let r = tokio::time::timeout(Duration::from_secs(10), c.run_backup_job_manually(&job)).await;
    assert!(r.is_err(), "gave up waiting for the answer");
    // ...but the server had already queued it: never lose track of a running job.
    let g = c
        .latest_group_for_job(&job)
        .await
        .unwrap()
        .expect("queued before the answer was lost");
    for _ in 0..2 {
        let e = c.get_queue_group(&g.id).await.unwrap_err();
        assert!(
            matches!(e, ApiError::Transport { .. }) && e.is_transient(),
            "{e}"
        );
        assert!(e.to_string().contains("connection lost"), "{e}");
    }
    assert_eq!(
        c.get_queue_group(&g.id).await.unwrap().status,
        QueueStatus::PROCESSING
    );
    let world = one_server(|s| {
        s.job("j", 1.0).fault(Fault::any(
            When::Always,
            FaultKind::Refuse("license expired".into()),
        ))
    });
    let e = client(&world, "web-01")
        .list_destinations()
        .await
        .unwrap_err();
    assert!(
        e.to_string().ends_with("success=0 \"license expired\""),
        "{e}"
    );
}

#[tokio::test(start_paused = true)]
async fn faults_while_processing_and_answers_lost_after_the_change() {
    let world = one_server(|s| {
        s.job("j", 5.0)
            .startup_delay(1.0)
            .fault(Fault::on(
                "getBackupJob",
                When::WhileProcessing,
                FaultKind::Exit(255),
            ))
            .fault(
                Fault::on("runBackupJobManually", When::Call(1), FaultKind::Garbage)
                    .taking_effect(),
            )
    });
    let (dest, job) = (world.id("web-01", "nas"), world.id("web-01", "j"));
    let c = client(&world, "web-01");
    open_window(&c, &dest, &job).await;
    c.get_backup_job(&job).await.unwrap();
    let e = c.run_backup_job_manually(&job).await.unwrap_err();
    assert!(matches!(e, ApiError::NotJson { .. }));
    // The answer was garbage but the job was queued: the group is there to be followed.
    let g = group_of(&c, &job)
        .await
        .expect("queued despite the garbage answer");
    wait(2.0).await;
    assert!(matches!(
        c.get_backup_job(&job).await,
        Err(ApiError::BadExit { .. })
    ));
    assert_eq!(
        c.get_queue_group(&g.id).await.unwrap().status,
        QueueStatus::PROCESSING
    );
    wait(5.0).await;
    assert!(!c.get_backup_job(&job).await.unwrap().running);
}

#[tokio::test(start_paused = true)]
async fn unknown_ids_are_refused_with_the_servers_message() {
    let world = one_server(|s| s.job("j", 1.0));
    let c = client(&world, "web-01");
    let missing = "6508e9aed49adbd1660f0000";
    for e in [
        c.get_backup_job(missing).await.unwrap_err(),
        c.get_queue_group(missing).await.unwrap_err(),
        c.get_destination(missing).await.unwrap_err(),
        c.get_log(missing).await.unwrap_err(),
    ] {
        assert!(matches!(e, ApiError::Refused { .. }), "{e}");
        assert!(!e.is_transient());
    }
}

#[tokio::test(start_paused = true)]
async fn ping_goes_through_echo() {
    let world = one_server(|s| s);
    let c = client(&world, "web-01");
    c.ping().await.unwrap();
    assert_eq!(c.server(), "web-01");
}

#[tokio::test(start_paused = true)]
async fn the_simulated_gate_denies_what_the_real_gate_would() {
    use jbr::transport::Transport;
    let world = one_server(|s| s.job("j", 1.0));
    let c = client(&world, "web-01");
    let e = c
        .call("editBackupJob", &[("_id", "6508e9aed49adbd1660f06d9")])
        .await
        .unwrap_err();
    assert!(matches!(e, ApiError::BadExit { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("jbr-gate: denied: function \"editBackupJob\" is not allowed"),
        "{e}"
    );
    let t = SimTransport::new(world.clone(), "web-01");
    let argv = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    for bad in [
        argv(&["sh", "-c", "reboot"]),
        argv(&[
            "jetbackup5api",
            "-F",
            "getBackupJob",
            "-D",
            "_id=a",
            "-D",
            "action=modify",
        ]),
        argv(&["jetbackup5api", "-F", "getBackupJob", "-D", "_id=a b"]),
        argv(&["jetbackup5api", "-D", "_id=a", "-F", "getBackupJob"]),
        argv(&["jetbackup5api", "-F", "getBackupJob", "-O", "xml"]),
    ] {
        let out = t.run(&bad).await.unwrap();
        assert_eq!(out.status, Some(1), "{bad:?}");
        assert!(
            out.stderr_lossy().starts_with("jbr-gate: denied: "),
            "{bad:?}"
        );
    }
    assert_eq!(
        world.calls("web-01", "getBackupJob"),
        0,
        "nothing reached the server"
    );
}
