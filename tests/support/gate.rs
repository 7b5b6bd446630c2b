//! For the gate and SSH tests: where `server/jbr-gate` is, files the unprivileged sshd test user
//! can reach, and `FakeApi`, a stand-in `jetbackup5api` (a shell script) that records the argv
//! it was given.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The repository root (where Cargo.toml is).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `server/jbr-gate` in this checkout.
pub fn gate_path() -> PathBuf {
    repo_root().join("server").join("jbr-gate")
}

/// Write an executable file (mode 0755).
pub fn write_executable(path: &Path, body: &str) {
    fs::write(path, body).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

/// Make a directory usable by the unprivileged sshd test user (tempdirs are 0700 root).
pub fn open_dir(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

/// A fake `jetbackup5api`: a POSIX sh script in `<dir>/bin/jetbackup5api` that appends one line per
/// call to `<dir>/calls.log` — its arguments as `[arg]` words, then `conn=<$SSH_CONNECTION>` —
/// and prints `{"argv":[...]}`-ish text on stdout. `extra` is sh code run after recording (for
/// example `sleep 30` for a hung server).
pub struct FakeApi {
    pub dir: PathBuf,
    pub bin_dir: PathBuf,
    pub calls: PathBuf,
}

impl FakeApi {
    pub fn new(dir: &Path, extra: &str) -> FakeApi {
        let bin_dir = dir.join("bin");
        fs::create_dir_all(&bin_dir).expect("create fake bin dir");
        open_dir(dir, 0o777);
        open_dir(&bin_dir, 0o755);
        let calls = dir.join("calls.log");
        let script = format!(
            r#"#!/bin/sh
line=''
for a in "$@"; do line="$line[$a]"; done
printf '%s conn=%s\n' "$line" "${{SSH_CONNECTION-local}}" >> '{calls}'
printf 'argv:%s\n' "$line"
{extra}
"#,
            calls = calls.display(),
        );
        write_executable(&bin_dir.join("jetbackup5api"), &script);
        // A logger stand-in, so tests can see the gate's syslog line without a syslog daemon.
        let logger = format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\n",
            dir.join("syslog.log").display()
        );
        write_executable(&bin_dir.join("logger"), &logger);
        FakeApi {
            dir: dir.to_path_buf(),
            bin_dir,
            calls,
        }
    }

    /// The recorded calls, one line each (`[-F][getBackupJob]... conn=...`).
    pub fn calls(&self) -> Vec<String> {
        match fs::read_to_string(&self.calls) {
            Ok(s) => s.lines().map(str::to_string).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Just the argv part of each recorded call.
    pub fn argvs(&self) -> Vec<String> {
        self.calls()
            .iter()
            .map(|l| l.split(" conn=").next().unwrap_or("").to_string())
            .collect()
    }

    pub fn syslog(&self) -> Vec<String> {
        match fs::read_to_string(self.dir.join("syslog.log")) {
            Ok(s) => s.lines().map(str::to_string).collect(),
            Err(_) => Vec::new(),
        }
    }

    pub fn clear(&self) {
        let _ = fs::remove_file(&self.calls);
        let _ = fs::remove_file(self.dir.join("syslog.log"));
    }
}

/// Put `target` into `bin_dir` as `name` — e.g. `jbr-sim` as `jetbackup5api` behind the gate: a
/// symlink when the unprivileged sshd test user can reach `target`, else a copy.
pub fn install_as(bin_dir: &Path, name: &str, target: &Path) -> PathBuf {
    fs::create_dir_all(bin_dir).expect("create bin dir");
    open_dir(bin_dir, 0o755);
    let link = bin_dir.join(name);
    let _ = fs::remove_file(&link);
    let reachable = target
        .ancestors()
        .skip(1)
        .all(|d| fs::metadata(d).is_ok_and(|m| m.permissions().mode() & 0o001 != 0))
        && fs::metadata(target).is_ok_and(|m| m.permissions().mode() & 0o005 == 0o005);
    if reachable {
        std::os::unix::fs::symlink(target, &link)
            .unwrap_or_else(|e| panic!("symlink {}: {e}", link.display()));
    } else {
        fs::copy(target, &link).unwrap_or_else(|e| panic!("copy {}: {e}", target.display()));
        fs::set_permissions(&link, fs::Permissions::from_mode(0o755)).expect("chmod copy");
    }
    link
}

/// `[a][b][c]`: how FakeApi records an argv.
pub fn bracketed(argv: &[&str]) -> String {
    argv.iter().map(|a| format!("[{a}]")).collect()
}
