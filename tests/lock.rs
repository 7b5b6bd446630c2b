//! The flock guard across real processes: a second run is refused with exit 3, naming the holder.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use jbr::exit::Exit;
use jbr::lock;

/// When run as the helper child: take the lock, say so, hold it until stdin closes.
#[test]
fn helper_hold_lock() {
    let Ok(path) = std::env::var("JBR_LOCK_TEST_HOLD") else {
        return;
    };
    let guard = lock::acquire(std::path::Path::new(&path));
    match guard {
        Ok(_g) => {
            println!("HELD");
            let mut s = String::new();
            let _ = std::io::stdin().read_line(&mut s);
        }
        Err(e) => println!("FAILED {e}"),
    }
}

fn spawn_holder(path: &std::path::Path) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "helper_hold_lock",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("JBR_LOCK_TEST_HOLD", path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn wait_for_held(child: &mut std::process::Child) {
    use std::io::{BufRead, BufReader};
    let out = child.stdout.take().unwrap();
    let mut lines = BufReader::new(out).lines();
    let deadline = Instant::now() + Duration::from_secs(20);
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.contains("HELD") {
            return;
        }
        assert!(!line.contains("FAILED"), "helper could not lock: {line}");
        assert!(Instant::now() < deadline, "helper never took the lock");
    }
    panic!("helper exited without taking the lock");
}

#[test]
fn second_process_is_refused_with_exit_3_naming_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    // A parent directory that does not exist yet: acquire creates it.
    let path = dir.path().join("run/jbr/jbr.lock");
    let mut child = spawn_holder(&path);
    wait_for_held(&mut child);

    let err = lock::acquire(&path).expect_err("the lock is held by the child");
    assert_eq!(err.exit(), Exit::Locked);
    let msg = err.to_string();
    // Who holds it: pid, host, since when and for how long, and its command line.
    assert!(
        msg.contains(&format!(
            "another run holds the lock (pid {} on ",
            child.id()
        )),
        "{msg}"
    );
    assert!(msg.contains(", since 20") && msg.contains("s): "), "{msg}");
    assert!(
        msg.contains("helper_hold_lock"),
        "the holder's command line: {msg}"
    );
    assert!(msg.ends_with("; nothing was changed"), "{msg}");
    assert!(msg.contains("jbr.lock"), "{msg}");

    // The holder ends (stdin closes): the lock is free again, no stale file problem.
    drop(child.stdin.take());
    // Its exit status is noise: the harness may fail to print once we stopped reading stdout.
    child.wait().unwrap();
    let guard = lock::acquire(&path).expect("free after the holder exited");
    let holder = lock::read_holder(&path).expect("the new holder wrote itself down");
    assert_eq!(holder.pid, Some(std::process::id()));
    drop(guard);
}

#[test]
fn killed_holder_leaves_no_stale_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jbr.lock");
    let mut child = spawn_holder(&path);
    wait_for_held(&mut child);
    assert!(lock::acquire(&path).is_err());
    child.kill().unwrap();
    child.wait().unwrap();
    // The pid of the dead holder is still in the file, but the kernel released the lock.
    let _guard = lock::acquire(&path).expect("a SIGKILLed holder releases the lock");
}

#[test]
fn flock_1_holder_is_refused() {
    // An outside flock(1) on the same file (an operator's own guard) counts as a holder too.
    if !support::tools::available("flock", "(util-linux) to hold the lock from outside") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jbr.lock");
    let ready = dir.path().join("ready");
    let mut child = Command::new("flock")
        .arg(&path)
        .args(["sh", "-c", &format!("touch {}; sleep 30", ready.display())])
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ready.exists() {
        assert!(Instant::now() < deadline, "flock(1) never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let err = lock::acquire(&path).unwrap_err();
    assert_eq!(err.exit(), Exit::Locked);
    assert!(
        err.to_string()
            .contains("another run holds the lock (pid unknown)"),
        "{err}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
