//! Reading the file: bytes → JSON (with line:column on syntax errors) → typed config + problems
//! → machine checks. `load` for `validate`, `load_for_run` for everything that touches servers.

use std::path::Path;

use serde_json::Value;

use super::duplicates;
use super::machine::{self, CheckMode};
use super::parse::{self, Context};
use super::problem::{ConfigError, Problem, Problems};
use super::{Config, Monitoring};

/// A parsed config and every problem found (errors and warnings, in file order).
///
/// `config` is best effort when `problems` holds an error: entries with errors are left out.
/// Only `load_for_run` hands out a config that is safe to act on.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub problems: Vec<Problem>,
}

impl Loaded {
    pub fn has_errors(&self) -> bool {
        self.problems.iter().any(Problem::is_error)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(|p| p.is_error())
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(|p| !p.is_error())
    }
}

/// Everything `jbr validate` checks, with missing key files as warnings (see `CheckMode`).
/// `Err` only when the file cannot be read or is not JSON.
pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
    load_with(path, CheckMode::Validate, &|k| std::env::var(k).ok())
}

/// The same checks as `validate`, strict: any error refuses the config, so a bad config
/// changes nothing on any server. Warnings are logged.
pub fn load_for_run(path: &Path) -> Result<Config, ConfigError> {
    let loaded = load_with(path, CheckMode::Run, &|k| std::env::var(k).ok())?;
    if loaded.has_errors() {
        return Err(ConfigError::Invalid {
            path: path.to_path_buf(),
            problems: loaded.errors().cloned().collect(),
        });
    }
    for w in loaded.warnings() {
        tracing::warn!("{}", w.without_severity());
    }
    Ok(loaded.config)
}

/// The `monitoring` section of the file at `path`, read on its own and leniently: when the
/// config as a whole is refused (exit 2), the refusal still pings `/fail` if this section is
/// fine. `None` when the file cannot be read, is not JSON, sets no ping URL, or has an error in
/// this section.
pub fn monitoring_of(path: &Path) -> Option<Monitoring> {
    let text = std::fs::read_to_string(path).ok()?;
    let root: Value = serde_json::from_str(text.strip_prefix('\u{feff}').unwrap_or(&text)).ok()?;
    let base_dir = path.parent().unwrap_or(Path::new("."));
    let env = |_: &str| -> Option<String> { None };
    let ctx = Context {
        file: path,
        base_dir,
        env: &env,
    };
    let mut problems = Problems::new(path);
    let monitoring = parse::monitoring_only(&root, &ctx, &mut problems);
    let clean = !problems.list.iter().any(Problem::is_error);
    (clean && monitoring.healthcheck_url.is_some()).then_some(monitoring)
}

/// `load` with the mode and the environment given (tests pass their own environment).
pub fn load_with(
    path: &Path,
    mode: CheckMode,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Loaded, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    load_str(&text, path, mode, env)
}

/// Parse `text` as if it were the file `path` (relative paths inside resolve against its
/// directory), then run the machine checks.
pub fn load_str(
    text: &str,
    path: &Path,
    mode: CheckMode,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Loaded, ConfigError> {
    // Editors on Windows write a BOM; JSON parsers reject it, and it is invisible.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let root: Value = serde_json::from_str(text).map_err(|e| ConfigError::Syntax {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column().max(1),
        message: syntax_message(&e),
    })?;
    let base_dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let ctx = Context {
        file: path,
        base_dir: &base_dir,
        env,
    };
    let mut problems = Problems::new(path);
    for at in duplicates::find(text) {
        // A warning, not an error: the older tool read the same file the same way.
        problems.warn(
            &at,
            "duplicate_key",
            "key appears more than once; the last value is used",
            Some("remove the other occurrence".into()),
        );
    }
    let config = parse::parse(&root, &ctx, &mut problems);
    machine::check(&config, mode, &mut problems);
    let mut problems = problems.list;
    in_file_order(&mut problems, &root);
    Ok(Loaded { config, problems })
}

/// Problems grouped by top-level section in the order the sections appear in the file, so the
/// output reads top to bottom like the file (jobs are checked last, after the servers they
/// name, whatever their place). Within a section the walk order is kept.
fn in_file_order(problems: &mut [Problem], root: &Value) {
    let Some(top) = root.as_object() else {
        return;
    };
    let rank = |p: &Problem| {
        let first = p.json_path.split(['.', '[']).next().unwrap_or_default();
        top.keys().position(|k| k == first).unwrap_or(usize::MAX)
    };
    problems.sort_by_key(rank);
}

/// serde_json's message without its " at line L column C" tail (we print those ourselves).
fn syntax_message(e: &serde_json::Error) -> String {
    let full = e.to_string();
    match full.rfind(" at line ") {
        Some(i) => full[..i].to_string(),
        None => full,
    }
}
