//! The only code that knows jetbackup5api function names, the `-D` grammar, envelopes and status codes.
