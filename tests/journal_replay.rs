//! The replay order: a job that may still be running is dealt with before anything is disabled,
//! and enables are undone newest first (job before its destination).

mod support;

use jbr::journal::{Journal, OpenChange};
use jbr::orchestrator::recover::replay_order;
use support::lab;

#[test]
fn triggers_first_then_enables_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j");
    let mut j = Journal::open(&path, "run-1").unwrap();
    lab::write_window_to_group(&mut j, "g1");
    let order: Vec<String> = replay_order(j.open_changes())
        .iter()
        .map(|c| match c {
            OpenChange::Triggered { id, group, .. } => {
                format!("follow {id} {}", group.as_deref().unwrap_or("?"))
            }
            OpenChange::Enabled { what, id, .. } => format!("disable {what:?} {id}"),
        })
        .collect();
    assert_eq!(
        order,
        vec!["follow j1 g1", "disable Job j1", "disable Destination d1"]
    );
}
