//! `server/jbr-gate`: every hostile line is denied and runs nothing; every form jbr sends passes
//! with exactly the intended argv (contract: "Remote calls and the SSH gate", issue 6).
//!
//! The gate runs directly with `SSH_ORIGINAL_COMMAND` set (fast, under every POSIX shell found
//! here) and a subset through a real sshd forced command. A fake `jetbackup5api` records each argv
//! it is given; a canary file that the hostile lines try to create must never appear.

mod support;

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::gate::{FakeApi, gate_path};
use support::rng::Rng;
use support::sshd::{Sshd, output_within, skip_without_sshd};

/// The shells the gate must work under: Debian's dash as /bin/sh, bash (CentOS 7's /bin/sh), and
/// when installed posh (a strict POSIX shell: catches non-portable constructs) and busybox ash.
fn shells() -> Vec<Vec<String>> {
    let mut out = vec![vec!["/bin/sh".to_string()]];
    for (name, extra) in [
        ("bash", Some("--posix")),
        ("posh", None),
        ("busybox", Some("sh")),
    ] {
        let found = ["/bin", "/usr/bin"]
            .iter()
            .map(|d| Path::new(d).join(name))
            .find(|p| p.exists());
        if let Some(path) = found {
            let mut argv = vec![path.display().to_string()];
            argv.extend(extra.map(String::from));
            out.push(argv);
        }
    }
    out
}

struct GateRun {
    status: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run_gate(shell: &[String], fake: &FakeApi, command: Option<&OsStr>) -> GateRun {
    let mut c = Command::new(&shell[0]);
    c.args(&shell[1..])
        .arg(gate_path())
        .env_clear()
        .env(
            "PATH",
            format!("{}:/usr/local/bin:/usr/bin:/bin", fake.bin_dir.display()),
        )
        .env("SSH_CLIENT", "127.0.0.1 50000 22")
        // What a hostile client could set through Debian's `AcceptEnv LANG LC_*`.
        .env("LC_ALL", "C.UTF-8")
        .env("LANG", "C.UTF-8")
        .current_dir(&fake.dir);
    if let Some(cmd) = command {
        c.env("SSH_ORIGINAL_COMMAND", cmd);
    }
    match output_within(&mut c, Duration::from_secs(20)) {
        Ok(out) => GateRun {
            status: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        },
        // Reported per line by the callers, like any other wrong answer.
        Err(e) => GateRun {
            status: None,
            stdout: String::new(),
            stderr: format!("gate did not finish: {e}"),
        },
    }
}

/// The functions the contract lets through the gate (clearQueue, optional there, is not among
/// them). The test's own statement of the contract, kept apart from the code under test.
/// Written as one line of prose (jbr-contract.md, "Remote calls"), so it stays a statement of
/// its own rather than a copy of jbr's table.
const CONTRACT_FUNCTIONS: &str = "getBackupJob listBackupJobs runBackupJobManually manageBackupJob getDestination listDestinations manageDestinationState manageDestination listQueueGroups getQueueGroup listQueueItems stopQueueGroup listLogs getLog listLogItems getLogItem";

fn functions() -> Vec<&'static str> {
    CONTRACT_FUNCTIONS.split(' ').collect()
}

/// The legitimate lines: what jbr sends (as the openssh crate quotes it) and the equivalent bare,
/// single- and double-quoted forms, with and without `-O`, with the argv each must produce.
fn legit_forms() -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    for f in functions() {
        out.push((
            format!("jetbackup5api -F {f} -O json"),
            v(&["-F", f, "-O", "json"]),
        ));
        out.push((format!("jetbackup5api -F {f}"), v(&["-F", f])));
        let data = "_id=6508c1e2f1a9b3d4e5f606d9";
        for (open, close) in [("", ""), ("'", "'"), ("\"", "\"")] {
            out.push((
                format!("jetbackup5api -F {f} -D {open}{data}{close} -O json"),
                v(&["-F", f, "-D", data, "-O", "json"]),
            ));
            out.push((
                format!("jetbackup5api -F {f} -D {open}{data}{close}"),
                v(&["-F", f, "-D", data]),
            ));
        }
    }
    for data in [
        "find[type]=1&sort[start_time]=-1&limit=10",
        "_id=6508c1e2f1a9b3d4e5f606d9&action=modify&disabled=1",
        "find[info.ID]=6508c1e2f1a9b3d4e5f606d9&find[type]=1",
        "_id=&x=1",
        "a.b_c[d]=v-1:2.3_4",
        "time=2026-11-22T03:12:09",
    ] {
        for (open, close) in [("", ""), ("'", "'"), ("\"", "\"")] {
            out.push((
                format!("jetbackup5api -F listLogs -D {open}{data}{close} -O json"),
                v(&["-F", "listLogs", "-D", data, "-O", "json"]),
            ));
        }
    }
    out.push((
        "jetbackup5api -F listBackupJobs -O plain".into(),
        v(&["-F", "listBackupJobs", "-O", "plain"]),
    ));
    // Long but under the gate's 4096-byte bound: many pairs.
    let long = vec!["k=v"; 900].join("&");
    out.push((
        format!("jetbackup5api -F listLogs -D '{long}' -O json"),
        v(&["-F", "listLogs", "-D", &long, "-O", "json"]),
    ));
    out
}

/// Every argv jbr's API layer builds, quoted exactly as the openssh crate does before sending.
fn crate_quoted_forms() -> Vec<(String, Vec<String>)> {
    let argvs: Vec<Vec<&str>> = vec![
        vec![
            "-F",
            "getBackupJob",
            "-D",
            "_id=6508c1e2f1a9b3d4e5f606d9",
            "-O",
            "json",
        ],
        vec!["-F", "listBackupJobs", "-O", "json"],
        vec![
            "-F",
            "listBackupJobs",
            "-D",
            "limit=100&skip=0",
            "-O",
            "json",
        ],
        vec![
            "-F",
            "manageBackupJob",
            "-D",
            "_id=6508c1e2f1a9b3d4e5f606d9&action=modify&disabled=0",
            "-O",
            "json",
        ],
        vec![
            "-F",
            "listQueueGroups",
            "-D",
            "find[type]=1&sort[created]=-1",
            "-O",
            "json",
        ],
        vec![
            "-F",
            "listLogs",
            "-D",
            "find[type]=1&find[info.ID]=abc&sort[start_time]=-1&limit=5",
            "-O",
            "json",
        ],
        vec![
            "-F",
            "listLogs",
            "-D",
            "find[start_time]=2026-11-22T03:12:09",
            "-O",
            "json",
        ],
        vec!["-F", "getDestination", "-D", "_id=dest-01", "-O", "json"],
    ];
    argvs
        .into_iter()
        .map(|argv| {
            let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
            (crate_quoted(&argv), argv)
        })
        .collect()
}

/// `jetbackup5api ARGS...` as the openssh crate puts it on the wire: each word shell-escaped
/// (plain words bare, the rest single-quoted), joined by spaces.
fn crate_quoted(args: &[String]) -> String {
    std::iter::once("jetbackup5api")
        .chain(args.iter().map(String::as_str))
        .map(|w| shell_escape::unix::escape(w.into()).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The hostile corpus. `c` is the canary path each line tries to create (or read, or run).
fn hostile_corpus(c: &str) -> Vec<OsString> {
    let b = "jetbackup5api -F getBackupJob -D '_id=abc' -O json";
    let bare = "jetbackup5api -F getBackupJob -D _id=abc -O json";
    let mut s: Vec<String> = Vec::new();

    // Chaining.
    for sep in [";", "&&", "||", "|", "&", "\n", ";;", "|&"] {
        s.push(format!("{b}{sep}touch {c}"));
        s.push(format!("{b} {sep} touch {c}"));
        s.push(format!("touch {c} {sep} {b}"));
    }
    s.extend([
        format!("echo jbr-ping; touch {c}"),
        format!("echo jbr-ping && touch {c}"),
        format!("echo jbr-ping || touch {c}"),
        format!("echo jbr-ping | tee {c}"),
        format!("echo jbr-ping & touch {c}"),
        format!("echo jetbackup-remote-ok;touch {c}"),
        format!("jetbackup5api -F getBackupJob -D '_id=abc;touch {c}' -O json"),
        format!("jetbackup5api -F getBackupJob -D _id=abc;touch {c}"),
        format!("jetbackup5api -F getBackupJob;touch {c}"),
        format!("jetbackup5api -F getBackupJob -O json;touch {c}"),
        format!("jetbackup5api -F getBackupJob -D \"_id=abc\" && touch {c}"),
        format!("jetbackup5api -F getBackupJob -D '_id=abc' | sh -c 'touch {c}'"),
        format!("({b}); touch {c}"),
        format!("{{ {b}; touch {c}; }}"),
    ]);

    // Substitution.
    s.extend([
        format!("jetbackup5api -F $(touch {c})"),
        format!("jetbackup5api -F getBackupJob -D \"_id=$(touch {c})\""),
        format!("jetbackup5api -F getBackupJob -D '_id=$(touch {c})'"),
        format!("jetbackup5api -F getBackupJob -D _id=$(touch {c})"),
        format!("jetbackup5api -F getBackupJob -D _id=`touch {c}`"),
        format!("jetbackup5api -F getBackupJob -D \"_id=`touch {c}`\""),
        format!("jetbackup5api -F getBackupJob -O $(touch {c})"),
        format!("jetbackup5api -F get$(touch {c})BackupJob"),
        format!("echo $(touch {c})"),
        format!("echo `touch {c}`"),
        format!("$(touch {c})"),
        format!("`touch {c}`"),
        "jetbackup5api -F getBackupJob -D \"_id=$((1+1))\"".to_string(),
        format!("jetbackup5api -F getBackupJob -D <(touch {c})"),
        format!("jetbackup5api -F getBackupJob -D >(touch {c})"),
        "jetbackup5api -F getBackupJob -D \"$(printf _id=abc)\"".to_string(),
        format!("jetbackup5api -F \"$(echo getBackupJob)\" -D _id=abc; touch {c}"),
        "jetbackup5api -F getBackupJob -D _id=${PWD}".to_string(),
        "jetbackup5api -F getBackupJob -D \"_id=${HOME:-x}\"".to_string(),
    ]);

    // Redirection.
    for r in [">", ">>", "2>", "1>", ">|", "&>", "<>", "2>&1 >"] {
        s.push(format!("{b} {r} {c}"));
        s.push(format!("{bare}{r}{c}"));
    }
    s.extend([
        format!("echo jbr-ping > {c}"),
        format!("echo jbr-ping>{c}"),
        format!("echo jetbackup-remote-ok >>{c}"),
        format!("{b} < /etc/shadow"),
        format!("{b} <<< x"),
        format!("jetbackup5api -F getBackupJob -D _id=abc>{c} -O json"),
        format!("jetbackup5api -F getBackupJob -D '_id=abc>{c}'"),
        format!("jetbackup5api -F getBackupJob -D \"_id=abc\">{c}"),
    ]);

    // Globbing.
    s.extend([
        "jetbackup5api -F get*".to_string(),
        "jetbackup5api -F getBackupJo?".to_string(),
        "jetbackup5api -F [g]etBackupJob".to_string(),
        "jetbackup5api -F getBackupJob -D '_id=*'".to_string(),
        "jetbackup5api -F getBackupJob -D _id=*".to_string(),
        "jetbackup5api -F getBackupJob -D _id=ab?".to_string(),
        "jetbackup5api -F getBackupJob -D 'find[type]=1*'".to_string(),
        "jetbackup5api -F getBackupJob -O js*".to_string(),
        "jetbackup5api -F getBackupJob -O j[s]on".to_string(),
        "/usr/bin/jetbackup5ap?".to_string(),
        format!("/???/???/touch {c}"),
        "echo *".to_string(),
        "echo jbr-pin?".to_string(),
        "jetbackup5api -F getBackupJob -D /etc/*".to_string(),
        "jetbackup5api -F getBackupJob -D _id=[!a]".to_string(),
    ]);

    // Environment and IFS tricks.
    s.extend([
        "IFS=x jetbackup5api -F getBackupJob".to_string(),
        "IFS=- jetbackup5api xF getBackupJob".to_string(),
        "PATH=/tmp jetbackup5api -F getBackupJob".to_string(),
        "LD_PRELOAD=/tmp/x.so jetbackup5api -F getBackupJob".to_string(),
        format!("BASH_ENV={c} jetbackup5api -F listLogs"),
        format!("ENV={c} sh"),
        "env jetbackup5api -F getBackupJob".to_string(),
        format!("env -i touch {c}"),
        "jetbackup5api${IFS}-F${IFS}getBackupJob".to_string(),
        "jetbackup5api$IFS-F$IFS getBackupJob".to_string(),
        "$IFS".to_string(),
        "jetbackup5api -F getBackupJob -D _id=$HOME".to_string(),
        "jetbackup5api -F getBackupJob -D _id=${IFS}".to_string(),
        format!("export PATH=/tmp; {b}"),
        format!("set -e; {b}"),
        format!("jetbackup5api -F getBackupJob -D _id=abc LD_PRELOAD={c}"),
        "jetbackup5api -F getBackupJob -D _id=$SSH_ORIGINAL_COMMAND".to_string(),
        "$SSH_ORIGINAL_COMMAND".to_string(),
    ]);

    // Quotes and escapes.
    s.extend([
        "jetbackup5api -F getBackupJob -D '_id=abc".to_string(),
        "jetbackup5api -F getBackupJob -D _id=abc'".to_string(),
        "jetbackup5api -F getBackupJob -D \"_id=abc'".to_string(),
        "jetbackup5api -F getBackupJob -D '_id=abc\"".to_string(),
        "'jetbackup5api' -F getBackupJob".to_string(),
        "\"jetbackup5api\" -F getBackupJob".to_string(),
        "jetbackup5api -F 'getBackupJob'".to_string(),
        "jetbackup5api '-F' getBackupJob".to_string(),
        "jetbackup5api -F get\\BackupJob".to_string(),
        "\\jetbackup5api -F getBackupJob".to_string(),
        "jetbackup5api -F getBackupJob -D '_id=a'\\''b'".to_string(),
        "jetbackup5api -F getBackupJob -D \"_id=a\\\"b\"".to_string(),
        "jetbackup5api -F getBackupJob -D ''".to_string(),
        "jetbackup5api -F getBackupJob -D \"\"".to_string(),
        "jetbackup5api -F getBackupJob -D '_id=abc' -O 'json'".to_string(),
        "jetbackup5api -F getBackupJob -D '_id=abc''&x=1'".to_string(),
        "jetbackup5api -F getBackupJob -D '_id=abc'\"&x=1\"".to_string(),
        "jetbackup5api -F getBackupJob -D $'_id=abc'".to_string(),
        "jetbackup5api -F getBackupJob -D $\"_id=abc\"".to_string(),
        format!("jetbackup5api -F getBackupJob -D _id=abc\\;touch {c}"),
        "jetbackup5api -F getBackupJob -D '_id=abc' -O json '".to_string(),
        "jetbackup5api -F getBackupJob -D ''_id=abc''".to_string(),
        "jetbackup5api -F getBackupJob -D '\"_id=abc\"'".to_string(),
        format!("jetbackup5api -F getBackupJob -D '_id=abc' '; touch {c}'"),
        "jetbackup5api -F getBackupJob -D \\'_id=abc\\'".to_string(),
    ]);

    // Brace expansion.
    s.extend([
        "jetbackup5api -F {getBackupJob,clearQueue}".to_string(),
        format!("{{touch,{c}}}"),
        "jetbackup5api -F getBackupJob -D _id={a,b}".to_string(),
        "jetbackup5api -F getBackupJob -D 'a={b}'".to_string(),
        "echo jbr-{ping,x}".to_string(),
        "{jetbackup5api,-F,getBackupJob}".to_string(),
        "jetbackup5api -F getBackupJob -D _id={1..3}".to_string(),
        "jetbackup5api -F get{Backup,}Job".to_string(),
    ]);

    // Here-documents.
    s.extend([
        format!("jetbackup5api -F getBackupJob <<EOF\ntouch {c}\nEOF"),
        format!("cat <<EOF > {c}\nx\nEOF"),
        format!("sh <<EOF\ntouch {c}\nEOF"),
        format!("{b} <<-EOF\n\ttouch {c}\nEOF"),
        "jetbackup5api -F getBackupJob <<'EOF'".to_string(),
    ]);

    // Path tricks.
    s.extend([
        "/usr/bin/jetbackup5api -F getBackupJob".to_string(),
        "/usr/local/bin/jetbackup5api -F getBackupJob -D _id=abc -O json".to_string(),
        "./jetbackup5api -F getBackupJob".to_string(),
        "../jetbackup5api -F getBackupJob".to_string(),
        format!("../../bin/sh -c 'touch {c}'"),
        "bin/jetbackup5api -F getBackupJob".to_string(),
        "jetbackup5api/../sh".to_string(),
        "~/jetbackup5api -F getBackupJob".to_string(),
        "~root/jetbackup5api -F getBackupJob".to_string(),
        "jetbackup5api -F ../getBackupJob".to_string(),
        "jetbackup5api -F getBackupJob -D _id=../../etc/passwd".to_string(),
        "jetbackup5api -F getBackupJob -D @/etc/shadow".to_string(),
        "jetbackup5api -F /bin/sh".to_string(),
        "jetbackup5api -F getBackupJob -O /tmp/out".to_string(),
        "/bin/jetbackup5api -F getBackupJob".to_string(),
    ]);

    // Disallowed programs, functions, flags and shapes.
    s.extend(
        [
            "jetbackup5api -F clearQueue",
            "jetbackup5api -F clearQueue -O json",
            "jetbackup5api -F deleteBackupJob -D _id=abc -O json",
            "jetbackup5api -F addDestination",
            "jetbackup5api -F deleteDestination -D _id=abc",
            "jetbackup5api -F manageAccount",
            "jetbackup5api -F restoreAccount",
            "jetbackup5api -F getbackupjob",
            "jetbackup5api -F GETBACKUPJOB",
            "jetbackup5api -F getBackupJobs",
            "jetbackup5api -F getBackupJobX",
            "jetbackup5api -F XgetBackupJob",
            "jetbackup5api -F getBackupJob -F clearQueue",
            "jetbackup5api -F getBackupJob -X",
            "jetbackup5api -F getBackupJob -O xml",
            "jetbackup5api -F getBackupJob -O JSON",
            "jetbackup5api -F getBackupJob -O json -D _id=abc",
            "jetbackup5api -F getBackupJob -D _id=a -D _id=b",
            "jetbackup5api -F getBackupJob -O json -O json",
            "jetbackup5api",
            "jetbackup5api -h",
            "jetbackup5api --help",
            "jetbackup5api -F",
            "jetbackup5api -F ",
            "jetbackup5api -F getBackupJob -D",
            "jetbackup5api -F getBackupJob -O",
            "jetbackup5api -f getBackupJob",
            "jetbackup5api --function getBackupJob",
            "jetbackup5api -F  getBackupJob",
            " jetbackup5api -F getBackupJob",
            "jetbackup5api -F getBackupJob -O json ",
            "jetbackup5api -F getBackupJob -D =abc",
            "jetbackup5api -F getBackupJob -D _id",
            "jetbackup5api -F getBackupJob -D _id=a&&b=c",
            "jetbackup5api -F getBackupJob -D _id=a&",
            "jetbackup5api -F getBackupJob -D &_id=a",
            "jetbackup5api -F getBackupJob -D _id=a=b",
            "jetbackup5api -F getBackupJob -D 'find[type]=1 2'",
            "jetbackup5api -F getBackupJob -D 'a=b' extra",
            "jetbackup5api -F getBackupJob -D _id=a,b",
            "jetbackup5api -F getBackupJob -D _id=a+b",
            "jetbackup5api -F getBackupJob -D _id=a%20b",
            "jetbackup5api -F getBackupJob -D _id=a#b",
            "jetbackup5api -F getBackupJob # comment",
            "jetbackup5api -F getBackupJob -D find{type}=1",
            "jetbackup5api -F getBackupJob -D find(type)=1",
            "jetbackup5api -F getBackupJob -D -F=clearQueue",
            "jetbackup5api -F getBackupJob -D _id=a -O json -D _id=b",
            "JETBACKUP5API -F getBackupJob",
            "jetbackup5 -F getBackupJob",
            "jetbackup -F getBackupJob",
            "jetbackup5api2 -F getBackupJob",
            "echo jbr-pong",
            "echo",
            "echo ",
            "echo jbr-ping jbr-ping",
            "echo -e jbr-ping",
            "echo -n jbr-ping",
            "echo  jbr-ping",
            "echo jbr-ping ",
            "echo 'jbr-ping'",
            "echo \"jbr-ping\"",
            "echo 'jetbackup-remote-ok'",
            "echo \"jetbackup-remote-ok\" ",
            "echo \"jetbackup-remote-ok\";id",
            "echo \"jetbackup-remote-ok",
            "echo JBR-PING",
            "printf jbr-ping",
            "sh",
            "sh -i",
            "bash",
            "-sh",
            "exec sh",
            "eval jetbackup5api -F getBackupJob",
            "command jetbackup5api -F getBackupJob",
            "builtin echo jbr-ping",
            "nohup jetbackup5api -F getBackupJob",
            "timeout 10 jetbackup5api -F getBackupJob",
            "sudo jetbackup5api -F getBackupJob",
            "scp -t /tmp",
            "scp -f /etc/shadow",
            "rsync --server -vlogDtpre.iLsfxC . /tmp",
            "internal-sftp",
            "/usr/lib/openssh/sftp-server",
            "git-upload-pack '/root'",
            "",
            " ",
            "-F getBackupJob",
            "true",
            "exit 0",
            ":",
        ]
        .map(String::from),
    );
    s.extend([
        format!("bash -c 'touch {c}'"),
        format!("sh -c 'touch {c}'"),
        format!("/bin/sh -c \"touch {c}\""),
        format!("exec touch {c}"),
        format!("eval touch {c}"),
        format!("touch {c}"),
        format!("python3 -c 'open(\"{c}\",\"w\")'"),
        format!("perl -e 'open(F,\">{c}\")'"),
        format!("cp /etc/passwd {c}"),
    ]);

    // Unicode look-alikes: Cyrillic е/о, fullwidth forms, NBSP, zero-width, dashes, smart quotes.
    s.extend([
        "j\u{0435}tbackup5api -F getBackupJob".to_string(),
        "jetbackup5api -F getBackupJ\u{043e}b".to_string(),
        "jetbackup5api \u{ff0d}F getBackupJob".to_string(),
        "jetbackup5api \u{2212}F getBackupJob".to_string(),
        "jetbackup5api \u{2010}F getBackupJob".to_string(),
        format!("jetbackup5api -F getBackupJob\u{ff1b}touch {c}"),
        "jetbackup5api\u{00a0}-F getBackupJob".to_string(),
        "jetbackup5api -F getBackupJob\u{200b}".to_string(),
        "jetbackup5api -F getBackupJob -D \u{2018}_id=abc\u{2019}".to_string(),
        "jetbackup5api -F getBackupJob -D \u{201c}_id=abc\u{201d}".to_string(),
        "echo jbr\u{2010}ping".to_string(),
        "echo jbr-p\u{0456}ng".to_string(),
        "\u{ff4a}\u{ff45}\u{ff54}backup5api -F getBackupJob".to_string(),
        "jetbackup5api -F getBackupJob -D _id=\u{ff41}\u{ff42}\u{ff43}".to_string(),
        "jetbackup5api -F getBackupJob -D _id=abc\u{ff06}x=1".to_string(),
        "jetbackup5api -F getBackupJob -D _id=abc\u{ff1d}x".to_string(),
        "jetbackup5api\u{2028}-F getBackupJob".to_string(),
        "jetbackup5api -F getBackupJob\u{feff}".to_string(),
        "jetbackup5api -F getBackupJob -O js\u{043e}n".to_string(),
        "jetbackup\u{0665}api -F getBackupJob".to_string(),
    ]);

    // Very long input.
    s.extend([
        format!(
            "jetbackup5api -F getBackupJob -D '_id={}'",
            "a".repeat(5000)
        ),
        format!(
            "jetbackup5api -F listLogs -D '{}'",
            vec!["k=v"; 2000].join("&")
        ),
        format!("echo jbr-ping{}", " ".repeat(5000)),
        format!("{b}{}", ";".repeat(100_000)),
        format!("jetbackup5api -F {}", "getBackupJob".repeat(1000)),
    ]);

    // Newlines and other control characters.
    s.extend([
        format!("echo jbr-ping\ntouch {c}"),
        format!("{b}\ntouch {c}"),
        format!("{b}\rtouch {c}"),
        format!("{b}\n"),
        format!("\n{b}"),
        format!("{b}\r"),
        "echo jbr-ping\r".to_string(),
        "jetbackup5api\t-F\tgetBackupJob".to_string(),
        "jetbackup5api -F getBackupJob\x0b".to_string(),
        format!("{b}\x1b[2J"),
        format!("{b}\x7f"),
        "\x08\x08\x08echo jbr-ping".to_string(),
        format!("{b}\x0c"),
        format!("jetbackup5api -F getBackupJob -D '_id=abc\ntouch {c}'"),
    ]);

    let mut out: Vec<OsString> = s.into_iter().map(OsString::from).collect();
    // Bytes that are not UTF-8 at all.
    for raw in [
        &b"jetbackup5api -F getBackupJob -D _id=\xff"[..],
        &b"jet\xc0\xafbackup5api -F getBackupJob"[..],
        &b"jetbackup5api -F getBackupJob -D _id=abc\xc0\xbbtouch x"[..],
        &b"\xef\xbb\xbfjetbackup5api -F getBackupJob"[..],
    ] {
        out.push(OsString::from_vec(raw.to_vec()));
    }
    out
}

fn printable(s: &OsStr) -> String {
    s.as_bytes()
        .iter()
        .take(120)
        .map(|&b| {
            if (0x20..0x7f).contains(&b) {
                (b as char).to_string()
            } else {
                format!("\\x{b:02x}")
            }
        })
        .collect()
}

fn canary_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix("jbr-gate-canary-")
        .tempdir()
        .expect("tempdir");
    support::gate::open_dir(dir.path(), 0o777);
    let canary = dir.path().join("pwned");
    (dir, canary)
}

/// Run every hostile line through the gate under `shell`; one message per line not cleanly denied.
fn deny_all(shell: &[String]) -> Vec<String> {
    let work = tempfile::tempdir().expect("tempdir");
    let fake = FakeApi::new(work.path(), "");
    let (_cdir, canary) = canary_dir();
    let mut failures = Vec::new();
    for cmd in &hostile_corpus(&canary.display().to_string()) {
        fake.clear();
        let r = run_gate(shell, &fake, Some(cmd));
        let lines: Vec<&str> = r.stderr.lines().collect();
        let mut why = Vec::new();
        if r.status != Some(1) {
            why.push(format!("exit {:?}", r.status));
        }
        if !r.stdout.is_empty() {
            why.push(format!("stdout {:?}", r.stdout));
        }
        if lines.len() != 1 || !lines[0].starts_with("jbr-gate: denied: ") {
            why.push(format!("stderr {:?}", r.stderr));
        }
        if canary.exists() {
            why.push("CANARY CREATED".into());
            let _ = std::fs::remove_file(&canary);
        }
        if !fake.calls().is_empty() {
            why.push(format!("jetbackup5api RAN: {:?}", fake.calls()));
        }
        let syslog = fake.syslog();
        if syslog.len() != 1
            || !syslog[0].starts_with("-t jbr-gate -p auth.warning -- denied: ")
            || !syslog[0].bytes().all(|b| (0x20..0x7f).contains(&b))
        {
            why.push(format!("syslog {syslog:?}"));
        }
        if !why.is_empty() {
            let shown = printable(cmd);
            failures.push(format!(
                "[{}] {shown:?}: {}",
                shell.join(" "),
                why.join("; ")
            ));
        }
    }
    failures
}

#[test]
fn hostile_corpus_is_denied_and_runs_nothing() {
    let corpus = hostile_corpus("/tmp/jbr-canary");
    assert!(
        corpus.len() >= 150,
        "corpus has only {} lines",
        corpus.len()
    );
    let shells = shells();
    // One thread per shell, each with its own fake and canary.
    let failures: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = shells
            .iter()
            .map(|shell| scope.spawn(move || deny_all(shell)))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("shell thread"))
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} of {} hostile lines x {} shells were not cleanly denied:\n{}",
        failures.len(),
        corpus.len(),
        shells.len(),
        failures.join("\n")
    );
}

fn assert_passes(shell: &[String], fake: &FakeApi, line: &str, argv: &[String]) -> Option<String> {
    fake.clear();
    let r = run_gate(shell, fake, Some(OsStr::new(line)));
    let want: String = argv.iter().map(|a| format!("[{a}]")).collect();
    let mut why = Vec::new();
    if r.status != Some(0) {
        why.push(format!("exit {:?}", r.status));
    }
    if !r.stderr.is_empty() {
        why.push(format!("stderr {:?}", r.stderr));
    }
    if r.stdout != format!("argv:{want}\n") {
        why.push(format!("stdout {:?}", r.stdout));
    }
    if fake.argvs() != vec![want.clone()] {
        why.push(format!("recorded {:?}, wanted {want}", fake.argvs()));
    }
    if !fake.syslog().is_empty() {
        why.push(format!("syslog {:?}", fake.syslog()));
    }
    (!why.is_empty()).then(|| format!("[{}] {line:?}: {}", shell.join(" "), why.join("; ")))
}

#[test]
fn every_legit_form_passes_with_exact_argv() {
    let forms = legit_forms();
    assert!(forms.len() > 100);
    let failures = pass_all(&forms);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Each line of `forms` under every shell: one message per line that did not pass with its argv.
fn pass_all(forms: &[(String, Vec<String>)]) -> Vec<String> {
    let work = tempfile::tempdir().expect("tempdir");
    let fake = FakeApi::new(work.path(), "");
    let mut failures = Vec::new();
    for shell in shells() {
        for (line, argv) in forms {
            failures.extend(assert_passes(&shell, &fake, line, argv));
        }
    }
    failures
}

#[test]
fn every_form_the_openssh_crate_sends_passes() {
    let forms = crate_quoted_forms();
    // The crate leaves plain words bare and single-quotes the rest: both shapes are covered.
    assert!(forms.iter().any(|(l, _)| l.contains(" -D _id=")));
    assert!(forms.iter().any(|(l, _)| l.contains(" -D 'find[type]=1")));
    let failures = pass_all(&forms);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn pings_answer_without_running_anything() {
    let work = tempfile::tempdir().expect("tempdir");
    let fake = FakeApi::new(work.path(), "");
    for shell in shells() {
        // The older tool sends its check with the quotes: a shell would print the bare word.
        for (line, word) in [
            ("echo jbr-ping", "jbr-ping"),
            ("echo jetbackup-remote-ok", "jetbackup-remote-ok"),
            ("echo \"jetbackup-remote-ok\"", "jetbackup-remote-ok"),
        ] {
            fake.clear();
            let r = run_gate(&shell, &fake, Some(OsStr::new(line)));
            assert_eq!(r.status, Some(0), "{shell:?} {line}: {}", r.stderr);
            assert_eq!(r.stdout, format!("{word}\n"));
            assert_eq!(r.stderr, "");
            assert!(fake.calls().is_empty());
        }
    }
}

#[test]
fn denials_say_why_in_one_line() {
    let work = tempfile::tempdir().expect("tempdir");
    let fake = FakeApi::new(work.path(), "");
    let shell = vec!["/bin/sh".to_string()];
    let cases: [(Option<&str>, &str); 7] = [
        (
            None,
            "jbr-gate: denied: no command given (interactive logins are not allowed)\n",
        ),
        (
            Some("jetbackup5api -F clearQueue"),
            "jbr-gate: denied: function \"clearQueue\" is not allowed\n",
        ),
        (
            Some("rm -rf /"),
            "jbr-gate: denied: only jetbackup5api and echo are allowed\n",
        ),
        (
            Some("echo hi"),
            "jbr-gate: denied: echo may only print jbr-ping or jetbackup-remote-ok\n",
        ),
        (
            Some("echo jbr-ping\nid"),
            "jbr-gate: denied: control character or newline in command\n",
        ),
        (
            Some("jеtbackup5api -F getLog"),
            "jbr-gate: denied: non-ASCII byte in command\n",
        ),
        (
            Some("jetbackup5api -F getLog -D _id=a;id"),
            "jbr-gate: denied: arguments do not match: jetbackup5api -F FUNCTION [-D 'k=v&k=v'] [-O json|plain]\n",
        ),
    ];
    for (cmd, want) in cases {
        fake.clear();
        let r = run_gate(&shell, &fake, cmd.map(OsStr::new));
        assert_eq!((r.status, r.stderr.as_str()), (Some(1), want), "{cmd:?}");
    }
    // The syslog line carries the (sanitised) command and the client address for the audit trail.
    fake.clear();
    run_gate(&shell, &fake, Some(OsStr::new("echo jbr-ping\n; id")));
    assert_eq!(
        fake.syslog(),
        vec![
            "-t jbr-gate -p auth.warning -- denied: control character or newline in command; \
             from 127.0.0.1; command: echo jbr-ping?; id"
        ]
    );
}

#[test]
fn missing_jetbackup5api_fails_without_a_shell_fallback() {
    let work = tempfile::tempdir().expect("tempdir");
    let fake = FakeApi::new(work.path(), "");
    std::fs::remove_file(fake.bin_dir.join("jetbackup5api")).expect("remove fake");
    let mut c = Command::new("/bin/sh");
    c.arg(gate_path())
        .env_clear()
        .env("PATH", format!("{}:/usr/bin:/bin", fake.bin_dir.display()))
        .env("SSH_ORIGINAL_COMMAND", "jetbackup5api -F listLogs -O json");
    let out = output_within(&mut c, Duration::from_secs(10)).expect("run gate");
    // 127 is what the openssh crate reports as "remote command not found".
    assert_eq!(out.status.code(), Some(127));
    assert!(out.stdout.is_empty());
}

#[test]
fn without_grep_everything_is_denied() {
    // Fail closed: a PATH without grep must not turn the grammar check into a pass.
    let work = tempfile::tempdir().expect("tempdir");
    let fake = FakeApi::new(work.path(), "");
    let mut c = Command::new("/bin/sh");
    c.arg(gate_path())
        .env_clear()
        .env("PATH", fake.bin_dir.as_os_str())
        .env("SSH_ORIGINAL_COMMAND", "jetbackup5api -F listLogs -O json");
    let out = output_within(&mut c, Duration::from_secs(10)).expect("run gate");
    assert_eq!(out.status.code(), Some(1));
    assert!(fake.calls().is_empty());
}

#[test]
fn gate_is_shellcheck_clean() {
    if Command::new("shellcheck")
        .arg("--version")
        .output()
        .is_err()
    {
        if std::env::var("JBR_REQUIRE_SSHD").as_deref() == Ok("1") {
            panic!("shellcheck is missing but JBR_REQUIRE_SSHD=1 (scripts/test installs it)");
        }
        eprintln!("SKIP gate_is_shellcheck_clean: shellcheck is not installed");
        return;
    }
    let out = Command::new("shellcheck")
        .args(["--shell=sh", "--severity=style"])
        .arg(gate_path())
        .output()
        .expect("run shellcheck");
    assert!(
        out.status.success(),
        "shellcheck:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// A subset through a real sshd, with the gate as the forced command of the key.
#[test]
fn gate_through_real_sshd() {
    if skip_without_sshd("gate_through_real_sshd") {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let fake = FakeApi::new(work.path(), "");
    let sshd = Sshd::start(&fake.bin_dir);
    let (_cdir, canary) = canary_dir();
    let c = canary.display().to_string();

    let ssh =
        |line: &str| output_within(&mut sshd.ssh(line), Duration::from_secs(20)).expect("run ssh");

    for (line, argv) in legit_forms()
        .iter()
        .step_by(9)
        .chain(crate_quoted_forms().iter())
    {
        fake.clear();
        let out = ssh(line);
        let want: String = argv.iter().map(|a| format!("[{a}]")).collect();
        assert_eq!(
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).into_owned()
            ),
            (Some(0), String::new()),
            "{line}"
        );
        assert_eq!(fake.argvs(), vec![want], "{line}");
        assert!(
            fake.calls()[0].contains("conn=127.0.0.1 "),
            "{:?}",
            fake.calls()
        );
    }

    let out = ssh("echo jbr-ping");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "jbr-ping\n");

    let hostile = [
        format!("jetbackup5api -F getBackupJob -D '_id=abc'; touch {c}"),
        format!("jetbackup5api -F getBackupJob -D \"_id=$(touch {c})\""),
        format!("jetbackup5api -F getBackupJob -D _id=`touch {c}`"),
        format!("echo jbr-ping > {c}"),
        format!("echo jbr-ping\ntouch {c}"),
        format!("sh -c 'touch {c}'"),
        "/usr/bin/jetbackup5api -F getBackupJob".to_string(),
        "jetbackup5api -F clearQueue".to_string(),
        "jetbackup5api -F get*".to_string(),
        "j\u{0435}tbackup5api -F getBackupJob".to_string(),
        format!(
            "jetbackup5api -F getBackupJob -D '_id={}'",
            "a".repeat(5000)
        ),
        "internal-sftp".to_string(),
        String::new(),
    ];
    for line in &hostile {
        fake.clear();
        let out = ssh(line);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{line:?}: {stderr}");
        assert!(
            stderr.starts_with("jbr-gate: denied: "),
            "{line:?}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{line:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{line:?}");
        assert!(!canary.exists(), "{line:?} created the canary");
        assert!(fake.calls().is_empty(), "{line:?} ran jetbackup5api");
    }
}

/// jbr's own grammar check (`jbr::api::build_argv`) and the gate agree on random calls: what
/// jbr would send, quoted as the openssh crate quotes it, passes with exactly that argv; what
/// jbr refuses to send is denied by the gate and runs nothing. Random keys and values mix the
/// grammar's characters with the ones it excludes (spaces, quotes, `$`, `;`, `&`, `=`, `%`,
/// backslashes, newlines, globs, non-ASCII).
#[test]
fn jbr_and_the_gate_agree_on_random_calls() {
    const GRAMMAR_KEY: &[u8] = b"abcdefxyzABCXYZ0123456789_.[]";
    const GRAMMAR_VALUE: &[u8] = b"abcdef0123456789ABCXYZ_.:-";
    const OUTSIDE: &[&str] = &[
        " ", "'", "\"", "$", ";", "&", "=", "%", "\\", "\n", "*", "?", "`", "|", "<", ">", "(",
        ")", "{", "}", "~", "#", "!", ",", "/", "+", "@", "\t", "é", "\u{ff1b}",
    ];
    fn word(rng: &mut Rng, alphabet: &[u8], min: usize, tainted: bool) -> String {
        let len = min + rng.below(12);
        let mut w: String = (0..len).map(|_| char::from(*rng.pick(alphabet))).collect();
        if tainted {
            let at = rng.below(w.len() + 1);
            let extra: &str = rng.pick::<&str>(OUTSIDE);
            w.insert_str(at, extra);
        }
        w
    }

    let seed = 0x6a62_7267_6174_6521_u64;
    let mut rng = Rng(seed);
    let work = tempfile::tempdir().expect("tempdir");
    let fake = FakeApi::new(work.path(), "");
    let shell = vec!["/bin/sh".to_string()];
    let (mut sent, mut refused) = (0, 0);
    let mut failures = Vec::new();
    for case in 0..600 {
        let function = *rng.pick(&functions());
        let pairs: Vec<(String, String)> = (0..rng.below(4))
            .map(|_| {
                // About one call in three carries one character from outside the grammar.
                let taint = rng.below(6);
                (
                    word(&mut rng, GRAMMAR_KEY, 1, taint == 0),
                    word(&mut rng, GRAMMAR_VALUE, 0, taint == 1),
                )
            })
            .collect();
        let params: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let built = jbr::api::build_argv("web-01", function, &params);
        // The words jbr would hand to ssh, built by hand so a refused call has a line too.
        let mut argv = vec!["-F".to_string(), function.to_string()];
        if !params.is_empty() {
            let data: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
            argv.extend(["-D".to_string(), data.join("&")]);
        }
        argv.extend(["-O".to_string(), "json".to_string()]);
        let line = crate_quoted(&argv);
        match built {
            Ok(jbr_argv) => {
                sent += 1;
                assert_eq!(jbr_argv[1..], argv[..], "case {case}");
                failures.extend(
                    assert_passes(&shell, &fake, &line, &argv)
                        .map(|f| format!("case {case} (seed {seed:#x}), jbr sends it: {f}")),
                );
            }
            Err(_) => {
                refused += 1;
                fake.clear();
                let r = run_gate(&shell, &fake, Some(OsStr::new(&line)));
                if r.status != Some(1)
                    || !r.stderr.starts_with("jbr-gate: denied: ")
                    || !fake.calls().is_empty()
                {
                    failures.push(format!(
                        "case {case} (seed {seed:#x}), jbr refuses it but the gate did not deny \
                         {line:?}: exit {:?}, stderr {:?}, ran {:?}",
                        r.status,
                        r.stderr,
                        fake.calls()
                    ));
                }
            }
        }
    }
    assert!(
        sent > 150 && refused > 150,
        "sent {sent}, refused {refused}"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The gate (shell), jbr's contract module and this test's own statement list the same
/// functions, in the same order: a function added to one and not the others is caught here.
#[test]
fn the_gate_and_the_contract_module_allow_the_same_functions() {
    let script = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/server/jbr-gate"))
        .expect("read server/jbr-gate");
    let line = script
        .lines()
        .find_map(|l| l.strip_prefix("FUNCTIONS='"))
        .expect("a FUNCTIONS='…' line in server/jbr-gate");
    let gate: Vec<&str> = line.trim_end_matches('\'').split('|').collect();
    assert_eq!(gate, jbr::contract::ALLOWED_FUNCTIONS);
    assert_eq!(functions(), jbr::contract::ALLOWED_FUNCTIONS);
}
