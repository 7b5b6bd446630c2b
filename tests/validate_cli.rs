//! The command line around `validate`: help that reads well, and usage errors that exit 2
//! with clap's one clear message rather than a panic.

mod support;

use support::bin::{self, Run};

fn jbr(args: &[&str]) -> Run {
    bin::jbr().args(args).run()
}

#[test]
fn help_lists_validate_and_the_global_flags() {
    let out = jbr(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = out.stdout.clone();
    assert!(help.contains("Usage: jbr [OPTIONS] <COMMAND>"), "{help}");
    // Whitespace-insensitive: clap pads the command column to the longest name (`destinations`).
    let flat = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains(
            "validate Check the config offline and report every problem with its JSON path"
        ),
        "{help}"
    );
    for flag in [
        "--config <PATH>",
        "/etc/jbr/config.json",
        "--verbose",
        "--quiet",
    ] {
        assert!(help.contains(flag), "{flag} missing from\n{help}");
    }
}

#[test]
fn validate_help_explains_exit_status_and_json() {
    let out = jbr(&["validate", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = out.stdout.clone();
    assert!(
        help.contains("Exit status: 0 when there are only warnings"),
        "{help}"
    );
    assert!(help.contains("--json"), "{help}");
}

#[test]
fn usage_errors_exit_2_with_one_clear_message() {
    for args in [&["validate", "--bogus"][..], &["-v", "-q", "validate"][..]] {
        let out = jbr(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = out.stderr.clone();
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn no_command_shows_usage_and_exits_2() {
    let out = jbr(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        out.stderr
            .clone()
            .contains("Usage: jbr [OPTIONS] <COMMAND>")
    );
}

#[test]
fn version_is_not_an_error() {
    let out = jbr(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.clone().starts_with("jbr "));
}
