//! Samples of the NAS device's write counter, turned into what the report needs: the bytes each
//! job wrote and its average rate, and writes while no jbr job ran (a writer jbr does not know
//! about). The caller samples when a job starts and ends, at each poll, and at the run's end.
//!
//! The page cache writes a job's last data up to about 30 s after the job ends
//! (`vm.dirty_expire_centisecs` plus a writeback pass), so writes in the first [`TAIL_SECS`]
//! after a job's end are that job's tail, never "something else". A job's own figure may
//! carry the previous job's tail; the night's total is exact.

use std::path::PathBuf;

use super::diskstats;
use crate::config::Nas;
use crate::report::time::clock_utc;

/// After a job's end, how long the device's writes are still taken as that job's flush.
pub const TAIL_SECS: f64 = 35.0;

/// What one job wrote, by the device's counter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Written {
    pub bytes: u64,
    pub secs: f64,
}

impl Written {
    /// The average, in MB/s (10^6 bytes); `None` for a job that took no time.
    pub fn mb_s(&self) -> Option<f64> {
        (self.secs > 0.0).then(|| self.bytes as f64 / 1e6 / self.secs)
    }
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    at: f64,
    bytes: u64,
}

/// A stretch with no jbr job running: its writes count from `baseline` on.
#[derive(Debug, Clone, Copy)]
struct Idle {
    /// Writes before this do not count (a job's tail): `TAIL_SECS` after a job's end, else
    /// the stretch's start.
    counts_after: f64,
    /// The first sample at or after `counts_after`.
    baseline: Option<Sample>,
    bytes: u64,
}

#[derive(Debug, Clone, Copy)]
struct Busy {
    from: f64,
    bytes: u64,
}

#[derive(Debug)]
pub struct Meter {
    device: String,
    file: PathBuf,
    foreign_min_bytes: f64,
    last: Option<Sample>,
    busy: Option<Busy>,
    idle: Idle,
    /// Writes nobody claimed above the threshold, for the report's alerts.
    pub alerts: Vec<String>,
    /// A counter that went back, a file that could not be read: for the report's notes.
    pub notes: Vec<String>,
}

impl Meter {
    /// A meter for `nas` from `now` (Unix seconds), or `None` when `nas.block_device` is off.
    pub fn open(nas: &Nas, now: f64) -> Option<Meter> {
        let device = nas.block_device.clone()?;
        let mut m = Meter {
            device,
            file: nas.diskstats_file.clone(),
            foreign_min_bytes: nas.foreign_write_min_mb * 1e6,
            last: None,
            busy: None,
            idle: Idle {
                counts_after: now,
                baseline: None,
                bytes: 0,
            },
            alerts: Vec::new(),
            notes: Vec::new(),
        };
        m.sample(now);
        Some(m)
    }

    /// Read the counter at `now` and file what was written since the last reading.
    pub fn sample(&mut self, now: f64) {
        let read = std::fs::read_to_string(&self.file)
            .map_err(|e| e.to_string())
            .and_then(|text| diskstats::bytes_written(&text, &self.device));
        let bytes = match read {
            Ok(b) => b,
            Err(e) => {
                let note = format!(
                    "NAS {}: cannot read its write counter from {} ({e}); the figures leave that time out",
                    self.device,
                    self.file.display()
                );
                if !self.notes.contains(&note) {
                    self.notes.push(note);
                }
                return;
            }
        };
        let now_sample = Sample { at: now, bytes };
        if let Some(prev) = self.last {
            if bytes < prev.bytes {
                // A USB re-attach or a reassembled array starts its counters again: what was
                // written across it is unknown, never negative.
                self.notes.push(format!(
                    "NAS {}: its write counter went back between {} and {} (re-attached?); the figures leave that interval out",
                    self.device,
                    clock_utc(prev.at),
                    clock_utc(now)
                ));
                if self.busy.is_none() {
                    self.idle.baseline = Some(now_sample);
                }
            } else {
                self.file_bytes(prev, now_sample);
            }
        } else if self.busy.is_none() && now >= self.idle.counts_after {
            self.idle.baseline = Some(now_sample);
        }
        self.last = Some(now_sample);
    }

    fn file_bytes(&mut self, prev: Sample, now: Sample) {
        let delta = now.bytes - prev.bytes;
        if let Some(busy) = &mut self.busy {
            busy.bytes += delta;
            return;
        }
        if now.at < self.idle.counts_after {
            return; // the last job's tail
        }
        match self.idle.baseline {
            Some(_) => self.idle.bytes += delta,
            None => self.idle.baseline = Some(now),
        }
    }

    /// A jbr job starts writing (call before its enable: the server's scheduler may start it
    /// from then on). Closes the idle stretch before it.
    pub fn job_started(&mut self, now: f64) {
        self.sample(now);
        self.close_idle(now);
        self.busy = Some(Busy {
            from: now,
            bytes: 0,
        });
    }

    /// The job (and any scheduler run of it jbr followed) is over: what it wrote, if the
    /// counter could be read at its start.
    pub fn job_ended(&mut self, now: f64) -> Option<Written> {
        self.sample(now);
        let busy = self.busy.take()?;
        self.idle = Idle {
            counts_after: now + TAIL_SECS,
            baseline: None,
            bytes: 0,
        };
        let measured = self.last.is_some_and(|l| l.at <= busy.from) || busy.bytes > 0;
        measured.then_some(Written {
            bytes: busy.bytes,
            secs: now - busy.from,
        })
    }

    /// The run ends: the last idle stretch is judged.
    pub fn finish(&mut self, now: f64) {
        if self.busy.is_some() {
            let _ = self.job_ended(now);
        } else {
            self.sample(now);
        }
        self.close_idle(now);
    }

    fn close_idle(&mut self, now: f64) {
        let idle = self.idle;
        if idle.baseline.is_some() && idle.bytes as f64 > self.foreign_min_bytes {
            self.alerts.push(format!(
                "something else wrote {} to {} between {} and {} while no jbr job ran: a writer jbr does not know about",
                human_bytes(idle.bytes),
                self.device,
                clock_utc(idle.counts_after),
                clock_utc(now)
            ));
        }
        self.idle = Idle {
            counts_after: now,
            baseline: self.last.filter(|l| l.at >= now),
            bytes: 0,
        };
    }
}

/// `3.2 GB`, `850 MB`, `12 kB`: decimal units, as disk vendors and `df -H` count.
pub fn human_bytes(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1e12 {
        format!("{:.1} TB", b / 1e12)
    } else if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.0} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.0} kB", b / 1e3)
    } else {
        format!("{bytes} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Disk {
        dir: tempfile::TempDir,
        sectors: u64,
    }

    impl Disk {
        fn new() -> Disk {
            let d = Disk {
                dir: tempfile::tempdir().expect("temp dir"),
                sectors: 1_000,
            };
            d.write();
            d
        }
        fn path(&self) -> PathBuf {
            self.dir.path().join("diskstats")
        }
        fn write(&self) {
            let text = format!(
                "   8 0 sda 1 0 8 0 1 0 8 0 0 0 0\n   9 0 md0 5 0 40 0 7 0 {} 0 0 0 0\n",
                self.sectors
            );
            std::fs::write(self.path(), text).expect("write diskstats");
        }
        fn add_mb(&mut self, mb: u64) {
            self.sectors += mb * 1_000_000 / 512;
            self.write();
        }
        fn nas(&self) -> Nas {
            Nas {
                block_device: Some("md0".into()),
                diskstats_file: self.path(),
                min_write_mb_s: None,
                foreign_write_min_mb: 100.0,
            }
        }
    }

    #[test]
    fn a_job_gets_what_the_device_wrote_between_its_start_and_end() {
        let mut disk = Disk::new();
        let mut m = Meter::open(&disk.nas(), 0.0).expect("on");
        m.job_started(10.0);
        disk.add_mb(300);
        m.sample(40.0);
        disk.add_mb(300);
        let w = m.job_ended(70.0).expect("measured");
        assert!((w.bytes as f64 - 600e6).abs() < 1e3, "{w:?}");
        assert_eq!(w.secs, 60.0);
        assert!((w.mb_s().expect("rate") - 10.0).abs() < 0.01);
        m.finish(71.0);
        assert!(m.alerts.is_empty() && m.notes.is_empty());
    }

    #[test]
    fn writes_while_no_job_runs_raise_an_alert_but_a_jobs_tail_does_not() {
        let mut disk = Disk::new();
        let mut m = Meter::open(&disk.nas(), 0.0).expect("on");
        m.job_started(10.0);
        disk.add_mb(50);
        m.job_ended(20.0);
        // The page cache flushes 500 MB in the next 30 s: the job's tail.
        disk.add_mb(500);
        m.sample(40.0);
        m.job_started(45.0);
        m.job_ended(100.0);
        assert!(m.alerts.is_empty(), "{:?}", m.alerts);
        // Long after the end, 3.2 GB that no job wrote.
        m.sample(200.0);
        disk.add_mb(3_200);
        m.sample(300.0);
        m.job_started(320.0);
        assert_eq!(m.alerts.len(), 1, "{:?}", m.alerts);
        assert!(
            m.alerts[0].starts_with("something else wrote 3.2 GB to md0 between"),
            "{}",
            m.alerts[0]
        );
    }

    #[test]
    fn writes_during_pre_flight_count_from_the_start() {
        let mut disk = Disk::new();
        let mut m = Meter::open(&disk.nas(), 0.0).expect("on");
        disk.add_mb(150);
        m.job_started(5.0);
        assert_eq!(m.alerts.len(), 1, "{:?}", m.alerts);
        // Below the threshold: nothing.
        let mut disk = Disk::new();
        let mut m = Meter::open(&disk.nas(), 0.0).expect("on");
        disk.add_mb(90);
        m.finish(5.0);
        assert!(m.alerts.is_empty());
    }

    #[test]
    fn a_counter_that_goes_back_is_a_note_never_a_negative_figure() {
        let mut disk = Disk::new();
        let mut m = Meter::open(&disk.nas(), 0.0).expect("on");
        m.job_started(1.0);
        disk.add_mb(200);
        m.sample(10.0);
        disk.sectors = 10; // re-attached: counters from zero
        disk.write();
        m.sample(20.0);
        disk.add_mb(100);
        let w = m.job_ended(30.0).expect("measured");
        assert!((w.bytes as f64 - 300e6).abs() < 1e3, "{w:?}");
        assert_eq!(m.notes.len(), 1, "{:?}", m.notes);
        assert!(m.notes[0].contains("went back"), "{}", m.notes[0]);
    }

    #[test]
    fn an_unreadable_file_is_one_note_and_no_figure() {
        let disk = Disk::new();
        let mut nas = disk.nas();
        nas.diskstats_file = disk.dir.path().join("missing");
        let mut m = Meter::open(&nas, 0.0).expect("on");
        m.job_started(1.0);
        m.sample(2.0);
        assert_eq!(m.job_ended(3.0), None);
        assert_eq!(m.notes.len(), 1, "{:?}", m.notes);
        assert!(
            Meter::open(&Nas::default(), 0.0).is_none(),
            "off by default"
        );
    }

    #[test]
    fn sizes_read_like_df() {
        assert_eq!(human_bytes(3_200_000_000), "3.2 GB");
        assert_eq!(human_bytes(850_000_000), "850 MB");
        assert_eq!(human_bytes(999), "999 B");
    }
}
