//! All policy: order, one writer, destination windows, timeouts, abort then confirm.
