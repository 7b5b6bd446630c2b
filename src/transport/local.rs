//! Runs the calls on this machine: `servers.NAME.local_command` stands in for `jetbackup5api`
//! (for example `["env", "JBR_SIM_STATE=/tmp/a.json", "jbr-sim"]`). Used by tests and by
//! `jbr run` against simulated servers.
//!
//! No shell: the prefix and the call's words go to `execvp` as separate arguments. `echo WORD` is
//! answered here, as the SSH gate does, without running anything. stdin is /dev/null, and a call
//! that outlives `call_timeout` is killed.

use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;
use tokio::time::timeout;

use super::{RawOutput, Transport, TransportError};
use crate::config::Server;

pub struct LocalTransport {
    server: String,
    prefix: Vec<String>,
    call_timeout: Duration,
}

impl LocalTransport {
    /// From a server whose config has `local_command`.
    pub fn new(server: &Server, call_timeout: Duration) -> Result<LocalTransport, TransportError> {
        match &server.local_command {
            Some(prefix) => LocalTransport::with_prefix(&server.name, prefix.clone(), call_timeout),
            None => Err(TransportError::Other {
                server: server.name.clone(),
                reason: "no local_command configured".into(),
            }),
        }
    }

    pub fn with_prefix(
        server: &str,
        prefix: Vec<String>,
        call_timeout: Duration,
    ) -> Result<LocalTransport, TransportError> {
        if prefix.first().is_none_or(|p| p.is_empty()) {
            return Err(TransportError::Other {
                server: server.to_string(),
                reason: "local_command is empty".into(),
            });
        }
        Ok(LocalTransport {
            server: server.to_string(),
            prefix,
            call_timeout,
        })
    }

    async fn call(&self, argv: &[String]) -> Result<RawOutput, TransportError> {
        let other = |reason: String| TransportError::Other {
            server: self.server.clone(),
            reason,
        };
        let Some((program, args)) = argv.split_first() else {
            return Err(other("empty command".into()));
        };
        match program.as_str() {
            "echo" => {
                let mut stdout = args.join(" ").into_bytes();
                stdout.push(b'\n');
                return Ok(RawOutput {
                    status: Some(0),
                    stdout,
                    stderr: Vec::new(),
                });
            }
            "jetbackup5api" => {}
            _ => {
                return Err(other(format!(
                    "the local transport runs only jetbackup5api and echo, not {program:?}"
                )));
            }
        }
        // Checked non-empty in `with_prefix`.
        let (exe, pre) = self
            .prefix
            .split_first()
            .ok_or_else(|| other("empty local_command".into()))?;
        let mut cmd = Command::new(exe);
        cmd.args(pre)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Dropping the future on timeout then kills the process.
            .kill_on_drop(true);
        let child = cmd.spawn().map_err(|e| TransportError::Connect {
            server: self.server.clone(),
            reason: format!("cannot start local_command {exe:?}: {e}"),
        })?;
        match timeout(self.call_timeout, child.wait_with_output()).await {
            Err(_) => Err(TransportError::Timeout {
                server: self.server.clone(),
                timeout: self.call_timeout,
            }),
            Ok(Err(e)) => Err(other(format!("local_command {exe:?}: {e}"))),
            Ok(Ok(out)) => Ok(RawOutput {
                status: out.status.code(),
                stdout: out.stdout,
                stderr: out.stderr,
            }),
        }
    }
}

impl Transport for LocalTransport {
    fn server(&self) -> &str {
        &self.server
    }

    async fn run(&self, argv: &[String]) -> Result<RawOutput, TransportError> {
        self.call(argv).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    fn transport(prefix: &[&str], secs: f64) -> LocalTransport {
        LocalTransport::with_prefix("sim-1", argv(prefix), Duration::from_secs_f64(secs))
            .expect("valid prefix")
    }

    #[tokio::test]
    async fn runs_prefix_plus_words_without_a_shell() {
        // printf gets the words as separate arguments: nothing is re-split or expanded.
        let t = transport(&["printf", "[%s]"], 10.0);
        let out = t
            .run(&argv(&[
                "jetbackup5api",
                "-F",
                "getLog",
                "-D",
                "_id=a&b=$(id);*",
                "-O",
                "json",
            ]))
            .await
            .expect("runs");
        assert_eq!(out.status, Some(0));
        assert_eq!(
            out.stdout_lossy(),
            "[-F][getLog][-D][_id=a&b=$(id);*][-O][json]"
        );
    }

    #[tokio::test]
    async fn echo_is_answered_locally() {
        let t = transport(&["/nonexistent/jbr-sim"], 10.0);
        let out = t.run(&argv(&["echo", "jbr-ping"])).await.expect("echo");
        assert_eq!(
            (out.status, out.stdout_lossy()),
            (Some(0), "jbr-ping\n".into())
        );
    }

    #[tokio::test]
    async fn exit_status_and_stderr_pass_through() {
        let t = transport(&["sh", "-c", "echo oops >&2; exit 3", "sh"], 10.0);
        let out = t
            .run(&argv(&["jetbackup5api", "-F", "x"]))
            .await
            .expect("runs");
        assert_eq!((out.status, out.stderr_lossy()), (Some(3), "oops\n".into()));
    }

    #[tokio::test]
    async fn a_hung_command_times_out_and_is_killed() {
        let t = transport(&["sleep"], 0.3);
        let started = std::time::Instant::now();
        let e = t.run(&argv(&["jetbackup5api", "30"])).await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(e.to_string(), "server sim-1: no answer within 0.3 s");
    }

    #[tokio::test]
    async fn a_missing_program_is_a_connect_error_naming_it() {
        let t = transport(&["/nonexistent/jbr-sim"], 10.0);
        let e = t
            .run(&argv(&["jetbackup5api", "-F", "x"]))
            .await
            .unwrap_err();
        assert!(matches!(e, TransportError::Connect { .. }), "{e}");
        assert!(e.to_string().contains("\"/nonexistent/jbr-sim\""), "{e}");
    }

    #[tokio::test]
    async fn other_programs_are_refused() {
        let t = transport(&["true"], 10.0);
        let e = t.run(&argv(&["sh", "-c", "id"])).await.unwrap_err();
        assert!(e.to_string().contains("only jetbackup5api and echo"), "{e}");
    }

    #[test]
    fn an_empty_prefix_is_refused() {
        assert!(LocalTransport::with_prefix("s", vec![], Duration::from_secs(1)).is_err());
        assert!(
            LocalTransport::with_prefix("s", vec![String::new()], Duration::from_secs(1)).is_err()
        );
    }
}
