//! The NAS's own block device (`nas.block_device`): jbr runs on the NAS, so it can watch what
//! the backups exist to protect, the RAID's write throughput. `diskstats` reads the kernel's
//! counters; `meter` turns samples into bytes per job and writes nobody claims.

pub mod diskstats;
pub mod meter;
