//! The flock guard: two runs never overlap (exit 3).
