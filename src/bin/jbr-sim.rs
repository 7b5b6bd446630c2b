//! `jbr-sim`: behaves like `jetbackup5api` over a simulated server whose state lives in
//! `$JBR_SIM_STATE`, so tests can put it behind a real sshd (symlinked as `jetbackup5api`) or
//! call it through a local argv prefix. Wall-clock time; state saved after every call.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use jbr::sim::{Step, World, default_world, handle, max_concurrent, wall_clock};

const HELP: &str = "\
jbr-sim: a simulated JetBackup 5 `jetbackup5api`, for tests and demos.

USAGE:
  jbr-sim -F FUNCTION [-D 'k1=v1&k2=v2'] [-O json|plain]   answer like jetbackup5api
  jbr-sim jetbackup5api -F FUNCTION ...                   the same (for argv prefixes)
  jbr-sim --dump                                          print state, timeline, final state (JSON)
  jbr-sim --init FILE.json                                replace the state with FILE (a saved World)
  jbr-sim soak --nights N --seed S [-v] [--threads T]
                                                          seeded simulated nights of the real
                                                          orchestrator (see SOAK below)
  jbr-sim --help

ENVIRONMENT:
  JBR_SIM_STATE   (required) JSON state file, created on first use with one server \"sim\": a
                  disabled NAS destination 6a5e0700000000000000a001 and three disabled jobs
                  6a5e0700000000000000b001..b003 (2, 3, 4 s) targeting it. A sibling
                  FILE.lock serializes concurrent calls (flock).
  JBR_SIM_SERVER  which server of the state answers (default: the first by name). Several
                  servers in one state share one timeline, so `--dump` shows whether two ever
                  wrote at once.

STATE FILE: the serde form of jbr::sim::World (servers → settings, destinations, jobs, groups,
faults, calls). Build one in a test with `SimWorld::builder()...build_state()` and
`serde_json::to_writer`, then `jbr-sim --init FILE` (or write it to $JBR_SIM_STATE directly).
Settings per server: startup_delay, abort_delay, fail_fast (seconds), status_family
(research|older_tool), flag_style (mixed|int|bool|string|null_missing), list_order
(oldest_first|newest_first), log_order (null: honour sort[start_time], or oldest_first|
newest_first), manual_log_type (1, or 6 \"backup on demand\"), group_log_id (true|false),
processing_code (2, or a sub-status such as 30), destination_state_fn (works|absent|ignored),
disabled_trigger_reply (empty|job_object), exposure (seconds or null), list_cap, version.

SOAK: night i is generated from seed S+i alone: 1-12 servers with 1-6 jobs, random durations
and outcomes, every API variant (flag styles, group and log orders, log types, missing log_id,
status families, sub-status 30, manageDestinationState absent), yesterday's groups and logs,
faults (garbage, success 0, exit codes, stalls past call_timeout, dropped connections, a server
down for a while or for good), the servers' own schedulers, a foreign backup at the start, a
destination disabled by someone else, a job disabled behind jbr's back, and a crash at a random
call (then a restart on the same journal) or SIGTERM. The real orchestrator plays each night on
a simulated clock; the invariants are checked on the simulator's ground truth: one NAS writer,
nothing left enabled or running and the journal empty, the record true to each group (status,
items, log), the exit code true to the record, every backup followed or reported, no job
triggered twice unsaid, no call outside the contract's grammar. Each violation prints its seed
and a replay command; the last line is `N nights, V violations` (exit 1 when V > 0). -v tells
each night in full (fleet, faults, calls, reports, truth); the same seed, the same story.
--threads defaults to the number of CPUs.

EXIT STATUS: as jetbackup5api: 0 for every answered call, even success: 0 and unknown
functions; non-zero for usage errors, state-file errors and injected exit faults.
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("jbr-sim: {e}");
            ExitCode::from(1)
        }
    }
}

/// `jbr-sim soak --nights N --seed S [-v] [--threads T]`.
fn soak(args: &[String]) -> Result<ExitCode, String> {
    let mut nights = 100u64;
    let mut seed = 1u64;
    let mut verbose = false;
    let mut threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut number = |name: &str| -> Result<u64, String> {
            let v = it.next().ok_or(format!("soak: {name} needs a number"))?;
            v.parse::<u64>()
                .map_err(|_| format!("soak: {name} {v:?} is not a whole number"))
        };
        match flag.as_str() {
            "--nights" => nights = number("--nights")?,
            "--seed" => seed = number("--seed")?,
            "--threads" => threads = number("--threads")?.max(1) as usize,
            "-v" | "--verbose" => verbose = true,
            "-h" | "--help" => {
                print!("{HELP}");
                return Ok(ExitCode::SUCCESS);
            }
            other => return Err(format!("soak: unknown argument {other:?} (see --help)")),
        }
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let violations = jbr::soak::run(nights, seed, verbose, threads, &mut out);
    Ok(if violations == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn run(args: &[String]) -> Result<ExitCode, String> {
    // A local argv prefix (`env JBR_SIM_STATE=… jbr-sim`) may be followed by the whole remote
    // argv, program name included: accept `jbr-sim jetbackup5api -F …` too.
    let args = match args.first() {
        Some(first) if first == "jetbackup5api" || first.ends_with("/jetbackup5api") => &args[1..],
        _ => args,
    };
    if args.is_empty() || args[0] == "--help" || args[0] == "-h" {
        print!("{HELP}");
        return Ok(ExitCode::SUCCESS);
    }
    if args[0] == "soak" {
        return soak(&args[1..]);
    }
    let state_path = std::env::var_os("JBR_SIM_STATE")
        .map(PathBuf::from)
        .ok_or("JBR_SIM_STATE is not set (the simulator's state file; see --help)")?;
    let state = StateFile::new(state_path);
    match args[0].as_str() {
        "--dump" => {
            let dump = state.with(|world| {
                let now = wall_clock();
                world.advance_all(now);
                let timeline = world.timeline();
                serde_json::json!({
                    "now": now,
                    "max_concurrent_writers": max_concurrent(&timeline),
                    "final_state": world.final_state(),
                    "timeline": timeline,
                    "world": world,
                })
            })?;
            println!(
                "{}",
                serde_json::to_string_pretty(&dump).map_err(|e| e.to_string())?
            );
            Ok(ExitCode::SUCCESS)
        }
        "--init" => {
            let file = args.get(1).ok_or("--init needs a FILE.json")?;
            let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
            let new: World = serde_json::from_str(&text)
                .map_err(|e| format!("{file}: not a simulator state: {e}"))?;
            state.with(|world| *world = new)?;
            Ok(ExitCode::SUCCESS)
        }
        _ => api_call(&state, args),
    }
}

fn api_call(state: &StateFile, args: &[String]) -> Result<ExitCode, String> {
    let wanted = std::env::var("JBR_SIM_SERVER").ok();
    let mut after_stall = false;
    loop {
        let step = state.with(|world| {
            let server = match &wanted {
                Some(s) => s.clone(),
                None => world.servers.keys().next().cloned().unwrap_or_default(),
            };
            handle(world, &server, args, wall_clock(), after_stall)
        })?;
        match step {
            Step::Done(out) => return Ok(emit(&out)),
            Step::Late(secs, out) => {
                std::thread::sleep(std::time::Duration::from_secs_f64(secs.max(0.0)));
                return Ok(emit(&out));
            }
            Step::Disconnect => {
                eprintln!("Connection to server closed by remote host.");
                return Ok(ExitCode::from(255));
            }
            // The lock is released while stalling, as a slow real server would not block others.
            Step::StallThen(secs) => {
                std::thread::sleep(std::time::Duration::from_secs_f64(secs.max(0.0)));
                after_stall = true;
            }
        }
    }
}

fn emit(out: &jbr::transport::RawOutput) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    // A closed pipe on our side is the caller's business, not an API answer.
    let _ = stdout.write_all(&out.stdout).and_then(|()| stdout.flush());
    let _ = stderr.write_all(&out.stderr);
    ExitCode::from(out.status.unwrap_or(1).clamp(0, 255) as u8)
}

/// The state file, guarded by an exclusive flock on `FILE.lock` and replaced atomically
/// (temp file + fsync + rename), so concurrent `jbr-sim` processes see whole states only.
struct StateFile {
    path: PathBuf,
}

impl StateFile {
    fn new(path: PathBuf) -> StateFile {
        StateFile { path }
    }

    fn sibling(&self, suffix: &str) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(suffix);
        self.path.with_file_name(name)
    }

    fn with<R>(&self, f: impl FnOnce(&mut World) -> R) -> Result<R, String> {
        let shown = self.path.display();
        let lock_path = self.sibling(".lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| format!("{}: {e}", lock_path.display()))?;
        lock.lock()
            .map_err(|e| format!("{}: lock: {e}", lock_path.display()))?;
        let mut world = match std::fs::read_to_string(&self.path) {
            Ok(text) if !text.trim().is_empty() => serde_json::from_str(&text)
                .map_err(|e| format!("{shown}: not a simulator state: {e}"))?,
            Ok(_) => default_world(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => default_world(),
            Err(e) => return Err(format!("{shown}: {e}")),
        };
        let result = f(&mut world);
        let text = serde_json::to_vec_pretty(&world).map_err(|e| e.to_string())?;
        write_atomically(&self.path, &self.sibling(".tmp"), &text)
            .map_err(|e| format!("{shown}: {e}"))?;
        drop(lock);
        Ok(result)
    }
}

fn write_atomically(path: &Path, tmp: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = File::create(tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(tmp, path)
}
