//! The remote-call contract (`shared/jbr-contract.md`, "Remote calls and the SSH gate") in one
//! place: the program, the functions the gate allows and which of them change a server, the
//! `-D` pair grammar, the shape of one call, the server's ISO-8601 times, and what a call gives
//! back. A leaf: it imports nothing of jbr, so `api`, `config`, `sim`, `transport`, the dry run
//! and the soak checks all read the same copy. `server/jbr-gate` is the one copy in another
//! language; `tests/gate.rs` checks that its function list equals [`ALLOWED_FUNCTIONS`].

mod grammar;
pub mod time;

pub use grammar::{
    ALLOWED_FUNCTIONS, PING, PING_LEGACY, PROGRAM, VALUE_CHARS, check_call, is_write, valid_key,
    valid_value,
};

/// What a remote command gave back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawOutput {
    /// Exit status; `None` when the process was killed by a signal.
    pub status: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl RawOutput {
    pub fn stdout_lossy(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr_lossy(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}
