//! tracing to stderr (journald-friendly) and to a size-rotated log file.
