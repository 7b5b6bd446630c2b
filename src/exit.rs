//! The contract's exit codes, in one place (shared/jbr-contract.md, "Exit codes").

/// What a jbr process tells its caller. `main` maps every outcome to one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// Every selected job completed (warnings allowed).
    Ok = 0,
    /// At least one job failed, timed out, was partial, or was skipped.
    JobsFailed = 1,
    /// Usage or configuration error; nothing was changed on any server.
    Usage = 2,
    /// Another run holds the lock; nothing was changed.
    Locked = 3,
    /// Critical: a destination or job that jbr enabled could not be disabled again.
    Critical = 4,
}

impl Exit {
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The worse of two outcomes: Critical beats everything, then Usage/Locked, then JobsFailed.
    pub fn worst(self, other: Exit) -> Exit {
        fn rank(e: Exit) -> u8 {
            match e {
                Exit::Ok => 0,
                Exit::JobsFailed => 1,
                Exit::Locked => 2,
                Exit::Usage => 3,
                Exit::Critical => 4,
            }
        }
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_the_contract() {
        assert_eq!(Exit::Ok.code(), 0);
        assert_eq!(Exit::JobsFailed.code(), 1);
        assert_eq!(Exit::Usage.code(), 2);
        assert_eq!(Exit::Locked.code(), 3);
        assert_eq!(Exit::Critical.code(), 4);
    }

    #[test]
    fn critical_wins() {
        assert_eq!(Exit::JobsFailed.worst(Exit::Critical), Exit::Critical);
        assert_eq!(Exit::Ok.worst(Exit::JobsFailed), Exit::JobsFailed);
        assert_eq!(Exit::Critical.worst(Exit::Ok), Exit::Critical);
    }
}
