//! A simulated `/proc/diskstats` for the NAS device (`nas.block_device`), written from the
//! simulator's timeline: the device writes at a fixed rate while any backup writes. The demo
//! and the tests point `nas.diskstats_file` at it, so jbr reads a real file, as on the NAS.
//! Attached to a [`SimWorld`](super::SimWorld), it is rewritten after every API call, so
//! each sample jbr takes after a call reads the exact figure, with no timer of its own.

use std::path::PathBuf;

use super::WriteInterval;

/// Where the counter starts: a device that has been written to before.
const BASE_BYTES: u64 = 5_000_000_000;

#[derive(Debug, Clone)]
pub struct SimDisk {
    file: PathBuf,
    device: String,
    bytes_per_sec: f64,
    /// `(job id, seconds)`: once that job has written this long, the counter starts again
    /// from zero (a USB bridge re-attached).
    reset_after: Option<(String, f64)>,
}

impl SimDisk {
    pub fn new(file: PathBuf, device: &str, bytes_per_sec: f64) -> SimDisk {
        SimDisk {
            file,
            device: device.to_string(),
            bytes_per_sec,
            reset_after: None,
        }
    }

    pub fn reset_after(mut self, job_id: &str, secs: f64) -> SimDisk {
        self.reset_after = Some((job_id.to_string(), secs));
        self
    }

    /// Seconds of writing on `timeline` up to `now`, and when the reset happened, if it has.
    fn written(&self, timeline: &[WriteInterval], now: f64) -> (f64, Option<f64>) {
        let mut secs = 0.0;
        let mut reset_at = None;
        for w in timeline {
            let end = w.end.unwrap_or(now).min(now);
            secs += (end - w.start).max(0.0);
            if let Some((job, after)) = &self.reset_after
                && &w.job_id == job
                && end - w.start >= *after
            {
                reset_at = Some(w.start + after);
            }
        }
        (secs, reset_at)
    }

    /// The counter's value at `now`, in bytes.
    pub fn bytes_at(&self, timeline: &[WriteInterval], now: f64) -> u64 {
        let (secs, reset_at) = self.written(timeline, now);
        let bytes = match reset_at {
            Some(at) => (secs - self.written(timeline, at).0) * self.bytes_per_sec,
            None => BASE_BYTES as f64 + secs * self.bytes_per_sec,
        };
        bytes.max(0.0) as u64
    }

    pub fn write(&self, timeline: &[WriteInterval], now: f64) -> std::io::Result<()> {
        let sectors = self.bytes_at(timeline, now) / crate::nas::diskstats::SECTOR_BYTES;
        let text = format!(
            " 179       0 mmcblk0 21386 6318 1393134 12779 11226 15262 437824 25890 0 26416 41446 0 0 0 0 1554 2776\n   9       0 {} 9262 0 1137970 0 412003 0 {sectors} 0 0 0 0 0 0 0 0 0 0\n",
            self.device
        );
        std::fs::write(&self.file, text)
    }
}
