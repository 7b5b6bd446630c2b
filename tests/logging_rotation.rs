//! Size-based rotation of the log file, as the older tool's RotatingFileHandler did it.

use std::io::Write;
use std::path::Path;

use jbr::logging::RotatingFile;

fn line(i: usize) -> String {
    format!("2026-11-22T03:00:00Z INFO event number {i:05}\n")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn keeps_exactly_backup_count_old_files_and_loses_no_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log/jbr.log");
    let max = 200;
    let mut f = RotatingFile::open(&log, max, 3).unwrap();
    for i in 0..500 {
        f.write_all(line(i).as_bytes()).unwrap();
    }
    drop(f);

    let mut names: Vec<String> = std::fs::read_dir(log.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["jbr.log", "jbr.log.1", "jbr.log.2", "jbr.log.3"]);

    // Oldest first; every file within the limit, every line whole, no gap, ending at the last.
    let mut all = String::new();
    for name in ["jbr.log.3", "jbr.log.2", "jbr.log.1", "jbr.log"] {
        let text = read(&dir.path().join("log").join(name));
        assert!(text.len() as u64 <= max, "{name} has {} bytes", text.len());
        assert!(text.ends_with('\n'), "{name} ends mid-line");
        all.push_str(&text);
    }
    let numbers: Vec<usize> = all
        .lines()
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(numbers.last(), Some(&499));
    for pair in numbers.windows(2) {
        assert_eq!(pair[1], pair[0] + 1, "a line went missing");
    }
    // 4 files of 4 whole lines each (one line is 47 bytes, four fit in 200).
    assert_eq!(numbers.len(), 16);
}

#[test]
fn with_enough_backups_every_line_is_kept_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("jbr.log");
    let mut f = RotatingFile::open(&log, 100, 100).unwrap();
    for i in 0..60 {
        f.write_all(line(i).as_bytes()).unwrap();
    }
    drop(f);
    let mut all = String::new();
    for n in (1..=100).rev() {
        all.push_str(&read(&dir.path().join(format!("jbr.log.{n}"))));
    }
    all.push_str(&read(&log));
    let expected: String = (0..60).map(line).collect();
    assert_eq!(all, expected);
}

#[test]
fn reopening_appends_and_counts_what_is_there() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("jbr.log");
    let mut f = RotatingFile::open(&log, 100, 2).unwrap();
    f.write_all(line(0).as_bytes()).unwrap();
    drop(f);
    // A second run: the existing 47 bytes count, so the third line rotates.
    let mut f = RotatingFile::open(&log, 100, 2).unwrap();
    f.write_all(line(1).as_bytes()).unwrap();
    f.write_all(line(2).as_bytes()).unwrap();
    drop(f);
    assert_eq!(read(&dir.path().join("jbr.log.1")), line(0) + &line(1));
    assert_eq!(read(&log), line(2));
}

#[test]
fn zero_backups_truncates_instead_of_growing() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("jbr.log");
    let mut f = RotatingFile::open(&log, 100, 0).unwrap();
    for i in 0..10 {
        f.write_all(line(i).as_bytes()).unwrap();
    }
    drop(f);
    assert_eq!(read(&log), line(8) + &line(9));
    assert!(!dir.path().join("jbr.log.1").exists());
}

#[test]
fn an_unopenable_log_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("file"), "").unwrap();
    let path = dir.path().join("file/jbr.log");
    let err = jbr::logging::attach_file(&path, 100, 1).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "cannot open log file {}: {} is not a directory",
            path.display(),
            dir.path().join("file").display()
        )
    );
}

#[test]
fn two_processes_writing_one_log_lose_no_line_and_respect_the_limit() {
    // `jbr status` may log while a run logs: two handles on one file, each rotating.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("jbr.log");
    let mut a = RotatingFile::open(&log, 200, 100).unwrap();
    let mut b = RotatingFile::open(&log, 200, 100).unwrap();
    for i in 0..60 {
        let w = if i % 3 == 0 { &mut b } else { &mut a };
        w.write_all(line(i).as_bytes()).unwrap();
    }
    drop((a, b));
    // Each file full (4 lines of 47 bytes): no handle rotated away a file another had just
    // started, which would push history out with half-empty files.
    let files = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(files, 15);
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let text = read(&entry.unwrap().path());
        assert!(
            text.len() <= 200,
            "a file grew past the limit: {} bytes",
            text.len()
        );
        seen.extend(text.lines().map(str::to_string));
    }
    seen.sort();
    let mut want: Vec<String> = (0..60).map(|i| line(i).trim_end().to_string()).collect();
    want.sort();
    assert_eq!(seen, want);
}
