//! `/proc/diskstats`: one line per block device, `major minor name` then the counters. The
//! tenth field (the seventh counter) is sectors written, in 512-byte units whatever the
//! device's own sector size (Documentation/admin-guide/iostats.rst).

/// Bytes per diskstats sector: fixed by the kernel, not the device's sector size.
pub const SECTOR_BYTES: u64 = 512;

/// Bytes written to `device` so far, from the text of a diskstats file. An error names what
/// was wrong, for the report's note.
pub fn bytes_written(text: &str, device: &str) -> Result<u64, String> {
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.get(2) != Some(&device) {
            continue;
        }
        let sectors = fields
            .get(9)
            .ok_or_else(|| format!("its line has {} fields, not at least 10", fields.len()))?;
        let sectors: u64 = sectors
            .parse()
            .map_err(|_| format!("its sectors-written field {sectors:?} is not a number"))?;
        return Ok(sectors.saturating_mul(SECTOR_BYTES));
    }
    Err(format!("no line for {device}"))
}

/// The device names a diskstats file lists, in its order (for `validate`'s hint).
pub fn devices(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Two lines of a real Raspberry Pi's /proc/diskstats (kernel 6.1: 20 fields).
    const PI: &str = "\
 179       0 mmcblk0 21386 6318 1393134 12779 11226 15262 437824 25890 0 26416 41446 0 0 0 0 1554 2776
   9       0 md0 9262 0 1137970 0 412003 0 829350912 0 0 0 0 0 0 0 0 0 0
";

    #[test]
    fn reads_the_sectors_written_field_in_512_byte_sectors() {
        assert_eq!(bytes_written(PI, "md0"), Ok(829_350_912 * 512));
        assert_eq!(bytes_written(PI, "mmcblk0"), Ok(437_824 * 512));
        assert_eq!(devices(PI), ["mmcblk0", "md0"]);
    }

    #[test]
    fn a_missing_device_or_a_short_line_is_an_error_not_a_zero() {
        assert_eq!(bytes_written(PI, "md1"), Err("no line for md1".into()));
        let short = "9 0 md0 1 2 3 4 5 6";
        assert!(bytes_written(short, "md0").is_err());
        let junk = "9 0 md0 1 2 3 4 5 6 x";
        assert!(bytes_written(junk, "md0").is_err());
        // A name that only starts like it is another device.
        assert!(bytes_written("9 1 md0p1 1 2 3 4 5 6 7", "md0").is_err());
    }
}
