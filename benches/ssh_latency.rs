//! Per-call latency: jbr's multiplexed `SshTransport` against a fresh `ssh` process per call (the
//! older tool's way), same run, same loopback sshd with `jbr-gate` as the forced command.
//!
//!     cargo bench --bench ssh_latency            # 300 mux calls, 30 fresh ssh processes
//!
//! Needs root and openssh-server (as the SSH tests do). Under `cargo test --all-targets` it runs
//! a few calls only, as a smoke test.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use jbr::transport::Transport;
use jbr::transport::ssh::{SshOptions, SshTransport};
use openssh::{KnownHosts, SessionBuilder};

use support::gate::FakeApi;
use support::sshd::{Sshd, output_within, skip_without_sshd};

const CALL: [&str; 5] = ["jetbackup5api", "-F", "listBackupJobs", "-O", "json"];

struct Stats {
    median: Duration,
    p95: Duration,
    mean: Duration,
    n: usize,
}

fn stats(mut v: Vec<Duration>) -> Stats {
    v.sort();
    let n = v.len();
    let at = |q: f64| v[((n as f64 - 1.0) * q).round() as usize];
    Stats {
        median: at(0.5),
        p95: at(0.95),
        mean: v.iter().sum::<Duration>() / n as u32,
        n,
    }
}

fn ms(d: Duration) -> String {
    format!("{:8.2} ms", d.as_secs_f64() * 1000.0)
}

fn row(name: &str, s: &Stats) {
    println!(
        "{name:<34} {:>5} {} {} {}",
        s.n,
        ms(s.median),
        ms(s.p95),
        ms(s.mean)
    );
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (mux_n, ssh_n) = if full { (300, 30) } else { (5, 2) };
    if skip_without_sshd("ssh_latency") {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let control = tempfile::tempdir().expect("tempdir");
    let fake = FakeApi::new(work.path(), "");
    let sshd = Sshd::start(&fake.bin_dir);
    let server = sshd.server_config("bench", Duration::from_secs(10));
    let options = SshOptions {
        control_dir: Some(control.path().to_path_buf()),
        call_timeout: Duration::from_secs(30),
        config_file: Some("/dev/null".into()),
        ..SshOptions::default()
    };
    let argv: Vec<String> = CALL.iter().map(|s| s.to_string()).collect();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let (connect, mux, raw_mux, opened) = rt.block_on(async {
        let t = SshTransport::new(&server, &options).expect("transport");
        let started = Instant::now();
        let first = t.run(&argv).await.expect("first call");
        assert_eq!(first.status, Some(0));
        let connect = started.elapsed();
        // The same calls on a bare openssh session, without jbr's alive-check before each call:
        // what that check costs. Interleaved with jbr's calls so machine load hits both alike.
        let mut b = SessionBuilder::default();
        b.port(server.port)
            .user(server.user.clone())
            .keyfile(sshd.client_key.clone())
            .known_hosts_check(KnownHosts::Strict)
            .user_known_hosts_file(sshd.known_hosts.clone())
            .config_file("/dev/null")
            .control_directory(control.path());
        let session = b.connect_mux(&server.host).await.expect("bare session");
        let mut mux = Vec::with_capacity(mux_n);
        let mut raw = Vec::with_capacity(mux_n);
        for _ in 0..mux_n {
            let s = Instant::now();
            let out = t.run(&argv).await.expect("mux call");
            mux.push(s.elapsed());
            assert_eq!(out.status, Some(0));

            let s = Instant::now();
            let mut c = session.command(CALL[0]);
            c.args(&CALL[1..]);
            let out = c.output().await.expect("bare call");
            raw.push(s.elapsed());
            assert!(out.status.success());
        }
        let _ = session.close().await;
        let opened = t.connections_opened();
        t.close().await;
        (connect, mux, raw, opened)
    });

    let mut fresh = Vec::with_capacity(ssh_n);
    let line = CALL.join(" ");
    for _ in 0..ssh_n {
        let s = Instant::now();
        let out = output_within(&mut sshd.ssh(&line), Duration::from_secs(30)).expect("ssh");
        fresh.push(s.elapsed());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let mux = stats(mux);
    let raw = stats(raw_mux);
    let fresh = stats(fresh);
    println!(
        "ssh_latency{}: loopback sshd, forced command jbr-gate -> fake jetbackup5api (/bin/sh)",
        if full {
            ""
        } else {
            " (smoke: cargo bench --bench ssh_latency for figures)"
        }
    );
    println!(
        "{:<34} {:>5} {:>11} {:>11} {:>11}",
        "per call", "n", "median", "p95", "mean"
    );
    row("jbr SshTransport (native mux)", &mux);
    row("bare openssh mux, no alive-check", &raw);
    row("fresh ssh process per call", &fresh);
    println!(
        "first call incl. opening the master: {}",
        ms(connect).trim()
    );
    println!(
        "ratio fresh/mux: median {:.1}x, p95 {:.1}x; SSH connections opened by SshTransport: {opened}",
        fresh.median.as_secs_f64() / mux.median.as_secs_f64(),
        fresh.p95.as_secs_f64() / mux.p95.as_secs_f64(),
    );
    assert_eq!(opened, 1, "one SSH connection per server per run");
}
