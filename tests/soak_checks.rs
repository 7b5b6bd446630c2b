//! Each soak invariant catches what it is there to catch: a real night is played, then one
//! thing in its outcome is made false, and the check must say so (and only then).

use jbr::report::Outcome as Rec;
use jbr::sim::{Outcome, Settings};
use jbr::soak::check::{Violation, check};
use jbr::soak::night::{Down, Interruption, JobSpec, Night, ServerSpec};
use jbr::soak::play::{Played, play};

fn night(outcome: Outcome) -> Night {
    let server = |name: &str, job: &str| ServerSpec {
        name: name.to_string(),
        settings: Settings::default(),
        down: Down::Never,
        dest_by_other: false,
        foreign: None,
        faults: Vec::new(),
        jobs: vec![JobSpec {
            name: job.to_string(),
            duration: 300.0,
            outcome,
            items: 2,
            timeout: None,
            past: vec![(86_000.0, Outcome::Completed, true)],
        }],
    };
    Night {
        seed: 1,
        servers: vec![server("web-01", "a"), server("web-02", "b")],
        abort_foreign: false,
        disable_while_running: false,
        interruption: Interruption::None,
        window_end: None,
        ticks: Vec::new(),
    }
}

fn played(outcome: Outcome) -> Played {
    play_night(night(outcome))
}

/// Plays `n` on a paused clock, as `jbr-sim soak` does.
fn play_night(n: Night) -> Played {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(play(n, dir.path())).unwrap()
}

fn broken(v: &[Violation], invariant: &str) -> bool {
    v.iter().any(|x| x.invariant == invariant)
}

#[test]
fn an_honest_night_passes() {
    for o in [Outcome::Completed, Outcome::Failed, Outcome::ItemFailed] {
        let p = played(o);
        assert_eq!(check(&p), Vec::new(), "{o:?}");
    }
}

#[test]
fn a_failed_run_reported_completed_is_caught() {
    let mut p = played(Outcome::Failed);
    let rec = p.first.as_mut().unwrap();
    rec.jobs[0].outcome = Rec::Completed;
    rec.jobs[0].message.clear();
    let v = check(&p);
    assert!(broken(&v, "record is true"), "{v:?}");
    // The exit code follows the (now false) record: that check stays quiet.
    assert!(!broken(&v, "exit follows the record"), "{v:?}");
}

#[test]
fn yesterdays_log_shown_as_tonights_is_caught() {
    let mut p = played(Outcome::Failed);
    let stale = p.world.servers["web-01"]
        .groups
        .iter()
        .find(|g| g.created < jbr::soak::night::BASE)
        .unwrap()
        .log_id
        .clone();
    p.first.as_mut().unwrap().jobs[0].log_id = Some(stale);
    assert!(broken(&check(&p), "record is true"));
}

#[test]
fn a_second_trigger_and_a_call_outside_the_grammar_are_caught() {
    let mut p = played(Outcome::Completed);
    let trigger = p
        .sent
        .iter()
        .find(|c| c.argv.get(2).map(String::as_str) == Some("runBackupJobManually"))
        .unwrap()
        .clone();
    p.sent.push(trigger.clone());
    let mut bad = trigger;
    bad.argv[4] = "_id=x;rm -rf /".to_string();
    p.sent.push(bad);
    let v = check(&p);
    assert!(broken(&v, "triggered once"), "{v:?}");
    assert!(broken(&v, "contract grammar"), "{v:?}");
}

#[test]
fn two_writers_something_left_enabled_and_an_unreported_backup_are_caught() {
    let mut p = played(Outcome::Completed);
    // web-02's write moved onto web-01's.
    let a = p
        .timeline
        .iter()
        .find(|i| i.server == "web-01" && i.end.is_some_and(|e| e > jbr::soak::night::BASE))
        .unwrap()
        .clone();
    let mut b = a.clone();
    b.server = "web-02".into();
    b.group_id = "x".into();
    b.start += 1.0;
    p.timeline.push(b);
    // A job left enabled.
    if let Some(s) = p.world.servers.get_mut("web-02") {
        s.jobs[0].disabled = false;
    }
    // The record forgets the group it followed.
    let rec = p.first.as_mut().unwrap();
    rec.jobs[0].group_id = None;
    rec.jobs[0].outcome = Rec::NotStarted;
    let v = check(&p);
    assert!(broken(&v, "one writer"), "{v:?}");
    assert!(broken(&v, "left as found"), "{v:?}");
    assert!(broken(&v, "every backup followed or reported"), "{v:?}");
}

/// A backup started outside jbr that jbr could see (its server's list of groups was answered
/// while it wrote) must be named: leaving it out of the record is caught. The exemption for a
/// foreign backup jbr never saw stays that narrow.
#[test]
fn a_foreign_backup_jbr_saw_but_left_out_is_caught() {
    let mut n = night(Outcome::Completed);
    n.servers[0].foreign = Some(0);
    let mut p = play_night(n);
    assert_eq!(check(&p), Vec::new());
    let foreign = p.foreign_groups[0].clone();
    let rec = p.first.as_mut().unwrap();
    let json = jbr::report::to_json(rec).replace(&foreign, "someone-else");
    *rec = serde_json::from_str(&json).unwrap();
    let v = check(&p);
    assert!(broken(&v, "every backup followed or reported"), "{v:?}");
}

/// After a SIGTERM a foreign backup may still run (it was running when jbr came, and a run told
/// to stop aborts nobody's backup, `--abort-foreign` or not), but one of jbr's own groups may
/// not: that is caught.
#[test]
fn a_sigtermed_run_that_leaves_its_own_group_running_is_caught() {
    let mut n = night(Outcome::Completed);
    n.servers[0].foreign = Some(0);
    n.abort_foreign = true;
    n.interruption = Interruption::Sigterm { call: 3 };
    let mut p = play_night(n);
    let foreign = p.foreign_groups[0].clone();
    let stops = |run| {
        p.sent
            .iter()
            .filter(|c| c.run == run && c.argv.iter().any(|a| a == "stopQueueGroup"))
            .count()
    };
    assert_eq!(stops(0), 0, "the SIGTERMed run aborted a foreign backup");
    let text = jbr::report::text::render(p.first.as_ref().unwrap());
    assert!(text.contains("it was left running"), "{text}");
    let after = p.after_first.as_mut().unwrap();
    assert!(
        after.running.iter().any(|r| r.contains(&foreign)),
        "{:?}",
        after.running
    );
    assert_eq!(check(&p), Vec::new());
    p.after_first
        .as_mut()
        .unwrap()
        .running
        .push("web-02: group 6a00ffffffffffffffffffff of job b processing".into());
    let v = check(&p);
    assert!(broken(&v, "left as found"), "{v:?}");
}
