//! Issue 11, item 4: the NAS's write throughput (`nas.block_device`). A diskstats file that the
//! test advances from the simulator's ground truth: while any backup writes (by the
//! simulator's timeline), the device's sectors-written counter grows at 20 MB/s. Then:
//! - each job's bytes and average rate are on its row, in the report and in the metrics;
//! - a job below `nas.min_write_mb_s` gets a "slow NAS" alert that names it;
//! - a backup jbr did not start, writing while no jbr job runs, is "something else wrote …";
//! - a counter that goes back (a USB re-attach) is a note, never a negative figure.
//!
//! On tokio's paused clock, in-process.

mod support;

use std::time::Duration;

use jbr::report::AlertKind;
use jbr::report::state::State;
use jbr::sim::SimWorld;
use jbr::sim::disk::SimDisk;
use support::lab;
use tokio::sync::watch;

/// Bytes per second the device writes while a backup writes.
const RATE: u64 = 20_000_000;

/// A counter file listing `md0` with `sectors` written (for `validate`).
fn diskstats(sectors: u64) -> String {
    format!(
        " 179 0 mmcblk0 100 0 800 0 50 0 400 0 0 0 0 0 0 0 0\n   9 0 md0 10 0 80 0 20 0 {sectors} 0 0 0 0 0 0 0 0\n"
    )
}

#[tokio::test(start_paused = true)]
async fn bytes_per_job_slow_nas_unknown_writers_and_a_counter_that_goes_back() {
    let world = SimWorld::builder()
        .server("web-01", |s| {
            // x is no job of jbr's: the server's own scheduler starts it before the run.
            s.destination_enabled("nas")
                .job_with("x", 60.0, |j| j.enabled())
                .job("a", 200.0)
        })
        .server("web-02", |s| s.destination("nas").job("c", 200.0))
        .build();
    world.tick("web-01");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("diskstats");

    let mut c = lab::sim_config(dir.path());
    c.orchestrator.job_timeout = Duration::from_secs(900);
    c.orchestrator.poll_interval = Duration::from_secs(5);
    c.nas.block_device = Some("md0".into());
    c.nas.diskstats_file = file.clone();
    c.nas.min_write_mb_s = Some(30.0);
    for (server, job) in [("web-01", "a"), ("web-02", "c")] {
        c.servers
            .insert(server.to_string(), lab::sim_server(&world, server));
        c.jobs.push(lab::sim_job(&world, server, job));
    }
    // 20 MB/s while anything writes; once c has written 50 s, the counter starts from zero.
    world
        .attach_disk(
            SimDisk::new(file.clone(), "md0", RATE as f64)
                .reset_after(&world.id("web-02", "c"), 50.0),
        )
        .unwrap();

    let mut state = State::default();
    let (_tx, cancel) = watch::channel(false);
    let (r, _) = lab::sim_run(&world, &c, &mut state, "run-1", cancel, true).await;
    assert_eq!(world.max_concurrent_writers(), 1);

    // a wrote for 200 s at 20 MB/s: 4 GB, give or take a second's step at each end.
    let a = lab::row(&r, &world, "web-01", "a");
    let bytes = a.nas_written_bytes.expect("a was measured");
    assert!(
        (3_900_000_000..=4_100_000_000).contains(&bytes),
        "a: {bytes} bytes"
    );
    let rate = a.nas_write_mb_s.expect("a rate");
    assert!(rate > 15.0 && rate <= 20.5, "a: {rate} MB/s");

    // c: the counter went back 50 s in; the figure leaves that second out and is never
    // negative, and a note says why.
    let cj = lab::row(&r, &world, "web-02", "c");
    let bytes = cj.nas_written_bytes.expect("c was measured");
    assert!(
        (3_800_000_000..=4_100_000_000).contains(&bytes),
        "c: {bytes} bytes"
    );
    assert!(
        r.nas_notes.iter().any(|n| n.contains("went back")),
        "{:?}",
        r.nas_notes
    );

    // Both averaged below 30 MB/s: slow-NAS alerts that name them.
    let slow: Vec<_> = r
        .alerts
        .iter()
        .filter(|al| al.kind == AlertKind::SlowNas)
        .collect();
    assert_eq!(slow.len(), 2, "{:?}", r.alerts);
    assert!(slow[0].message.starts_with("slow NAS: server web-01, job"));
    assert!(slow[0].message.contains("below nas.min_write_mb_s 30"));

    // x wrote 60 s × 20 MB/s while jbr waited for it, with no jbr job running.
    let unknown: Vec<_> = r
        .alerts
        .iter()
        .filter(|al| al.kind == AlertKind::UnknownWriter)
        .collect();
    assert_eq!(unknown.len(), 1, "{:?}", r.alerts);
    assert!(
        unknown[0]
            .message
            .starts_with("something else wrote 1.2 GB to md0 between"),
        "{}",
        unknown[0].message
    );

    // What the operator reads: the report's NAS section and the metrics.
    let text = jbr::report::text::render(&r);
    assert!(
        text.contains("NAS writes (the device's own counter):"),
        "{text}"
    );
    assert!(text.contains("GB at "), "{text}");
    let metrics = jbr::report::metrics::render(Some(&r), &state, None);
    let line = metrics
        .lines()
        .find(|l| l.starts_with("jbr_job_nas_written_bytes{") && l.contains("label=\"a\""))
        .expect("a's bytes in the metrics");
    let value: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert_eq!(value, a.nas_written_bytes.unwrap() as f64);
    // The history keeps the bytes too.
    let h = state
        .job_history("web-01", &world.id("web-01", "a"))
        .expect("a's history");
    assert_eq!(
        h.runs.last().and_then(|run| run.nas_written_bytes),
        a.nas_written_bytes
    );
}

#[tokio::test(start_paused = true)]
async fn without_the_option_nothing_is_measured_or_said() {
    let world = SimWorld::builder()
        .server("web-01", |s| s.destination("nas").job("a", 20.0))
        .build();
    let dir = tempfile::tempdir().unwrap();
    let mut c = lab::sim_config(dir.path());
    c.servers
        .insert("web-01".into(), lab::sim_server(&world, "web-01"));
    c.jobs.push(lab::sim_job(&world, "web-01", "a"));
    let (r, _) = lab::fresh_sim_run(&world, &c, true).await;
    assert_eq!(r.exit() as i32, 0);
    assert_eq!(lab::row(&r, &world, "web-01", "a").nas_written_bytes, None);
    assert!(r.nas_notes.is_empty());
    assert!(!jbr::report::text::render(&r).contains("NAS writes"));
}

/// `validate` on the NAS: a device the counter file does not list is a typo, named with the
/// devices it does list; a bad name is an error naming the field.
#[test]
fn validate_names_a_device_the_counters_do_not_list() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("config.example.json")).unwrap())
            .unwrap();
    let file = dir.path().join("diskstats");
    std::fs::write(&file, diskstats(8)).unwrap();
    v["nas"]["diskstats_file"] = file.to_str().unwrap().into();
    v["nas"]["block_device"] = "/dev/md9".into();
    let config = dir.path().join("config.json");
    std::fs::write(&config, v.to_string()).unwrap();
    let out = support::bin::jbr()
        .args(["validate", "-c"])
        .arg(&config)
        .run();
    out.expect_success();
    assert!(
        out.stdout
            .contains("at 'nas.block_device': \"md9\" is not in")
            && out.stdout.contains("devices there: mmcblk0, md0"),
        "{}",
        out.stdout
    );
    v["nas"]["block_device"] = "md0; rm -rf /".into();
    std::fs::write(&config, v.to_string()).unwrap();
    let out = support::bin::jbr()
        .args(["validate", "-c"])
        .arg(&config)
        .run();
    out.expect_code(2);
    assert!(
        out.stdout.contains("nas.block_device")
            && out.stdout.contains("is not a block device name"),
        "{}",
        out.stdout
    );
}
