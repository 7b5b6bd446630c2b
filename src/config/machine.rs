//! Checks that look at this machine rather than the file: key files, known_hosts files, and the
//! directories jbr writes to. Read-only: `validate` creates nothing.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::Config;
use super::parse::child;
use super::problem::{Problems, Severity};

/// Who is asking decides how bad a missing file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckMode {
    /// `jbr validate`, possibly on a workstation or with the example config: a known_hosts file
    /// or directory that is not on *this* machine is a warning, so a config can be checked
    /// before deployment. A missing ssh key is an error in both modes.
    Validate,
    /// A command that will connect: a missing key or known_hosts file is an error, caught
    /// before anything is changed on any server.
    Run,
}

pub(crate) fn check(config: &Config, mode: CheckMode, p: &mut Problems) {
    let missing = match mode {
        CheckMode::Validate => Severity::Warning,
        CheckMode::Run => Severity::Error,
    };
    let mut seen = std::collections::HashSet::new();
    for (name, server) in &config.servers {
        if server.local_command.is_some() {
            // Runs a local program instead of ssh: no key, no host key.
            continue;
        }
        if let Some(key) = &server.ssh_key {
            let at = if config.ssh_key.as_ref() == Some(key) {
                "ssh_key".to_string()
            } else {
                child(&child("servers", name), "ssh_key")
            };
            // A key that is not there is always an error (issue 3): unlike a known_hosts file
            // or a runtime directory, nothing at deployment creates it, and every connect
            // would fail with ssh's less helpful message.
            if seen.insert(key.clone()) {
                key_file(key, &at, Severity::Error, p);
            }
        }
        // One problem per file, at its first mention: servers usually share a known_hosts file.
        if let Some(kh) = &server.known_hosts
            && seen.insert(kh.clone())
        {
            let at = child(&child("servers", name), "known_hosts");
            readable_file(kh, &at, "known_hosts file", missing, p);
        }
    }
    let o = &config.orchestrator;
    writable_file(&o.lock_file, "orchestrator.lock_file", missing, p);
    writable_file(&o.log_file, "orchestrator.log_file", missing, p);
    writable_file(&o.state_file, "orchestrator.state_file", missing, p);
    writable_file(&o.journal_file, "orchestrator.journal_file", missing, p);
    if let Some(metrics) = &o.metrics_file {
        writable_file(metrics, "orchestrator.metrics_file", missing, p);
    }
}

fn key_file(path: &Path, at: &str, missing: Severity, p: &mut Problems) {
    if !readable_file(path, at, "ssh key", missing, p) {
        return;
    }
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        // ssh itself refuses such a key ("UNPROTECTED PRIVATE KEY FILE"), so every connect
        // would fail; better to say so now, with the fix.
        p.error(
            at,
            "key_permissions",
            format!(
                "ssh key {} is accessible by group or others (mode {mode:04o})",
                path.display()
            ),
            Some(format!("chmod 600 {}", path.display())),
        );
    }
}

/// Returns whether the file exists and could be opened for reading.
fn readable_file(path: &Path, at: &str, what: &str, missing: Severity, p: &mut Problems) -> bool {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let hint = match missing {
                Severity::Warning => {
                    Some("fine on a workstation; on the NAS, commands that connect refuse to start without it".to_string())
                }
                Severity::Error => None,
            };
            p.push(
                missing,
                at,
                "missing_file",
                format!("{what} {} does not exist", path.display()),
                hint,
            );
            false
        }
        Err(e) => {
            p.error(
                at,
                "unreadable_file",
                format!("cannot read {what} {}: {e}", path.display()),
                None,
            );
            false
        }
        Ok(meta) if !meta.is_file() => {
            p.error(
                at,
                "not_a_file",
                format!("{what} {} is not a regular file", path.display()),
                None,
            );
            false
        }
        Ok(_) => match std::fs::File::open(path) {
            Ok(_) => true,
            Err(e) => {
                p.error(
                    at,
                    "unreadable_file",
                    format!("cannot read {what} {}: {e}", path.display()),
                    Some("run validate as the user jbr runs as".into()),
                );
                false
            }
        },
    }
}

/// jbr must be able to create or rewrite this file: either it exists and is writable, or the
/// nearest existing ancestor is a directory we may create things in.
fn writable_file(path: &Path, at: &str, missing: Severity, p: &mut Problems) {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => {
            p.error(
                at,
                "not_a_file",
                format!("{} is a directory", path.display()),
                Some("name a file inside it".into()),
            );
            return;
        }
        Ok(_) => {
            if let Err(e) = access(path, libc::W_OK) {
                p.error(
                    at,
                    "not_writable",
                    format!("cannot write {}: {e}", path.display()),
                    Some("run validate as the user jbr runs as".into()),
                );
            }
            return;
        }
        Err(_) => {}
    }
    let Some(parent) = path.parent() else {
        return;
    };
    let mut dir = parent;
    loop {
        match std::fs::metadata(dir) {
            Ok(meta) if meta.is_dir() => break,
            Ok(_) => {
                p.error(
                    at,
                    "not_a_directory",
                    format!(
                        "cannot create {}: {} is not a directory",
                        path.display(),
                        dir.display()
                    ),
                    None,
                );
                return;
            }
            Err(_) => match dir.parent() {
                Some(up) if !up.as_os_str().is_empty() => dir = up,
                _ => return,
            },
        }
    }
    let Err(e) = access(dir, libc::W_OK | libc::X_OK) else {
        return;
    };
    if dir == parent {
        p.error(
            at,
            "not_writable",
            format!("cannot create {} in {}: {e}", path.display(), dir.display()),
            Some("let the user jbr runs as write there".into()),
        );
    } else {
        // A directory that does not exist yet is often systemd's to create at start
        // (RuntimeDirectory= is even removed when the service stops), so validate only warns.
        p.push(
            missing,
            at,
            "not_writable",
            format!(
                "directory {} does not exist and cannot be created in {}: {e}",
                parent.display(),
                dir.display()
            ),
            Some("create it for the user jbr runs as, or let systemd: StateDirectory=, LogsDirectory=, RuntimeDirectory=".into()),
        );
    }
}

fn access(path: &Path, mode: libc::c_int) -> std::io::Result<()> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "NUL in path"))?;
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call; access() only reads it.
    let rc = unsafe { libc::access(c.as_ptr(), mode) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
