//! Enable and disable, always read back. Destinations fall back between the two calls that
//! change them (`manageDestinationState` ↔ `manageDestination action=modify`) and remember per
//! server which one works. See: jetbackup5-api.md, "Destination enable/disable — safe rule".

use crate::api::{Client, DestinationMethod};
use crate::journal::{Op, Target};
use crate::transport::Transport;

use super::context::Ctx;
use super::retry::{self, Kind};

/// Set a destination's `disabled` flag and confirm by reading it back. Returns the method that
/// worked, or a one-line reason.
pub async fn set_destination<T: Transport>(
    ctx: &mut Ctx<'_, T>,
    client: &Client<T>,
    dest: &str,
    disabled: bool,
) -> Result<DestinationMethod, String> {
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
        let sent = retry::call(&ctx.policy, Kind::Write, &server, method.function(), || {
            client.set_destination_disabled(dest, disabled, method)
        })
        .await;
        if let Err(e) = sent {
            problems.push(e.to_string());
            continue;
        }
        match retry::call(&ctx.policy, Kind::Read, &server, "getDestination", || {
            client.get_destination(dest)
        })
        .await
        {
            Ok(d) if d.disabled == disabled => {
                ctx.methods.insert(server.clone(), method);
                ctx.record.server_mut(&server).destination_method =
                    Some(method.function().to_string());
                return Ok(method);
            }
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

/// Set a job's `disabled` flag and confirm by reading it back.
pub async fn set_job<T: Transport>(
    ctx: &mut Ctx<'_, T>,
    client: &Client<T>,
    job: &str,
    disabled: bool,
) -> Result<(), String> {
    let server = client.server().to_string();
    // A disable is retried like a read, `success: 0` included: it is idempotent, and a busy
    // server's one "database is locked" must not leave a job enabled all day. An enable that
    // the server refuses stays refused (the job is reported, not run).
    let kind = if disabled { Kind::Read } else { Kind::Write };
    retry::call(&ctx.policy, kind, &server, "manageBackupJob", || {
        client.set_job_disabled(job, disabled)
    })
    .await
    .map_err(|e| e.to_string())?;
    let j = retry::call(&ctx.policy, Kind::Read, &server, "getBackupJob", || {
        client.get_backup_job(job)
    })
    .await
    .map_err(|e| format!("read back: {e}"))?;
    if j.disabled == disabled {
        Ok(())
    } else {
        Err(format!(
            "getBackupJob still shows disabled={} after manageBackupJob disabled={}",
            u8::from(j.disabled),
            u8::from(disabled)
        ))
    }
}

fn word(disabled: bool) -> &'static str {
    if disabled { "disabled" } else { "enabled" }
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
    })?;
    ctx.state.note_destination(&server, dest, false);
    match set_destination(ctx, client, dest, false).await {
        Ok(m) => {
            ctx.action(
                &server,
                format!("enable destination {dest}"),
                format!("read back: enabled ({})", m.function()),
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
        Ok(m) => {
            ctx.action(
                &server,
                format!("disable destination {dest}"),
                format!("read back: {} ({})", word(true), m.function()),
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

/// Enable a job for its run. `Err` = the job must not be triggered (nothing left enabled).
pub async fn enable_job<T: Transport>(
    ctx: &mut Ctx<'_, T>,
    client: &Client<T>,
    job: &str,
) -> Result<(), String> {
    let server = client.server().to_string();
    ctx.journal(Op::Enable {
        server: server.clone(),
        what: Target::Job,
        id: job.to_string(),
        previous_disabled: true,
    })?;
    ctx.state.note_job(&server, job, false);
    match set_job(ctx, client, job, false).await {
        Ok(()) => {
            ctx.action(
                &server,
                format!("enable job {job}"),
                "read back: enabled",
                true,
            );
            Ok(())
        }
        Err(why) => {
            ctx.action(&server, format!("enable job {job}"), why.clone(), false);
            disable_job(ctx, client, job).await;
            Err(format!("could not enable the job: {why}"))
        }
    }
}

/// Disable a job after its run; a failure is critical.
pub async fn disable_job<T: Transport>(ctx: &mut Ctx<'_, T>, client: &Client<T>, job: &str) {
    let server = client.server().to_string();
    ctx.journal_best_effort(Op::Disable {
        server: server.clone(),
        what: Target::Job,
        id: job.to_string(),
    });
    match set_job(ctx, client, job, true).await {
        Ok(()) => {
            ctx.action(
                &server,
                format!("disable job {job}"),
                "read back: disabled",
                true,
            );
            ctx.state.note_job(&server, job, true);
            ctx.journal_best_effort(Op::Restored {
                server: server.clone(),
                what: Target::Job,
                id: job.to_string(),
            });
        }
        Err(why) => {
            ctx.action(&server, format!("disable job {job}"), why.clone(), false);
            ctx.critical(
                &server,
                "job",
                job,
                format!("server {server}: {why}; job {job} is ENABLED, disable it by hand"),
            );
        }
    }
}
