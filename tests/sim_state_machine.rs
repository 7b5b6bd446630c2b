//! The simulator's own behaviour: transitions, the server's scheduler, the cross-server
//! timeline and the final-state query. Paused tokio clock.

use std::time::Duration;

use jbr::api::{Client, DestinationMethod, QueueStatus};
use jbr::sim::{SimWorld, max_concurrent};
use jbr::transport::simulated::SimTransport;

async fn wait(secs: f64) {
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
}

fn client(world: &SimWorld, server: &str) -> Client<SimTransport> {
    Client::new(SimTransport::new(world.clone(), server))
}

async fn statuses(c: &Client<SimTransport>) -> Vec<i64> {
    c.list_backup_queue_groups()
        .await
        .unwrap()
        .iter()
        .map(|g| g.status.raw())
        .collect()
}

/// web-01 with destination `nas` and job `j` (`secs` long, `startup` seconds pending first),
/// both enabled and the job triggered, as in a jbr window. Returns the world, a client of
/// web-01, and the destination and job ids.
async fn triggered(secs: f64, startup: f64) -> (SimWorld, Client<SimTransport>, String, String) {
    let world = SimWorld::builder()
        .server("web-01", |s| {
            s.destination("nas").job("j", secs).startup_delay(startup)
        })
        .build();
    let (dest, job) = (world.id("web-01", "nas"), world.id("web-01", "j"));
    let c = client(&world, "web-01");
    c.set_destination_disabled(&dest, false, DestinationMethod::Modify)
        .await
        .unwrap();
    c.set_job_disabled(&job, false).await.unwrap();
    c.run_backup_job_manually(&job).await.unwrap();
    (world, c, dest, job)
}

#[tokio::test(start_paused = true)]
async fn pending_then_processing_then_final_with_the_configured_durations() {
    let (world, c, dest, _job) = triggered(4.0, 2.0).await;
    let mut seen = Vec::new();
    for _ in 0..16 {
        let s = statuses(&c).await[0];
        if seen.last() != Some(&s) {
            seen.push(s);
        }
        wait(0.5).await;
    }
    assert_eq!(seen, vec![1, 2, 100]);
    let t = world.timeline();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].end.unwrap() - t[0].start, 4.0);
    assert_eq!(t[0].job_name, "j");
    assert_eq!(t[0].destinations, vec![dest]);
}

#[tokio::test(start_paused = true)]
async fn scheduler_tick_fires_only_enabled_idle_jobs_with_an_enabled_destination() {
    let world = SimWorld::builder()
        .server("web-01", |s| s.destination("nas").job("j", 5.0))
        .build();
    let (dest, job) = (world.id("web-01", "nas"), world.id("web-01", "j"));
    let c = client(&world, "web-01");
    assert!(
        world.tick("web-01").is_empty(),
        "job and destination disabled"
    );
    c.set_job_disabled(&job, false).await.unwrap();
    assert!(world.tick("web-01").is_empty(), "destination disabled");
    c.set_job_disabled(&job, true).await.unwrap();
    c.set_destination_disabled(&dest, false, DestinationMethod::Modify)
        .await
        .unwrap();
    assert!(world.tick("web-01").is_empty(), "job disabled");
    c.set_job_disabled(&job, false).await.unwrap();
    assert_eq!(world.tick("web-01").len(), 1, "enabled and idle: fires");
    assert!(world.tick("web-01").is_empty(), "already queued: not idle");
    wait(10.0).await;
    assert_eq!(statuses(&c).await, vec![100]);
    assert_eq!(world.tick("web-01").len(), 1, "idle again after the run");
}

#[tokio::test(start_paused = true)]
async fn exposure_mode_fires_after_the_window_of_enabled_idle_time() {
    let world = SimWorld::builder()
        .server("web-01", |s| {
            s.destination("nas")
                .job("j", 2.0)
                .exposure(10.0)
                .startup_delay(1.0)
        })
        .build();
    let (dest, job) = (world.id("web-01", "nas"), world.id("web-01", "j"));
    let c = client(&world, "web-01");
    c.set_job_disabled(&job, false).await.unwrap();
    wait(30.0).await;
    assert!(
        statuses(&c).await.is_empty(),
        "destination disabled: the scheduler never fires"
    );
    c.set_destination_disabled(&dest, false, DestinationMethod::Modify)
        .await
        .unwrap();
    wait(9.0).await;
    assert!(statuses(&c).await.is_empty(), "9 s enabled+idle: not yet");
    wait(1.5).await;
    assert_eq!(
        statuses(&c).await,
        vec![1],
        "10 s enabled+idle: the server started it itself"
    );
    // The run ends 3 s after it fired; 10 s of idleness later it fires again, and both events
    // happened between two calls: the lazy state machine still replays them in order.
    wait(16.0).await;
    assert_eq!(statuses(&c).await, vec![100, 100]);
    let t = world.timeline();
    assert_eq!(t.len(), 2);
    assert!(
        (t[1].start - t[0].end.unwrap() - 11.0).abs() < 0.01,
        "{t:?}"
    );
    c.set_job_disabled(&job, true).await.unwrap();
    wait(100.0).await;
    assert_eq!(statuses(&c).await.len(), 2, "disabled: no more runs");
    assert_eq!(world.max_concurrent_writers(), 1);
}

#[tokio::test(start_paused = true)]
async fn timeline_spans_servers_and_counts_concurrent_writers() {
    let world = SimWorld::builder()
        .server("web-01", |s| s.destination("nas").job("a", 5.0))
        .server("web-02", |s| s.destination("nas").job("b", 5.0))
        .build();
    let c1 = client(&world, "web-01");
    let c2 = client(&world, "web-02");
    for (c, server, name) in [(&c1, "web-01", "a"), (&c2, "web-02", "b")] {
        c.set_destination_disabled(&world.id(server, "nas"), false, DestinationMethod::Modify)
            .await
            .unwrap();
        c.set_job_disabled(&world.id(server, name), false)
            .await
            .unwrap();
    }
    // One after the other: one writer.
    c1.run_backup_job_manually(&world.id("web-01", "a"))
        .await
        .unwrap();
    wait(7.0).await;
    c2.run_backup_job_manually(&world.id("web-02", "b"))
        .await
        .unwrap();
    wait(7.0).await;
    assert_eq!(world.max_concurrent_writers(), 1);
    // Both at once: two writers, and the timeline says who.
    c1.run_backup_job_manually(&world.id("web-01", "a"))
        .await
        .unwrap();
    wait(2.0).await;
    c2.run_backup_job_manually(&world.id("web-02", "b"))
        .await
        .unwrap();
    wait(2.0).await;
    assert_eq!(world.max_concurrent_writers(), 2);
    let t = world.timeline();
    assert_eq!(
        t.iter().map(|i| i.server.as_str()).collect::<Vec<_>>(),
        ["web-01", "web-02", "web-01", "web-02"]
    );
    assert!(t[3].end.is_none(), "still writing");
    let fs = world.final_state();
    assert!(!fs.is_clean());
    assert_eq!(fs.running.len(), 2);
    assert_eq!(fs.enabled.len(), 4, "{:?}", fs.enabled);
    assert!(
        fs.enabled[0].starts_with("web-01: destination nas ("),
        "{:?}",
        fs.enabled
    );
}

#[test]
fn touching_intervals_are_not_concurrent() {
    use jbr::sim::WriteInterval;
    let iv = |start: f64, end: Option<f64>| WriteInterval {
        server: "s".into(),
        job_id: "j".into(),
        job_name: "j".into(),
        group_id: "g".into(),
        destinations: vec![],
        start,
        end,
        status: None,
    };
    assert_eq!(max_concurrent(&[]), 0);
    assert_eq!(max_concurrent(&[iv(0.0, Some(1.0)), iv(1.0, Some(2.0))]), 1);
    assert_eq!(max_concurrent(&[iv(0.0, Some(1.5)), iv(1.0, Some(2.0))]), 2);
    assert_eq!(
        max_concurrent(&[iv(0.0, None), iv(5.0, Some(6.0)), iv(5.5, None)]),
        3
    );
}

#[tokio::test(start_paused = true)]
async fn ids_are_object_ids_and_unique_across_servers() {
    let world = SimWorld::builder()
        .server("web-01", |s| s.destination("nas").job("a", 1.0))
        .server("web-02", |s| {
            s.destination("6508e9aed49adbd1660f06d9").job("a", 1.0)
        })
        .build();
    let ids = [
        world.id("web-01", "nas"),
        world.id("web-01", "a"),
        world.id("web-02", "a"),
    ];
    for id in &ids {
        assert!(
            id.len() == 24 && id.bytes().all(|c| c.is_ascii_hexdigit()),
            "{id}"
        );
    }
    assert_ne!(ids[1], ids[2]);
    assert_eq!(
        world.id("web-02", "6508e9aed49adbd1660f06d9"),
        "6508e9aed49adbd1660f06d9",
        "a 24-hex name is the id"
    );
    let _ = QueueStatus::COMPLETED;
}

#[tokio::test(start_paused = true)]
async fn a_destination_disabled_while_pending_fails_the_run_without_writing() {
    let (world, c, dest, job) = triggered(5.0, 3.0).await;
    wait(1.0).await;
    c.set_destination_disabled(&dest, true, DestinationMethod::Modify)
        .await
        .unwrap();
    wait(5.0).await;
    let g = c.latest_group_for_job(&job).await.unwrap().unwrap();
    assert_eq!(g.status.raw(), 102);
    assert!(g.started.is_none());
    assert!(world.timeline().is_empty());
    // Only this failure blames the destination (a scripted job failure does not).
    let items = c.list_queue_items(&g.id).await.unwrap();
    assert!(!items.is_empty());
    for i in items {
        assert_eq!(
            i.message,
            "Backup failed: destination is disabled or unreachable"
        );
    }
}
