//! Enable and disable, always read back. Destinations fall back between the two calls that
//! change them (`manageDestinationState` ↔ `manageDestination action=modify`) and remember per
//! server which one works. See: jetbackup5-api.md, "Destination enable/disable — safe rule".

use crate::api::{Client, DestinationMethod};
use crate::journal::{Op, Target};
use crate::transport::Transport;

use super::context::Ctx;
use super::retry::{self, Repeat};
use super::window::Call;

/// A flag change that reads back as asked. `unanswered`: the call's own answer was an error
/// (lost, or a refusal of a busy server), yet the read-back shows the change took effect.
pub struct Confirmed {
    pub method: Option<DestinationMethod>,
    pub unanswered: Option<String>,
}

impl Confirmed {
    /// The words after "read back: enabled/disabled" in the report.
    fn detail(&self) -> String {
        let method = self.method.map(|m| m.function());
        match (method, &self.unanswered) {
            (Some(m), None) => format!(" ({m})"),
            (Some(m), Some(why)) => format!(" ({m}, although its answer was: {why})"),
            (None, Some(why)) => format!(" (although the call's answer was: {why})"),
            (None, None) => String::new(),
        }
    }
}

/// Set a destination's `disabled` flag and confirm by reading it back. Returns the method that
/// worked, or a one-line reason.
pub async fn set_destination<T: Transport>(
    ctx: &mut Ctx<'_, T>,
    client: &Client<T>,
    dest: &str,
    disabled: bool,
) -> Result<Confirmed, String> {
    let server = client.server().to_string();
    let first = ctx
        .methods
        .get(&server)
        .copied()
        .unwrap_or(DestinationMethod::State);
    let mut problems = Vec::new();
    // A disable goes twice round both calls: one refusal of a busy server must not count as
    // "this call does not exist here" and leave the destination enabled (setting a flag is
    // idempotent, so repeating it is safe).
    let rounds = if disabled { 2 } else { 1 };
    let methods = [first, first.other()].repeat(rounds);
    for (i, method) in methods.into_iter().enumerate() {
        if i == 2 {
            // The second round: give a busy server a moment first.
            tokio::time::sleep(ctx.policy.pause(1)).await;
        }
        let sent = retry::call(
            &ctx.policy,
            Repeat::OnlyIfUnanswered,
            &server,
            method.function(),
            || client.set_destination_disabled(dest, disabled, method),
        )
        .await;
        let unanswered = match sent {
            Ok(_) => None,
            Err(e) => {
                problems.push(e.to_string());
                // A disable whose answer was lost or refused may still have taken effect: the
                // read-back decides, not the answer. A failed enable is closed by the caller.
                if !disabled {
                    continue;
                }
                Some(e.to_string())
            }
        };
        match retry::call(
            &ctx.policy,
            Repeat::Freely,
            &server,
            "getDestination",
            || client.get_destination(dest),
        )
        .await
        {
            Ok(d) if d.disabled == disabled => {
                // Only a call that answered OK proves which method works on this server.
                let method = match unanswered {
                    None => {
                        ctx.methods.insert(server.clone(), method);
                        ctx.record.server_mut(&server).destination_method =
                            Some(method.function().to_string());
                        Some(method)
                    }
                    Some(_) => None,
                };
                return Ok(Confirmed { method, unanswered });
            }
            Ok(_) if unanswered.is_some() => {}
            Ok(d) => problems.push(format!(
                "{} answered OK but getDestination still shows disabled={}",
                method.function(),
                u8::from(d.disabled)
            )),
            Err(e) => problems.push(format!("read back after {}: {e}", method.function())),
        }
    }
    Err(problems.join("; "))
}

/// A job's disable, confirmed.
pub struct Disabled {
    /// The `manageBackupJob` call that the read-back confirmed (the job is disabled from then).
    pub call: Call,
    /// The read-back: the job as the server shows it, `running` included (after a run's end it
    /// is also the check that the job no longer runs).
    pub job: crate::api::BackupJob,
    /// The read-back's `getBackupJob` call.
    pub read: Call,
}

/// Disable a job and confirm by reading it back (an enable is [`send_enable`] plus
/// [`confirm_enabled`]).
async fn disable_and_confirm<T: Transport>(
    ctx: &mut Ctx<'_, T>,
    client: &Client<T>,
    job: &str,
) -> Result<(Confirmed, Disabled), String> {
    let server = client.server().to_string();
    // Retried like a read, `success: 0` included: a disable is idempotent, and a busy server's
    // one "database is locked" must not leave a job enabled all day. It is read back even when
    // its answer was lost (the read-back decides), and a second round follows a pause when
    // either call failed.
    let mut problems = Vec::new();
    for round in 0..2 {
        if round > 0 {
            tokio::time::sleep(ctx.policy.pause(1)).await;
        }
        let (sent, call) = Call::time(retry::call(
            &ctx.policy,
            Repeat::Freely,
            &server,
            "manageBackupJob",
            || client.set_job_disabled(job, true),
        ))
        .await;
        let unanswered = sent.err().map(|e| e.to_string());
        problems.extend(unanswered.clone());
        let (read, read_call) = Call::time(retry::call(
            &ctx.policy,
            Repeat::Freely,
            &server,
            "getBackupJob",
            || client.get_backup_job(job),
        ))
        .await;
        match read {
            Ok(j) if j.disabled => {
                let confirmed = Confirmed {
                    method: None,
                    unanswered,
                };
                let disabled = Disabled {
                    call,
                    job: j,
                    read: read_call,
                };
                return Ok((confirmed, disabled));
            }
            Ok(_) if unanswered.is_some() => {}
            Ok(_) => problems.push(
                "getBackupJob still shows disabled=0 after manageBackupJob disabled=1".to_string(),
            ),
            Err(e) => problems.push(format!("read back: {e}")),
        }
    }
    Err(problems.join("; "))
}

/// Open the destination window: journal, enable, read back. `Err` = the server must be skipped
/// (nothing is left enabled by this function).
pub async fn open_destination<T: Transport>(
    ctx: &mut Ctx<'_, T>,
    client: &Client<T>,
    dest: &str,
) -> Result<(), String> {
    let server = client.server().to_string();
    // Journal first: after a power cut it is our only proof that we enabled this destination.
    ctx.journal(Op::Enable {
        server: server.clone(),
        what: Target::Destination,
        id: dest.to_string(),
        previous_disabled: true,
        since: None,
    })?;
    ctx.state.note_destination(&server, dest, false);
    match set_destination(ctx, client, dest, false).await {
        Ok(c) => {
            ctx.action(
                &server,
                format!("enable destination {dest}"),
                format!("read back: enabled{}", c.detail()),
                true,
            );
            Ok(())
        }
        Err(why) => {
            ctx.action(
                &server,
                format!("enable destination {dest}"),
                why.clone(),
                false,
            );
            // It may have flipped late; put it back to disabled either way.
            close_destination(ctx, client, dest).await;
            Err(format!("could not enable destination {dest}: {why}"))
        }
    }
}

/// Close the destination window: disable and read back; a failure is critical.
pub async fn close_destination<T: Transport>(ctx: &mut Ctx<'_, T>, client: &Client<T>, dest: &str) {
    let server = client.server().to_string();
    ctx.journal_best_effort(Op::Disable {
        server: server.clone(),
        what: Target::Destination,
        id: dest.to_string(),
    });
    match set_destination(ctx, client, dest, true).await {
        Ok(c) => {
            ctx.action(
                &server,
                format!("disable destination {dest}"),
                format!("read back: disabled{}", c.detail()),
                true,
            );
            ctx.state.note_destination(&server, dest, true);
            ctx.journal_best_effort(Op::Restored {
                server: server.clone(),
                what: Target::Destination,
                id: dest.to_string(),
            });
        }
        Err(why) => {
            ctx.action(
                &server,
                format!("disable destination {dest}"),
                why.clone(),
                false,
            );
            ctx.critical(
                &server,
                "destination",
                dest,
                format!(
                    "server {server}: {why}; destination {dest} is ENABLED, disable it by hand"
                ),
            );
        }
    }
}

/// Enable a job for its run: journal, then the call, *not yet* read back, so that the trigger
/// follows at once (the server's scheduler fires jobs that sit enabled and idle; issue 13).
/// [`confirm_enabled`] reads it back after the trigger. `Err` = the job must not be triggered
/// (nothing left enabled). `since`: the job's newest queue group before the enable. `Ok`: the
/// `manageBackupJob` call, timed (the job may be enabled from its start on).
pub async fn send_enable<T: Transport>(
    ctx: &mut Ctx<'_, T>,
    client: &Client<T>,
    job: &str,
    since: Option<String>,
) -> Result<Call, String> {
    let server = client.server().to_string();
    ctx.journal(Op::Enable {
        server: server.clone(),
        what: Target::Job,
        id: job.to_string(),
        previous_disabled: true,
        since,
    })?;
    ctx.state.note_job(&server, job, false);
    let (sent, call) = Call::time(retry::call(
        &ctx.policy,
        Repeat::OnlyIfUnanswered,
        &server,
        "manageBackupJob",
        || client.set_job_disabled(job, false),
    ))
    .await;
    match sent {
        Ok(()) => Ok(call),
        Err(e) => {
            let why = e.to_string();
            ctx.action(&server, format!("enable job {job}"), why.clone(), false);
            // Its answer may be lost with the change made: put it back either way.
            disable_job(ctx, client, job).await;
            Err(format!("could not enable the job: {why}"))
        }
    }
}

/// The read-back of [`send_enable`], made right after the trigger. The trigger answers with
/// the job object, read after the enable: when that `answer` states the flag (and is this
/// job), it is the read-back, one call less per job (issue 13); otherwise `getBackupJob`.
/// `Ok(false)`: the server shows the job disabled (the enable did not take, or someone
/// disabled it); `Err`: it could not be read. Either way the action is recorded.
pub async fn confirm_enabled<T: Transport>(
    ctx: &mut Ctx<'_, T>,
    client: &Client<T>,
    job: &str,
    answer: Option<&crate::api::BackupJob>,
) -> Result<bool, String> {
    let server = client.server().to_string();
    let from_answer = answer.filter(|j| j.disabled_stated && j.id == job);
    let read = match from_answer {
        Some(j) => Ok(j.clone()),
        None => retry::call(&ctx.policy, Repeat::Freely, &server, "getBackupJob", || {
            client.get_backup_job(job)
        })
        .await
        .map_err(|e| format!("read back: {e}")),
    };
    let (detail, ok) = match (&read, from_answer.is_some()) {
        (Ok(j), true) if !j.disabled => (
            "read back: enabled (runBackupJobManually's answer)".to_string(),
            true,
        ),
        (Ok(_), true) => (
            "the trigger's answer still shows disabled=1 after manageBackupJob disabled=0"
                .to_string(),
            false,
        ),
        (Ok(j), false) if !j.disabled => ("read back: enabled".to_string(), true),
        (Ok(_), false) => (
            "getBackupJob still shows disabled=1 after manageBackupJob disabled=0".to_string(),
            false,
        ),
        (Err(e), _) => (e.clone(), false),
    };
    ctx.action(&server, format!("enable job {job}"), detail, ok);
    read.map(|j| !j.disabled)
}

/// Disable a job after its run; a failure is critical. `Some`: the disable call that the
/// read-back confirmed, timed (the job is disabled from then on).
pub async fn disable_job<T: Transport>(
    ctx: &mut Ctx<'_, T>,
    client: &Client<T>,
    job: &str,
) -> Option<Call> {
    match try_disable_job(ctx, client, job).await {
        Ok(d) => Some(d.call),
        Err(why) => {
            let server = client.server();
            ctx.critical(
                server,
                "job",
                job,
                format!("server {server}: {why}; job {job} is ENABLED, disable it by hand"),
            );
            None
        }
    }
}

/// Disable a job and read it back, journaled and recorded as an action; `Err` leaves the
/// job enabled and is the caller's to act on ([`disable_job`] calls it critical; a disable
/// while the job still writes tries again after its end).
pub async fn try_disable_job<T: Transport>(
    ctx: &mut Ctx<'_, T>,
    client: &Client<T>,
    job: &str,
) -> Result<Disabled, String> {
    let server = client.server().to_string();
    ctx.journal_best_effort(Op::Disable {
        server: server.clone(),
        what: Target::Job,
        id: job.to_string(),
    });
    match disable_and_confirm(ctx, client, job).await {
        Ok((c, disabled)) => {
            ctx.action(
                &server,
                format!("disable job {job}"),
                format!("read back: disabled{}", c.detail()),
                true,
            );
            ctx.state.note_job(&server, job, true);
            ctx.journal_best_effort(Op::Restored {
                server: server.clone(),
                what: Target::Job,
                id: job.to_string(),
            });
            Ok(disabled)
        }
        Err(why) => {
            ctx.action(&server, format!("disable job {job}"), why.clone(), false);
            Err(why)
        }
    }
}
