//! `jbr daemon` (issue 12, item 1) as an operator runs it: the real binary against `jbr-sim`
//! (`local_command`), with a target_interval of a few seconds. Cycle spacing and the restart
//! rule are read on the simulator's timeline, not in jbr's log; signals are real signals; the
//! lifecycle mails go to a real SMTP server; sd_notify goes to a real Unix datagram socket.

mod support;

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use jbr::sim::{SimWorld, World};
use serde_json::{Value, json};
use support::bin::{Run, Running};
use support::fleet::Fleet;
use support::smtp::{Sink, skip_without_smtp};
use support::sshd::wait_until;

/// One server, one short job: a cycle takes about a second.
fn world() -> World {
    SimWorld::builder()
        .server("web-01", |s| {
            s.destination("nas").startup_delay(0.2).job("accounts", 0.4)
        })
        .build_state()
}

/// A fleet whose config has the loop keys (target_interval, min_pause) and activates the
/// simulated NAS (disabled at rest, never disabled by jbr before).
fn fleet(target: f64, min_pause: f64) -> Fleet {
    let fleet = Fleet::local(world());
    write(&fleet, target, min_pause, |_| {});
    fleet
}

fn write(fleet: &Fleet, target: f64, min_pause: f64, tweak: impl FnOnce(&mut Value)) {
    fleet.write_config(|c| {
        c["loop"] = json!({"target_interval": target, "min_pause": min_pause});
        c["destination"] = json!({"force_activate": true});
        tweak(c);
    });
}

/// The start of each write to the NAS on the simulator's timeline, oldest first, and whether
/// each has ended.
fn writes(fleet: &Fleet) -> Vec<(f64, bool)> {
    let dump = fleet.dump();
    let mut w: Vec<(f64, bool)> = dump["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .map(|i| (i["start"].as_f64().expect("start"), !i["end"].is_null()))
        .collect();
    w.sort_by(|a, b| a.0.total_cmp(&b.0));
    w
}

fn ended_writes(fleet: &Fleet) -> usize {
    writes(fleet).iter().filter(|(_, ended)| *ended).count()
}

fn state(fleet: &Fleet) -> Value {
    std::fs::read(fleet.path("last-run.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null)
}

/// Waits until the daemon is in the pause after a cycle: the state file names its next cycle,
/// and its last run started after the daemon did.
fn wait_for_pause(fleet: &Fleet, daemon: &Running, timeout: Duration) {
    wait_for_record(fleet, daemon, timeout, true);
}

/// Waits until the state file names `daemon` and its next cycle; with `after_a_cycle`, only
/// once that daemon has run a cycle (its first record, before any cycle, does not count).
fn wait_for_record(fleet: &Fleet, daemon: &Running, timeout: Duration, after_a_cycle: bool) {
    let paused = wait_until(timeout, || {
        let s = state(fleet);
        let d = &s["daemon"];
        let ran = s["last_run"]["started"].as_f64() >= d["since"].as_f64();
        d["pid"] == daemon.pid() && d["next_cycle"].is_f64() && (ran || !after_a_cycle)
    });
    assert!(
        paused,
        "no pause recorded within {timeout:?}\nstate: {:#}\nstderr:\n{}",
        state(fleet),
        daemon.stderr_so_far()
    );
}

fn wait_for_stderr(daemon: &Running, text: &str, timeout: Duration) {
    assert!(
        wait_until(timeout, || daemon.stderr_so_far().contains(text)),
        "no {text:?} on stderr within {timeout:?}:\n{}",
        daemon.stderr_so_far()
    );
}

fn stop(daemon: Running) -> Run {
    daemon.signal(libc::SIGTERM);
    daemon.wait()
}

#[test]
fn cycles_start_one_target_interval_apart_and_sigterm_in_the_pause_exits_at_once() {
    let target = 2.0;
    let fleet = fleet(target, 0.3);
    let daemon = fleet.spawn_jbr(&["daemon"]);
    assert!(
        wait_until(Duration::from_secs(12), || ended_writes(&fleet) >= 3),
        "three cycles did not happen:\n{}",
        daemon.stderr_so_far()
    );
    wait_for_pause(&fleet, &daemon, Duration::from_secs(3));
    let asked = Instant::now();
    let run = stop(daemon);
    let took = asked.elapsed();
    run.expect_success();
    // During the pause nothing is running: no cleanup to wait for.
    assert!(
        took < Duration::from_secs(1),
        "took {took:?} to stop:\n{run}"
    );

    let starts: Vec<f64> = writes(&fleet).iter().map(|w| w.0).collect();
    assert_eq!(starts.len(), 3, "a cycle started after SIGTERM: {starts:?}");
    for pair in starts.windows(2) {
        let gap = pair[1] - pair[0];
        // A cycle (about 1 s) is shorter than the interval: start to start is target_interval,
        // give or take the simulator's and jbr's own start-up jitter.
        assert!(
            (target - 0.2..target + 0.8).contains(&gap),
            "cycles {gap:.3} s apart, target {target} s: {starts:?}\n{run}"
        );
    }
    fleet.assert_clean();
    assert!(
        run.stderr.contains("stopped by SIGTERM after 3 cycle(s)"),
        "{run}"
    );
    // The daemon's record leaves with it.
    assert!(state(&fleet)["daemon"].is_null(), "{:#}", state(&fleet));
}

#[test]
fn a_cycle_longer_than_the_interval_is_followed_by_min_pause() {
    // target 0.5 s, a cycle of about a second: the gap is the cycle plus min_pause (1.0 s).
    let fleet = fleet(0.5, 1.0);
    let daemon = fleet.spawn_jbr(&["daemon"]);
    assert!(
        wait_until(Duration::from_secs(12), || writes(&fleet).len() >= 2),
        "no second cycle:\n{}",
        daemon.stderr_so_far()
    );
    let run = stop(daemon);
    let dump = fleet.dump();
    let mut t: Vec<(f64, f64)> = dump["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| Some((i["start"].as_f64()?, i["end"].as_f64()?)))
        .collect();
    t.sort_by(|a, b| a.0.total_cmp(&b.0));
    let gap = t[1].0 - t[0].1;
    // From the end of one write to the start of the next: at least min_pause, plus the
    // cycle's own steps around the write (disable, verify; enable, trigger, start-up).
    assert!(
        (1.0..3.0).contains(&gap),
        "{gap:.3} s from one write's end to the next start: {t:?}\n{run}"
    );
}

#[test]
fn a_restart_waits_until_the_last_run_is_due_and_status_shows_the_daemon() {
    let target = 3.0;
    let fleet = fleet(target, 0.3);
    let first = fleet.spawn_jbr(&["daemon"]);
    wait_for_pause(&fleet, &first, Duration::from_secs(10));
    stop(first).expect_success();
    let last_started = state(&fleet)["last_run"]["started"]
        .as_f64()
        .expect("last run recorded");
    assert_eq!(writes(&fleet).len(), 1);

    // Restarted at once (a crash loop, systemd's Restart=): the first cycle waits until due.
    let again = fleet.spawn_jbr(&["daemon"]);
    wait_for_stderr(&again, "restart rule", Duration::from_secs(5));
    wait_for_record(&fleet, &again, Duration::from_secs(5), false);
    let status = fleet.jbr(&["status", "--json"]);
    status.expect_success();
    let d = &status.json()["daemon"];
    assert_eq!(d["pid"], again.pid(), "{status}");
    assert!(d["next_cycle"].is_string(), "{status}");
    let text = fleet.jbr(&["status"]);
    assert!(
        text.stdout
            .contains(&format!("daemon: pid {}, running since", again.pid()))
            && text.stdout.contains("next cycle at"),
        "{text}"
    );

    assert!(
        wait_until(Duration::from_secs(8), || writes(&fleet).len() >= 2),
        "no cycle after the restart:\n{}",
        again.stderr_so_far()
    );
    let run = stop(again);
    let starts: Vec<f64> = writes(&fleet).iter().map(|w| w.0).collect();
    // The write starts a moment after the run: never before the last run was due.
    assert!(
        starts[1] >= last_started + target,
        "restarted cycle wrote at {:.3}, last run started {:.3}, target {target}\n{run}",
        starts[1],
        last_started
    );
    fleet.assert_clean();
}

#[test]
fn sigterm_during_a_cycle_cleans_up_as_run_does_then_exits() {
    let fleet = Fleet::local(
        SimWorld::builder()
            .server("web-01", |s| {
                s.destination("nas")
                    .startup_delay(0.2)
                    .job("accounts", 20.0)
            })
            .build_state(),
    );
    write(&fleet, 60.0, 1.0, |_| {});
    let daemon = fleet.spawn_jbr(&["daemon"]);
    assert!(
        fleet.wait_writing(None, Duration::from_secs(10)),
        "the job never started:\n{}",
        daemon.stderr_so_far()
    );
    let run = stop(daemon);
    run.expect_success();
    assert!(run.took < Duration::from_secs(15), "{run}");
    // The job was aborted, the job and the destination disabled: nothing left behind.
    fleet.assert_clean();
    let s = state(&fleet);
    assert_eq!(s["last_run"]["cancelled"], true, "{s:#}");
    assert!(
        run.stdout.contains("CANCELLED") || run.stdout.contains("cancelled"),
        "{run}"
    );
    assert!(s["daemon"].is_null(), "{s:#}");
}

#[test]
fn sighup_rereads_a_valid_config_and_keeps_the_old_one_when_invalid() {
    // A long interval first: the second cycle would be a minute away.
    let fleet = fleet(60.0, 0.3);
    let daemon = fleet.spawn_jbr(&["daemon"]);
    wait_for_pause(&fleet, &daemon, Duration::from_secs(10));
    let first = writes(&fleet)[0].0;

    // A valid config with a 2 s interval: the next cycle is recomputed from the same basis.
    write(&fleet, 2.0, 0.3, |_| {});
    daemon.signal(libc::SIGHUP);
    wait_for_stderr(&daemon, "re-read: a cycle every 2", Duration::from_secs(5));
    assert!(
        wait_until(Duration::from_secs(6), || writes(&fleet).len() >= 2),
        "no cycle after SIGHUP shortened the interval:\n{}",
        daemon.stderr_so_far()
    );
    let second = writes(&fleet)[1].0;
    assert!(second - first < 3.0, "{first} {second}");

    // An invalid config (the loop keys gone, a bad port): logged, and the 2 s loop goes on.
    fleet.write_config(|c| {
        c["destination"] = json!({"force_activate": true});
        c["servers"]["web-01"]["port"] = json!(0);
    });
    wait_for_pause(&fleet, &daemon, Duration::from_secs(5));
    daemon.signal(libc::SIGHUP);
    wait_for_stderr(&daemon, "keeps the config it had", Duration::from_secs(5));
    let err = daemon.stderr_so_far();
    assert!(err.contains("at 'loop.target_interval'"), "{err}");
    assert!(err.contains("at 'servers.web-01.port'"), "{err}");
    assert!(
        wait_until(Duration::from_secs(6), || ended_writes(&fleet) >= 3),
        "the old config's loop stopped:\n{}",
        daemon.stderr_so_far()
    );
    let run = stop(daemon);
    run.expect_success();
    fleet.assert_clean();
}

#[test]
fn a_manual_run_holding_the_lock_makes_the_cycle_wait_then_go_on() {
    let fleet = fleet(30.0, 0.3);
    let lock_path = fleet.path("jbr.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .unwrap();
    lock.try_lock().expect("the test takes the lock first");
    let daemon = fleet.spawn_jbr(&["daemon"]);
    wait_for_stderr(&daemon, "waits for the lock", Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(1500));
    assert!(writes(&fleet).is_empty(), "a cycle ran without the lock");
    let released = jbr::report::time::unix_now();
    drop(lock);
    assert!(
        wait_until(Duration::from_secs(8), || ended_writes(&fleet) >= 1),
        "the cycle did not go on once the lock was free:\n{}",
        daemon.stderr_so_far()
    );
    assert!(writes(&fleet)[0].0 >= released);
    let run = stop(daemon);
    run.expect_success();
    assert!(run.stderr.contains("the lock is free after"), "{run}");
}

#[test]
fn daemon_without_usable_loop_keys_is_a_config_error() {
    let fleet = Fleet::local(world());
    let run = fleet.jbr(&["daemon"]);
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("at 'loop.target_interval': jbr daemon needs this")
            && run
                .stderr
                .contains("at 'loop.min_pause': jbr daemon needs this"),
        "{run}"
    );
    // A value that is not a usable time: validate warns (other commands ignore loop.*), the
    // daemon refuses.
    write(&fleet, -1.0, 1.0, |_| {});
    let validate = fleet.jbr(&["validate"]);
    validate.expect_success();
    assert!(
        validate.stdout.lines().any(|l| l.starts_with("warning: ")
            && l.contains("at 'loop.target_interval': -1 s is not a usable time")),
        "{validate}"
    );
    fleet.jbr(&["daemon"]).expect_code(2);
    assert!(fleet.dump()["timeline"].as_array().unwrap().is_empty());
}

#[test]
fn sd_notify_sends_ready_then_the_job_and_the_next_cycle() {
    let fleet = fleet(30.0, 0.3);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let daemon = fleet
        .cmd()
        .arg("daemon")
        .env("NOTIFY_SOCKET", &path)
        .spawn();
    let mut got: Vec<String> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline
        && !got
            .iter()
            .any(|m| m.starts_with("STATUS=next cycle at") && m.contains("last cycle: exit 0"))
    {
        if let Ok(n) = socket.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    let run = stop(daemon);
    while let Ok(n) = socket.recv(&mut buf) {
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    run.expect_success();
    assert!(
        got[0].starts_with("READY=1\nSTATUS=next cycle at "),
        "{got:#?}"
    );
    assert!(
        got.iter()
            .any(|m| m.starts_with("STATUS=cycle 1: server web-01, job ")
                && m.contains("\"accounts\": ")),
        "no STATUS naming the job: {got:#?}"
    );
    assert!(
        got.iter().any(|m| m.starts_with("STOPPING=1\n")),
        "{got:#?}\n{run}"
    );
}

#[test]
fn lifecycle_and_rejected_config_mails_reach_a_real_smtp_server() {
    if skip_without_smtp("lifecycle_and_rejected_config_mails_reach_a_real_smtp_server") {
        return;
    }
    let sink = Sink::plain();
    let notification = json!({
        "enabled": true, "smtp_host": "127.0.0.1", "smtp_port": sink.port, "smtp_tls": false,
        "from_address": "jbr@backup.example.org", "to_addresses": ["ops@example.org"],
    });
    let fleet = Fleet::local(world());
    write(&fleet, 30.0, 0.3, |c| {
        c["notification"] = notification.clone()
    });
    let daemon = fleet.spawn_jbr(&["daemon"]);
    wait_for_pause(&fleet, &daemon, Duration::from_secs(10));
    std::fs::write(&fleet.config, b"{ not json").unwrap();
    daemon.signal(libc::SIGHUP);
    wait_for_stderr(&daemon, "keeps the config it had", Duration::from_secs(5));
    let run = stop(daemon);
    run.expect_success();
    let host = jbr::notify::host_name();
    let subjects: Vec<String> = sink.messages().into_iter().map(|m| m.subject).collect();
    // A clean cycle is not mailed (on_complete is false by default); the lifecycle is.
    assert_eq!(subjects.len(), 3, "{subjects:#?}\n{run}");
    assert!(
        subjects[0].starts_with("[jbr] DAEMON STARTED: first cycle now — "),
        "{subjects:#?}"
    );
    assert!(
        subjects[1].starts_with("[jbr] CONFIG REJECTED: "),
        "{subjects:#?}"
    );
    assert_eq!(
        subjects[2],
        format!("[jbr] DAEMON STOPPED: stopped by SIGTERM — {host}")
    );
    let rejected = &sink.messages()[1].body;
    assert!(rejected.contains("invalid JSON"), "{rejected}");

    // on_daemon_lifecycle: false: no lifecycle mail.
    let quiet = Sink::plain();
    write(&fleet, 30.0, 0.3, |c| {
        c["notification"] = notification.clone();
        c["notification"]["smtp_port"] = json!(quiet.port);
        c["notification"]["on_daemon_lifecycle"] = json!(false);
    });
    let daemon = fleet.spawn_jbr(&["daemon"]);
    wait_for_record(&fleet, &daemon, Duration::from_secs(10), false);
    stop(daemon).expect_success();
    assert!(quiet.messages().is_empty(), "{:#?}", quiet.messages());
}

/// A world whose NAS destination was left enabled by a crashed run (the journal says so) and
/// whose first `refusals` destination calls of each kind are refused.
fn left_enabled(refusals: u64) -> Fleet {
    use jbr::sim::{Fault, FaultKind, When};
    let refuse = |f: &str| {
        Fault::on(
            f,
            When::Calls(1, refusals),
            FaultKind::Refuse("Destination is busy".into()),
        )
    };
    let fleet = Fleet::local(
        SimWorld::builder()
            .server("web-01", |s| {
                s.destination_enabled("nas")
                    .startup_delay(0.2)
                    .job("accounts", 0.4)
                    .fault(refuse("manageDestinationState"))
                    .fault(refuse("manageDestination"))
            })
            .build_state(),
    );
    let dest = fleet.world.servers["web-01"].destinations[0].id.clone();
    let mut j =
        jbr::journal::Journal::open(&fleet.path("last-run.json.journal"), "crashed-run").unwrap();
    j.write(jbr::journal::Op::Enable {
        server: "web-01".into(),
        what: jbr::journal::Target::Destination,
        id: dest,
        previous_disabled: true,
        since: None,
    })
    .unwrap();
    fleet
}

#[test]
fn a_critical_cycle_does_not_stop_the_daemon_and_the_next_replay_cleans_up() {
    // A replay makes two attempts of each destination call: the first cycle's all fail.
    let fleet = left_enabled(2);
    write(&fleet, 1.5, 0.3, |_| {});
    let daemon = fleet.spawn_jbr(&["daemon"]);
    wait_for_stderr(&daemon, "cycle 1 ended CRITICAL", Duration::from_secs(10));
    assert!(
        wait_until(Duration::from_secs(10), || ended_writes(&fleet) >= 1),
        "no cycle after the critical one:\n{}",
        daemon.stderr_so_far()
    );
    wait_for_pause(&fleet, &daemon, Duration::from_secs(5));
    let run = stop(daemon);
    // The cycle the stop ended was clean, so the daemon exits 0.
    run.expect_success();
    assert_eq!(run.stdout.matches("CRITICAL — act now").count(), 1, "{run}");
    fleet.assert_clean();
    let s = state(&fleet);
    assert_eq!(s["last_run"]["critical"], json!([]), "{s:#}");
    assert_eq!(s["last_run"]["jobs"][0]["outcome"], "completed", "{s:#}");
}
