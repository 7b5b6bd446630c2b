//! `SshTransport` against real sshd's on loopback, with `server/jbr-gate` as the forced command
//! and a recording fake `jetbackup5api` behind it (issue 6: one connection per server per run,
//! clear connect and host-key errors, reconnects, bounded calls).

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use jbr::config::Server;
use jbr::transport::ssh::{SshOptions, SshTransport};
use jbr::transport::{Transport, TransportError};

use support::gate::FakeApi;
use support::sshd::{Sshd, skip_without_sshd, wait_until};

/// What the fake does beyond recording: `getLog` hangs, `getLogItem` fails with status 3.
const FAKE_BEHAVIOUR: &str = r#"case "$2" in
  getLog) sleep 30 ;;
  getLogItem) echo 'item store is locked' >&2; exit 3 ;;
esac"#;

fn argv(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

fn server_for(sshd: &Sshd) -> Server {
    sshd.server_config("web-01", Duration::from_secs(5))
}

fn options(control_dir: &Path, call_timeout: f64) -> SshOptions {
    SshOptions {
        control_dir: Some(control_dir.to_path_buf()),
        call_timeout: Duration::from_secs_f64(call_timeout),
        server_alive_interval: Some(Duration::from_secs(1)),
        // Isolated from this machine's ~/.ssh/config and /etc/ssh/ssh_config.
        config_file: Some("/dev/null".into()),
        control_persist_idle: Duration::from_secs(60),
    }
}

struct Fixture {
    _work: tempfile::TempDir,
    control: tempfile::TempDir,
    fake: FakeApi,
    sshd: Sshd,
}

fn fixture() -> Fixture {
    let work = tempfile::tempdir().expect("tempdir");
    let control = tempfile::tempdir().expect("tempdir");
    let fake = FakeApi::new(work.path(), FAKE_BEHAVIOUR);
    let sshd = Sshd::start(&fake.bin_dir);
    Fixture {
        _work: work,
        control,
        fake,
        sshd,
    }
}

impl Fixture {
    fn transport(&self, call_timeout: f64) -> SshTransport {
        SshTransport::new(
            &server_for(&self.sshd),
            &options(self.control.path(), call_timeout),
        )
        .expect("transport")
    }
}

/// The `conn=` part of each recorded call: client address and port, one per TCP connection.
fn connections(fake: &FakeApi) -> Vec<String> {
    let mut c: Vec<String> = fake
        .calls()
        .iter()
        .filter_map(|l| l.split(" conn=").nth(1).map(str::to_string))
        .collect();
    c.sort();
    c.dedup();
    c
}

#[tokio::test]
async fn a_call_round_trips_the_exact_argv() {
    if skip_without_sshd("a_call_round_trips_the_exact_argv") {
        return;
    }
    let f = fixture();
    let t = f.transport(10.0);
    let words = [
        "jetbackup5api",
        "-F",
        "listLogs",
        "-D",
        "find[type]=1&find[info.ID]=6508c1e2f1a9b3d4e5f606d9&sort[start_time]=-1&t=2026-11-22T03:12:09",
        "-O",
        "json",
    ];
    let out = t.run(&argv(&words)).await.expect("call");
    let want = support::gate::bracketed(&words[1..]);
    assert_eq!(out.status, Some(0), "stderr: {}", out.stderr_lossy());
    assert_eq!(out.stdout_lossy(), format!("argv:{want}\n"));
    assert_eq!(out.stderr_lossy(), "");
    assert_eq!(f.fake.argvs(), vec![want]);

    let out = t.run(&argv(&["echo", "jbr-ping"])).await.expect("ping");
    assert_eq!(
        (out.status, out.stdout_lossy()),
        (Some(0), "jbr-ping\n".into())
    );
    assert_eq!(t.server(), "web-01");
}

#[tokio::test]
async fn many_calls_share_one_connection() {
    if skip_without_sshd("many_calls_share_one_connection") {
        return;
    }
    let f = fixture();
    let t = f.transport(10.0);
    for i in 0..40 {
        let id = format!("_id=job{i}");
        let out = t
            .run(&argv(&[
                "jetbackup5api",
                "-F",
                "getBackupJob",
                "-D",
                &id,
                "-O",
                "json",
            ]))
            .await
            .expect("call");
        assert_eq!(out.status, Some(0));
    }
    // Concurrent calls (read-only commands do this) share it too.
    let list = argv(&["jetbackup5api", "-F", "listDestinations", "-O", "json"]);
    let calls: Vec<_> = (0..8).map(|_| t.run(&list)).collect();
    for r in futures_join(calls).await {
        assert_eq!(r.expect("concurrent call").status, Some(0));
    }
    assert_eq!(f.fake.calls().len(), 48);
    assert_eq!(connections(&f.fake).len(), 1, "{:?}", connections(&f.fake));
    assert_eq!(f.sshd.logins(), 1);
    assert_eq!(t.connections_opened(), 1);
}

/// Await a batch of futures concurrently on the current task (no extra crate).
async fn futures_join<F: std::future::Future>(futs: Vec<F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futs.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in pinned.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

#[tokio::test]
async fn connection_refused_is_a_connect_error_naming_the_server() {
    if skip_without_sshd("connection_refused_is_a_connect_error_naming_the_server") {
        return;
    }
    let f = fixture();
    let mut server = server_for(&f.sshd);
    // A port nobody listens on.
    server.port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let t = SshTransport::new(&server, &options(f.control.path(), 10.0)).expect("transport");
    let started = Instant::now();
    let e = t
        .run(&argv(&["echo", "jbr-ping"]))
        .await
        .expect_err("nothing listens");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(matches!(e, TransportError::Connect { .. }), "{e:?}");
    assert!(e.is_retryable());
    assert_eq!(
        e.to_string(),
        format!(
            "server web-01: cannot connect: connection refused by [127.0.0.1]:{p} (is sshd \
             running on port {p}?)",
            p = server.port
        )
    );
}

#[tokio::test]
async fn a_changed_host_key_is_refused_with_a_clear_message() {
    if skip_without_sshd("a_changed_host_key_is_refused_with_a_clear_message") {
        return;
    }
    let mut f = fixture();
    f.sshd.change_host_key();
    let t = f.transport(10.0);
    let e = t
        .run(&argv(&[
            "jetbackup5api",
            "-F",
            "listBackupJobs",
            "-O",
            "json",
        ]))
        .await
        .expect_err("changed key");
    assert!(matches!(e, TransportError::HostKey { .. }), "{e:?}");
    assert!(!e.is_retryable());
    let kh = f.sshd.known_hosts.display();
    let ep = format!("[127.0.0.1]:{}", f.sshd.port);
    assert_eq!(
        e.to_string(),
        format!(
            "server web-01: host key verification failed: host key for {ep} does not match \
             known_hosts ({kh}): the server was reinstalled or someone is in between. Check its \
             fingerprint on the server, then replace the line: ssh-keygen -R '{ep}' -f {kh}"
        )
    );
    assert!(f.fake.calls().is_empty());
    assert_eq!(f.sshd.logins(), 0);
}

#[tokio::test]
async fn an_unknown_host_key_is_refused_never_learned() {
    if skip_without_sshd("an_unknown_host_key_is_refused_never_learned") {
        return;
    }
    let f = fixture();
    std::fs::write(&f.sshd.known_hosts, "").expect("empty known_hosts");
    let t = f.transport(10.0);
    let e = t
        .run(&argv(&["echo", "jbr-ping"]))
        .await
        .expect_err("unknown key");
    assert!(matches!(e, TransportError::HostKey { .. }), "{e:?}");
    assert!(
        e.to_string().contains("no host key for [127.0.0.1]:"),
        "{e}"
    );
    assert!(e.to_string().contains("ssh-keyscan -p"), "{e}");
    // Strict: the key was not added behind our back.
    assert_eq!(
        std::fs::read_to_string(&f.sshd.known_hosts).expect("read"),
        ""
    );
}

#[tokio::test]
async fn without_a_known_hosts_key_the_first_key_is_learned_and_a_changed_one_refused() {
    if skip_without_sshd(
        "without_a_known_hosts_key_the_first_key_is_learned_and_a_changed_one_refused",
    ) {
        return;
    }
    let mut f = fixture();
    // An older config has no known_hosts key: ssh's default files apply. Point "the default"
    // at a file of our own through an ssh_config, so this machine's ~/.ssh stays untouched.
    let learned = f.control.path().join("learned_hosts");
    let ssh_config = f.control.path().join("ssh_config");
    std::fs::write(
        &ssh_config,
        format!(
            "UserKnownHostsFile {}\nGlobalKnownHostsFile /dev/null\n",
            learned.display()
        ),
    )
    .expect("ssh_config");
    let mut server = server_for(&f.sshd);
    server.known_hosts = None;
    let mut opts = options(f.control.path(), 10.0);
    opts.config_file = Some(ssh_config);
    let ping = argv(&["echo", "jbr-ping"]);

    let logged = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logged.clone())
        .with_ansi(false)
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    let t = SshTransport::new(&server, &opts).expect("transport");
    let out = t.run(&ping).await.expect("first contact is accepted");
    assert_eq!(out.stdout_lossy(), "jbr-ping\n");
    t.close().await;
    drop(guard);
    let log = logged.text();
    assert!(
        log.contains(&format!(
            "first contact with [127.0.0.1]:{}: its host key was not known and is now pinned",
            f.sshd.port
        )) && log.contains("Set servers.web-01.known_hosts"),
        "{log}"
    );
    let pinned = std::fs::read_to_string(&learned).expect("the key was learned");
    assert!(
        pinned.contains(&format!("[127.0.0.1]:{}", f.sshd.port)),
        "{pinned}"
    );

    // The same key again: accepted, nothing new learned.
    let t = SshTransport::new(&server, &opts).expect("transport");
    assert!(t.run(&ping).await.is_ok());
    t.close().await;
    assert_eq!(std::fs::read_to_string(&learned).expect("read"), pinned);

    // A different key on the same endpoint: refused, and the pinned key stays.
    f.sshd.change_host_key();
    let t = SshTransport::new(&server, &opts).expect("transport");
    let e = t.run(&ping).await.expect_err("changed key");
    assert!(matches!(e, TransportError::HostKey { .. }), "{e:?}");
    assert!(e.to_string().contains("does not match known_hosts"), "{e}");
    assert_eq!(std::fs::read_to_string(&learned).expect("read"), pinned);
}

#[tokio::test]
async fn a_wrong_key_is_a_connect_error_naming_the_key() {
    if skip_without_sshd("a_wrong_key_is_a_connect_error_naming_the_key") {
        return;
    }
    let f = fixture();
    let other = f.control.path().join("other_key");
    let ok = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other)
        .status()
        .expect("ssh-keygen");
    assert!(ok.success());
    let mut server = server_for(&f.sshd);
    server.ssh_key = Some(other.clone());
    let t = SshTransport::new(&server, &options(f.control.path(), 10.0)).expect("transport");
    let e = t
        .run(&argv(&["echo", "jbr-ping"]))
        .await
        .expect_err("wrong key");
    assert!(matches!(e, TransportError::Connect { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains(&format!("refused the key {}", other.display())),
        "{e}"
    );
}

#[tokio::test]
async fn a_dropped_connection_mid_call_is_an_error_and_the_next_call_reconnects() {
    if skip_without_sshd("a_dropped_connection_mid_call_is_an_error_and_the_next_call_reconnects") {
        return;
    }
    let f = fixture();
    let t = f.transport(20.0);
    let hung = argv(&[
        "jetbackup5api",
        "-F",
        "getLog",
        "-D",
        "_id=l1",
        "-O",
        "json",
    ]);
    let call = t.run(&hung);
    let killer = async {
        // Kill the connection's sshd processes once the remote command is running.
        let fake = &f.fake;
        let sshd = &f.sshd;
        let seen = tokio::task::spawn_blocking({
            let calls = fake.calls.clone();
            move || {
                wait_until(Duration::from_secs(10), || {
                    std::fs::read_to_string(&calls).is_ok_and(|s| !s.is_empty())
                })
            }
        })
        .await
        .expect("join");
        assert!(seen, "the remote command never started");
        sshd.kill_connections()
    };
    let started = Instant::now();
    let (result, killed) = tokio::join!(call, killer);
    assert!(killed > 0);
    let e = result.expect_err("the connection was killed");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert!(matches!(e, TransportError::Disconnected { .. }), "{e:?}");
    assert!(e.is_retryable());
    assert!(
        e.to_string()
            .starts_with("server web-01: connection lost: "),
        "{e}"
    );

    let out = t
        .run(&argv(&[
            "jetbackup5api",
            "-F",
            "listQueueGroups",
            "-O",
            "json",
        ]))
        .await
        .expect("reconnected");
    assert_eq!(out.status, Some(0));
    assert_eq!(t.connections_opened(), 2);
    assert_eq!(f.sshd.logins(), 2);
    assert_eq!(connections(&f.fake).len(), 2);
}

#[tokio::test]
async fn listener_down_for_a_while_then_up_reconnects() {
    if skip_without_sshd("listener_down_for_a_while_then_up_reconnects") {
        return;
    }
    let mut f = fixture();
    let t = f.transport(10.0);
    let ping = argv(&["echo", "jbr-ping"]);
    assert!(t.run(&ping).await.is_ok());

    // The server goes away: its connections drop and nothing listens.
    f.sshd.kill_connections();
    f.sshd.stop_listener();
    for attempt in 0..3 {
        let e = t.run(&ping).await.expect_err("server is down");
        // The first call may still reach the old master before it has
        // noticed its connection died: that is a lost connection, not a
        // refused one. Either way it is retryable, and from then on the
        // transport must be dialing afresh and be refused.
        let dying_master = attempt == 0 && matches!(e, TransportError::Disconnected { .. });
        assert!(
            dying_master || matches!(e, TransportError::Connect { .. }),
            "attempt {attempt}: {e:?}"
        );
        assert!(e.is_retryable(), "{e:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    f.sshd.start_listener();
    let out = t.run(&ping).await.expect("reconnects once sshd is back");
    assert_eq!(out.stdout_lossy(), "jbr-ping\n");
    assert_eq!(t.connections_opened(), 2);
}

#[tokio::test]
async fn a_hung_remote_command_times_out_and_the_connection_stays_usable() {
    if skip_without_sshd("a_hung_remote_command_times_out_and_the_connection_stays_usable") {
        return;
    }
    let f = fixture();
    let t = f.transport(0.5);
    let started = Instant::now();
    let e = t
        .run(&argv(&[
            "jetbackup5api",
            "-F",
            "getLog",
            "-D",
            "_id=l1",
            "-O",
            "json",
        ]))
        .await
        .expect_err("hangs");
    let took = started.elapsed();
    assert!(matches!(e, TransportError::Timeout { .. }), "{e:?}");
    assert_eq!(e.to_string(), "server web-01: no answer within 0.5 s");
    // Includes the first connect (about 0.1-0.3 s) plus the 0.5 s bound.
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(3),
        "{took:?}"
    );

    let out = t
        .run(&argv(&["jetbackup5api", "-F", "listLogs", "-O", "json"]))
        .await
        .expect("still usable");
    assert_eq!(out.status, Some(0));
    assert_eq!(t.connections_opened(), 1);
}

#[tokio::test]
async fn exit_statuses_and_gate_denials_are_answers_not_transport_errors() {
    if skip_without_sshd("exit_statuses_and_gate_denials_are_answers_not_transport_errors") {
        return;
    }
    let f = fixture();
    let t = f.transport(10.0);
    let out = t
        .run(&argv(&[
            "jetbackup5api",
            "-F",
            "getLogItem",
            "-D",
            "_id=x",
            "-O",
            "json",
        ]))
        .await
        .expect("an answer");
    assert_eq!(out.status, Some(3));
    assert_eq!(out.stderr_lossy(), "item store is locked\n");

    // The API layer never sends these; if it did, the gate's refusal comes back as status 1.
    let out = t
        .run(&argv(&["jetbackup5api", "-F", "clearQueue", "-O", "json"]))
        .await
        .expect("an answer");
    assert_eq!(out.status, Some(1));
    assert_eq!(
        out.stderr_lossy(),
        "jbr-gate: denied: function \"clearQueue\" is not allowed\n"
    );
    let out = t
        .run(&argv(&[
            "jetbackup5api",
            "-F",
            "getLog",
            "-D",
            "_id=a b;id",
        ]))
        .await
        .expect("an answer");
    assert_eq!(out.status, Some(1));
    assert!(out.stderr_lossy().starts_with("jbr-gate: denied: "));
    assert_eq!(
        f.fake.argvs(),
        vec![support::gate::bracketed(&[
            "-F",
            "getLogItem",
            "-D",
            "_id=x",
            "-O",
            "json"
        ])]
    );
}

#[tokio::test]
async fn a_server_without_jetbackup5api_says_so() {
    if skip_without_sshd("a_server_without_jetbackup5api_says_so") {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let control = tempfile::tempdir().expect("tempdir");
    let empty = work.path().join("empty-bin");
    std::fs::create_dir(&empty).expect("mkdir");
    support::gate::open_dir(work.path(), 0o755);
    support::gate::open_dir(&empty, 0o755);
    let sshd = Sshd::start(&empty);
    let t = SshTransport::new(&server_for(&sshd), &options(control.path(), 10.0)).expect("t");
    let e = t
        .run(&argv(&["jetbackup5api", "-F", "listLogs", "-O", "json"]))
        .await
        .expect_err("missing");
    assert!(matches!(e, TransportError::Other { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("jetbackup5api: not found on the server"),
        "{e}"
    );
}

/// How `jbr-sim` will sit behind the gate: installed as `jetbackup5api` on the gate's PATH, its
/// state file named through the session environment.
#[tokio::test]
async fn a_program_installed_as_jetbackup5api_gets_the_session_env() {
    if skip_without_sshd("a_program_installed_as_jetbackup5api_gets_the_session_env") {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let control = tempfile::tempdir().expect("tempdir");
    support::gate::open_dir(work.path(), 0o755);
    let sim = work.path().join("fake-sim");
    support::gate::write_executable(
        &sim,
        "#!/bin/sh\nprintf 'state=%s name=%s args=%s\\n' \"$JBR_SIM_STATE\" \"${0##*/}\" \"$*\"\n",
    );
    let bin = work.path().join("bin");
    support::gate::install_as(&bin, "jetbackup5api", &sim);
    let state = work.path().join("web-01.json");
    let sshd = Sshd::start_with(
        "127.0.0.1",
        &bin,
        &[("JBR_SIM_STATE", &state.display().to_string())],
    );
    let t = SshTransport::new(&server_for(&sshd), &options(control.path(), 10.0)).expect("t");
    let out = t
        .run(&argv(&["jetbackup5api", "-F", "listLogs", "-O", "json"]))
        .await
        .expect("call");
    assert_eq!(
        out.stdout_lossy(),
        format!(
            "state={} name=jetbackup5api args=-F listLogs -O json\n",
            state.display()
        )
    );
}

#[tokio::test]
async fn a_server_that_never_answers_the_handshake_is_a_connect_error_within_ssh_timeout() {
    if skip_without_sshd(
        "a_server_that_never_answers_the_handshake_is_a_connect_error_within_ssh_timeout",
    ) {
        return;
    }
    let f = fixture();
    f.sshd.freeze_listener(true);
    let mut server = server_for(&f.sshd);
    server.ssh_timeout = Duration::from_secs(1);
    let t = SshTransport::new(&server, &options(f.control.path(), 10.0)).expect("transport");
    let started = Instant::now();
    let e = t
        .run(&argv(&["echo", "jbr-ping"]))
        .await
        .expect_err("no banner");
    let took = started.elapsed();
    f.sshd.freeze_listener(false);
    assert!(matches!(e, TransportError::Connect { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!(
            "server web-01: cannot connect: no answer from [127.0.0.1]:{} within ssh_timeout 1 s",
            f.sshd.port
        )
    );
    assert!(took < Duration::from_secs(4), "{took:?}");
}

#[tokio::test]
async fn a_frozen_connection_is_noticed_by_keepalives_not_by_the_call_timeout() {
    if skip_without_sshd("a_frozen_connection_is_noticed_by_keepalives_not_by_the_call_timeout") {
        return;
    }
    let f = fixture();
    // A long call bound: only ServerAliveInterval (1 s, options()) x ServerAliveCountMax (3) can
    // end this call early.
    let t = f.transport(30.0);
    let ping = argv(&["echo", "jbr-ping"]);
    assert!(t.run(&ping).await.is_ok());
    assert!(f.sshd.freeze_connections(true) > 0);
    let started = Instant::now();
    let e = t
        .run(&argv(&["jetbackup5api", "-F", "listLogs", "-O", "json"]))
        .await
        .expect_err("frozen server");
    let took = started.elapsed();
    f.sshd.kill_connections();
    assert!(matches!(e, TransportError::Disconnected { .. }), "{e:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    let out = t.run(&ping).await.expect("reconnects");
    assert_eq!(out.stdout_lossy(), "jbr-ping\n");
    assert_eq!(t.connections_opened(), 2);
}

#[tokio::test]
async fn two_servers_on_their_own_loopback_addresses_each_get_one_connection() {
    if skip_without_sshd("two_servers_on_their_own_loopback_addresses_each_get_one_connection") {
        return;
    }
    let control = tempfile::tempdir().expect("tempdir");
    let mut fakes = Vec::new();
    let mut servers = Vec::new();
    let mut dirs = Vec::new();
    for (i, addr) in ["127.0.0.2", "127.0.0.3"].iter().enumerate() {
        let work = tempfile::tempdir().expect("tempdir");
        let fake = FakeApi::new(work.path(), "");
        let sshd = Sshd::start_on(addr, &fake.bin_dir);
        let mut server = server_for(&sshd);
        server.name = format!("web-0{}", i + 1);
        servers.push((sshd, server));
        fakes.push(fake);
        dirs.push(work);
    }
    let t1 = SshTransport::new(&servers[0].1, &options(control.path(), 10.0)).expect("t1");
    let t2 = SshTransport::new(&servers[1].1, &options(control.path(), 10.0)).expect("t2");
    let call = argv(&["jetbackup5api", "-F", "listDestinations", "-O", "json"]);
    for _ in 0..5 {
        let (a, b) = tokio::join!(t1.run(&call), t2.run(&call));
        assert_eq!(a.expect("web-01").status, Some(0));
        assert_eq!(b.expect("web-02").status, Some(0));
    }
    for (fake, (sshd, _)) in fakes.iter().zip(&servers) {
        assert_eq!(fake.calls().len(), 5);
        // SSH_CONNECTION is "client-addr client-port server-addr server-port".
        let conns = connections(fake);
        assert_eq!(conns.len(), 1, "{conns:?}");
        assert!(
            conns[0].ends_with(&format!(" {} {}", sshd.addr, sshd.port)),
            "{conns:?}"
        );
    }
    assert_eq!((t1.connections_opened(), t2.connections_opened()), (1, 1));
}

/// A tracing writer that keeps what was logged, to check what an operator would read.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
