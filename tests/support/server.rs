//! A helper server process on loopback (the SMTP sink, the HTTP server) that prints the port it
//! listens on as its first stdout line and exits when its stdin closes.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Spawns `cmd` (stderr to `stderr`, stdin a pipe we hold, so it exits when the test does) and
/// waits up to 10 s for its port. On failure it is killed and the error says what it printed.
pub fn spawn_listening(cmd: &mut Command, stderr: File) -> Result<(Child, u16), String> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("{cmd:?}: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(10)).unwrap_or_default();
    match line.trim().parse::<u16>() {
        Ok(port) => Ok((child, port)),
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(format!("{cmd:?} did not start (stdout {line:?})"))
        }
    }
}
