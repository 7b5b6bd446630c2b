//! Writes each change down before making it; replays on start.
