//! The replay order: a job that may still be running is dealt with before anything is disabled,
//! and enables are undone newest first (job before its destination).

use jbr::journal::{Journal, Op, OpenChange, Target};
use jbr::orchestrator::recover::replay_order;

#[test]
fn triggers_first_then_enables_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j");
    let mut j = Journal::open(&path, "run-1").unwrap();
    let enable = |server: &str, what, id: &str| Op::Enable {
        server: server.into(),
        what,
        id: id.into(),
        previous_disabled: true,
    };
    j.write(enable("web-01", Target::Destination, "d1"))
        .unwrap();
    j.write(enable("web-01", Target::Job, "j1")).unwrap();
    j.write(Op::Trigger {
        server: "web-01".into(),
        id: "j1".into(),
    })
    .unwrap();
    j.write(Op::Group {
        server: "web-01".into(),
        id: "j1".into(),
        group: "g1".into(),
    })
    .unwrap();
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
