//! One remote call, bounded by `call_timeout`, retried with backoff while the error is worth
//! another try. A failed call is never taken as an answer about a job.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::api::ApiError;
use crate::config::Orchestrator;
use crate::transport::TransportError;

/// Timing for calls, from `orchestrator.*`.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub call_timeout: Duration,
    /// First pause; doubles after each failure.
    pub backoff: Duration,
    /// Pauses never grow beyond this (`poll_interval`).
    pub cap: Duration,
    /// How long a lifecycle call (enable, disable, read back) keeps trying: a few polls at most,
    /// and at least `startup_timeout`, so a short network blip never leaves a job enabled.
    pub window: Duration,
}

impl Policy {
    pub fn from_config(o: &Orchestrator) -> Self {
        Policy {
            call_timeout: o.call_timeout,
            backoff: o.retry_backoff,
            cap: o.poll_interval.max(o.retry_backoff),
            window: o.startup_timeout.max(o.poll_interval),
        }
    }

    /// The pause before attempt `n` (n = 1 after the first failure).
    pub fn pause(&self, n: u32) -> Duration {
        let factor = 2u32.saturating_pow(n.saturating_sub(1).min(20));
        self.backoff.saturating_mul(factor).min(self.cap)
    }
}

/// When a failed call may be sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// On any failure but a value jbr refused to send: reads, and writes that are idempotent
    /// (a disable). `success: 0` on a read is transient (the server is busy or mid-update).
    Freely,
    /// Only when nothing reached the server or the answer was unreadable: an enable, a
    /// trigger, and reads whose refusal is an answer ("no such job").
    OnlyIfUnanswered,
}

pub fn worth_retrying(repeat: Repeat, e: &ApiError) -> bool {
    match repeat {
        Repeat::Freely => !matches!(e, ApiError::BadValue { .. }),
        Repeat::OnlyIfUnanswered => e.is_transient(),
    }
}

/// One attempt, bounded by `call_timeout`.
pub async fn once<R, Fut>(
    policy: &Policy,
    server: &str,
    function: &'static str,
    fut: Fut,
) -> Result<R, ApiError>
where
    Fut: Future<Output = Result<R, ApiError>>,
{
    match tokio::time::timeout(policy.call_timeout, fut).await {
        Ok(r) => r,
        Err(_) => Err(ApiError::Transport {
            function,
            source: TransportError::Timeout {
                server: server.to_string(),
                timeout: policy.call_timeout,
            },
        }),
    }
}

/// Retry `f` until it succeeds, fails for good, or `policy.window` has passed.
pub async fn call<R, F, Fut>(
    policy: &Policy,
    repeat: Repeat,
    server: &str,
    function: &'static str,
    mut f: F,
) -> Result<R, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<R, ApiError>>,
{
    let deadline = Instant::now() + policy.window;
    let mut attempt = 0u32;
    loop {
        match once(policy, server, function, f()).await {
            Ok(r) => return Ok(r),
            Err(e) => {
                attempt += 1;
                let pause = policy.pause(attempt);
                if !worth_retrying(repeat, &e) || Instant::now() + pause > deadline {
                    return Err(e);
                }
                tracing::warn!(
                    server,
                    function,
                    attempt,
                    "retrying in {:.2} s: {e}",
                    pause.as_secs_f64()
                );
                tokio::time::sleep(pause).await;
            }
        }
    }
}
