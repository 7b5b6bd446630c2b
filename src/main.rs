//! A thin main: parse flags, set up logging, run one command, exit with the contract's code.
//! Every outcome leaves as one `Exit`; errors are printed by the command as one clear line.

use std::panic::{self, AssertUnwindSafe};
use std::process::ExitCode;

use clap::Parser;

use jbr::cli::{Cli, Command};
use jbr::exit::Exit;
use jbr::logging;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are not errors.
            let code = if e.use_stderr() {
                Exit::Usage
            } else {
                Exit::Ok
            };
            let _ = e.print();
            return code.into();
        }
    };
    // The demo's live view is its progress line and its report; the orchestrator's log on
    // stderr would tear the line apart, so it shows only with -v.
    let demo_quiet = matches!(cli.command, Command::Demo { .. }) && cli.verbose == 0;
    // `run` at a terminal draws a live progress line on stderr; info lines there would tear it,
    // so stderr gets warnings only (the log file keeps info, as with -q).
    let live_line = matches!(cli.command, Command::Run { dry_run: false, .. })
        && jbr::commands::live::wanted(cli.quiet, cli.verbose);
    let _log = if demo_quiet {
        None
    } else {
        match logging::init(logging::Settings {
            verbose: cli.verbose,
            quiet: cli.quiet || live_line,
        }) {
            Ok(guard) => Some(guard),
            Err(e) => {
                eprintln!("jbr: {e}");
                return Exit::Usage.into();
            }
        }
    };
    // A bug must still end in one readable line and a contract exit code, not a backtrace dump.
    panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("jbr: internal error (a bug, please report it): {what}{at}");
    }));
    match panic::catch_unwind(AssertUnwindSafe(|| run(&cli, live_line))) {
        Ok(exit) => exit.into(),
        // We cannot know how far a run got: exit 4 makes ops look at the servers, and the journal
        // undoes jbr's changes at the next start.
        Err(_) => Exit::Critical.into(),
    }
}

fn run(cli: &Cli, live_line: bool) -> Exit {
    match &cli.command {
        Command::Validate { json } => jbr::commands::validate::run(&cli.config, *json),
        Command::Run {
            dry_run,
            servers,
            jobs,
            force_activate,
            abort_foreign,
            rerun_all,
            json,
        } => {
            let args = jbr::commands::run::RunArgs {
                dry_run: *dry_run,
                selection: jbr::orchestrator::plan::Selection {
                    servers: servers.clone(),
                    jobs: jobs.clone(),
                },
                force_activate: *force_activate,
                abort_foreign: *abort_foreign,
                rerun_all: *rerun_all,
                json: *json,
            };
            jbr::commands::run::main(&cli.config, &args, live_line)
        }
        Command::Test { server, json } => {
            jbr::commands::test::run(&cli.config, server.as_deref(), *json)
        }
        Command::Status { server, json } => {
            jbr::commands::status::run(&cli.config, server.as_deref(), *json)
        }
        Command::Destinations { server, json } => {
            jbr::commands::destinations::run(&cli.config, server.as_deref(), *json)
        }
        Command::Demo {
            servers,
            jobs,
            faults,
        } => jbr::commands::demo::main(jbr::commands::demo::DemoArgs {
            servers: usize::from(*servers),
            jobs: usize::from(*jobs),
            faults: *faults,
        }),
        Command::List { json } => jbr::commands::list::run(&cli.config, *json),
        Command::Stop { server, group_id } => {
            jbr::commands::stop::run(&cli.config, server, group_id)
        }
        Command::Daemon => jbr::commands::daemon::main(&cli.config),
        Command::Man => jbr::commands::docs::man(&mut std::io::stdout()),
        Command::Completions { shell } => {
            jbr::commands::docs::completions(*shell, &mut std::io::stdout())
        }
    }
}
