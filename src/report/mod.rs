//! The run record and its renderings (text, JSON), plus the atomic state file.
