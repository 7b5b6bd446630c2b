//! `jbr man` and `jbr completions` (issue 12, item 3): generated from the clap definitions, they
//! build, and they name every subcommand the CLI has (taken from the CLI itself, so a new
//! subcommand cannot be left out).

mod support;

use clap::CommandFactory;
use support::bin;

fn subcommands() -> Vec<String> {
    jbr::cli::Cli::command()
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .filter(|n| n != "help")
        .collect()
}

#[test]
fn the_man_page_is_roff_with_a_section_for_every_subcommand() {
    let run = bin::jbr().arg("man").run();
    run.expect_success();
    assert!(run.stdout.contains(".TH jbr 1"), "{run}");
    for name in subcommands() {
        let section = format!(".SH \"JBR {}\"", name.to_uppercase());
        assert!(run.stdout.contains(&section), "no {section} in:\n{run}");
    }
    // Every flag's default is in it (the long help says it).
    assert!(run.stdout.contains("/etc/jbr/config.json"), "{run}");
    // It renders: man(1) reads it without a warning, where man is installed.
    if support::tools::available("man", "(man-db) to render the page") {
        let dir = tempfile::tempdir().unwrap();
        let page = dir.path().join("jbr.1");
        std::fs::write(&page, &run.stdout).unwrap();
        let shown = bin::Cmd::new("man")
            .args(["--warnings", "-l"])
            .arg(&page)
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "100")
            .run();
        shown.expect_success();
        assert!(shown.stdout.contains("JBR STOP"), "{shown}");
        assert!(!shown.stderr.contains("warning"), "{shown}");
    }
}

#[test]
fn completions_for_each_shell_name_every_subcommand() {
    for shell in ["bash", "zsh", "fish"] {
        let run = bin::jbr().args(["completions", shell]).run();
        run.expect_success();
        for name in subcommands() {
            assert!(run.stdout.contains(&name), "{shell}: no {name} in:\n{run}");
        }
    }
    // The bash script is valid bash.
    let script = bin::jbr().args(["completions", "bash"]).run().stdout;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jbr.bash");
    std::fs::write(&path, script).unwrap();
    bin::Cmd::new("bash")
        .arg("-n")
        .arg(&path)
        .run()
        .expect_success();
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let run = bin::jbr().args(["completions", "tcsh"]).run();
    run.expect_code(2);
    assert!(run.stderr.contains("invalid value 'tcsh'"), "{run}");
}
