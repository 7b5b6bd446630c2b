//! Outside programs a few tests drive (util-linux `script` for a terminal, `flock(1)`, `man`). Missing,
//! such a test skips with a printed reason; under `JBR_REQUIRE_TOOLS=1` (set by `scripts/test`,
//! which installs them) a missing tool fails the test instead, so a run cannot pass by skipping.

use std::process::Command;

/// Whether `program` runs (`program --version`). `false`: the caller skips.
pub fn available(program: &str, what_for: &str) -> bool {
    if Command::new(program).arg("--version").output().is_ok() {
        return true;
    }
    if std::env::var("JBR_REQUIRE_TOOLS").as_deref() == Ok("1") {
        panic!("`{program}` is missing but JBR_REQUIRE_TOOLS=1 (scripts/test installs it)");
    }
    eprintln!("skipped: no `{program}` {what_for}");
    false
}
