//! A problem found in a config file: where (file + JSON path), how bad, what, and what to do.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The run goes ahead; the user should look (a typo, a value the older tool rejected).
    Warning,
    /// No command that touches servers may start (exit 2).
    Error,
}

/// One problem, rendered on one line. Messages never contain a secret's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The config file, as the user named it.
    pub file: PathBuf,
    /// Where in the file: `jobs[3].server`; empty for the file as a whole.
    pub json_path: String,
    pub severity: Severity,
    /// A stable machine-readable kind (`unknown_key`, `wrong_type`, ...), for `validate --json`
    /// and for tests.
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
    /// What to do, or what was expected; shown in parentheses.
    pub hint: Option<String>,
}

impl Problem {
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl Problem {
    /// The line without its `warning: ` prefix, for log events that carry their own level.
    pub fn without_severity(&self) -> String {
        let mut s = format!("{}: ", self.file.display());
        if !self.json_path.is_empty() {
            s.push_str(&format!("at '{}': ", self.json_path));
        }
        s.push_str(&self.message);
        if let Some(hint) = &self.hint {
            s.push_str(&format!(" ({hint})"));
        }
        s
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.severity == Severity::Warning {
            f.write_str("warning: ")?;
        }
        write!(f, "{}: ", self.file.display())?;
        if !self.json_path.is_empty() {
            write!(f, "at '{}': ", self.json_path)?;
        }
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

/// Collects problems for one file while the loader walks it.
#[derive(Debug)]
pub(crate) struct Problems {
    file: PathBuf,
    pub(crate) list: Vec<Problem>,
}

impl Problems {
    pub(crate) fn new(file: &Path) -> Self {
        Problems {
            file: file.to_path_buf(),
            list: Vec::new(),
        }
    }

    pub(crate) fn error(
        &mut self,
        path: &str,
        code: &'static str,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        self.push(Severity::Error, path, code, message.into(), hint);
    }

    pub(crate) fn warn(
        &mut self,
        path: &str,
        code: &'static str,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        self.push(Severity::Warning, path, code, message.into(), hint);
    }

    pub(crate) fn push(
        &mut self,
        severity: Severity,
        path: &str,
        code: &'static str,
        message: String,
        hint: Option<String>,
    ) {
        self.list.push(Problem {
            file: self.file.clone(),
            json_path: path.to_string(),
            severity,
            code,
            message,
            hint,
        });
    }
}

/// Why a config could not be used. Display is one line per problem, each naming the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read at all.
    #[error("{}: cannot read config: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Not valid JSON; line and column are 1-based, as editors show them.
    #[error("{}: line {line}, column {column}: invalid JSON: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// Valid JSON, but at least one error (the list holds only the errors).
    #[error("{}", render_errors(.problems))]
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
    },
}

impl ConfigError {
    /// Every config error means the same to the caller: usage error, nothing was changed.
    pub fn exit(&self) -> crate::exit::Exit {
        crate::exit::Exit::Usage
    }

    /// The error as problems, so `validate` renders every failure the same way.
    pub fn to_problems(&self) -> Vec<Problem> {
        match self {
            ConfigError::Read { path, source } => vec![Problem {
                file: path.clone(),
                json_path: String::new(),
                severity: Severity::Error,
                code: "unreadable",
                message: format!("cannot read config: {source}"),
                hint: (source.kind() == std::io::ErrorKind::NotFound)
                    .then(|| "name the config file with -c PATH".to_string()),
            }],
            ConfigError::Syntax {
                path,
                line,
                column,
                message,
            } => vec![Problem {
                file: path.clone(),
                json_path: String::new(),
                severity: Severity::Error,
                code: "invalid_json",
                message: format!("line {line}, column {column}: invalid JSON: {message}"),
                hint: None,
            }],
            ConfigError::Invalid { problems, .. } => problems.clone(),
        }
    }
}

fn render_errors(problems: &[Problem]) -> String {
    let lines: Vec<String> = problems.iter().map(Problem::to_string).collect();
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_the_style_guide() {
        let mut p = Problems::new(Path::new("config.json"));
        p.error(
            "jobs[3].server",
            "unknown_server",
            "\"web-02\" is not a key of 'servers'",
            Some("known: web-01, web-03".into()),
        );
        p.warn(
            "notification.smtp_pasword",
            "unknown_key",
            "unknown key, ignored",
            Some("did you mean 'smtp_password'?".into()),
        );
        assert_eq!(
            p.list[0].to_string(),
            "config.json: at 'jobs[3].server': \"web-02\" is not a key of 'servers' (known: web-01, web-03)"
        );
        assert_eq!(
            p.list[1].to_string(),
            "warning: config.json: at 'notification.smtp_pasword': unknown key, ignored (did you mean 'smtp_password'?)"
        );
    }
}
