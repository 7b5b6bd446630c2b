//! Whatever a server prints, the client answers with a value or an error: never a panic, never a
//! hang, and never a success the server did not report (invariant 5 "bad input gets a clear
//! error", from the far side of the wire).
//!
//! Every fixture of `tests/fixtures/api` is mangled a few hundred ways (a deterministic
//! generator, so a failure names its case): cut short, bytes overwritten, junk inserted, and
//! structure-aware changes that swap any one value for another type (null, text, a huge or
//! negative number, an object, a deep array). Each mangled answer goes to every typed call.

mod support;

use std::sync::Mutex;

use jbr::api::{ApiError, Client, DestinationMethod};
use jbr::transport::{RawOutput, Transport, TransportError};
use serde_json::Value;

use support::rng::Rng;

/// Answers every call with the same bytes (exit 0).
struct Canned {
    stdout: Vec<u8>,
    calls: Mutex<u32>,
}

impl Transport for Canned {
    fn server(&self) -> &str {
        "web-01"
    }
    async fn run(&self, _argv: &[String]) -> Result<RawOutput, TransportError> {
        *self.calls.lock().unwrap() += 1;
        Ok(RawOutput {
            status: Some(0),
            stdout: self.stdout.clone(),
            stderr: Vec::new(),
        })
    }
}

const JUNK: &[&str] = &[
    "null",
    "{}",
    "[]",
    "\"\"",
    "1e999",
    "-1",
    "18446744073709551616",
    "{\"a\":[[[[",
    "\\u0000",
    "\"\\ud800\"",
    "\u{0}",
    "\u{feff}",
    "PHP Fatal error: Allowed memory size exhausted",
    ",",
    "}",
    "]",
    "\n",
];

fn replacement(rng: &mut Rng) -> Value {
    match rng.below(10) {
        0 => Value::Null,
        1 => Value::String(String::new()),
        2 => Value::String("é\u{0}\"'; rm -rf /".into()),
        3 => serde_json::json!(1e308),
        4 => serde_json::json!(-1),
        5 => serde_json::json!(u64::MAX),
        6 => serde_json::json!({"_id": {"$oid": 1}}),
        7 => serde_json::json!([[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]),
        8 => serde_json::json!(true),
        _ => serde_json::json!("2023-13-45T99:99:99+99:99"),
    }
}

/// Every JSON pointer in `v` (the root included).
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                pointers(
                    child,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                pointers(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mangle {
    CutShort,
    Overwrite,
    Insert,
    SwapValue,
    Unsuccessful,
}

fn mangle(rng: &mut Rng, original: &[u8]) -> (Mangle, Vec<u8>) {
    let kind = [
        Mangle::CutShort,
        Mangle::Overwrite,
        Mangle::Insert,
        Mangle::SwapValue,
        Mangle::SwapValue,
        Mangle::Unsuccessful,
    ][rng.below(6)];
    let mut bytes = original.to_vec();
    match kind {
        Mangle::CutShort => bytes.truncate(rng.below(original.len())),
        Mangle::Overwrite => {
            for _ in 0..=rng.below(4) {
                let at = rng.below(bytes.len());
                const BYTES: &[u8] = b"\"{}[],:0a\\\x00\xff";
                bytes[at] = BYTES[rng.below(BYTES.len())];
            }
        }
        Mangle::Insert => {
            let at = rng.below(bytes.len() + 1);
            let junk = JUNK[rng.below(JUNK.len())].as_bytes();
            bytes.splice(at..at, junk.iter().copied());
        }
        Mangle::SwapValue => {
            let mut v: Value = serde_json::from_slice(original).expect("fixture is JSON");
            let mut all = Vec::new();
            pointers(&v, String::new(), &mut all);
            let at = all[rng.below(all.len())].clone();
            if let Some(slot) = v.pointer_mut(&at) {
                *slot = replacement(rng);
            }
            bytes = serde_json::to_vec(&v).expect("serialize");
        }
        Mangle::Unsuccessful => {
            let mut v: Value = serde_json::from_slice(original).expect("fixture is JSON");
            if let Some(m) = v.as_object_mut() {
                let refusal = [
                    serde_json::json!(0),
                    serde_json::json!(false),
                    serde_json::json!("0"),
                ][rng.below(3)]
                .clone();
                m.insert("success".into(), refusal);
            }
            bytes = serde_json::to_vec(&v).expect("serialize");
        }
    }
    (kind, bytes)
}

/// Every typed call on one canned answer: whether each came back `Ok`.
async fn every_call(stdout: &[u8]) -> Vec<(&'static str, bool)> {
    let c = Client::new(Canned {
        stdout: stdout.to_vec(),
        calls: Mutex::new(0),
    });
    let id = "6508e9aed49adbd1660f06d9";
    let ok = |r: Result<(), ApiError>| r.is_ok();
    let out = vec![
        ("ping", ok(c.ping().await)),
        ("getBackupJob", c.get_backup_job(id).await.is_ok()),
        ("listBackupJobs", c.list_backup_jobs().await.is_ok()),
        (
            "runBackupJobManually",
            c.run_backup_job_manually(id).await.is_ok(),
        ),
        ("manageBackupJob", ok(c.set_job_disabled(id, true).await)),
        ("getDestination", c.get_destination(id).await.is_ok()),
        ("listDestinations", c.list_destinations().await.is_ok()),
        (
            "manageDestinationState",
            ok(
                c.set_destination_disabled(id, false, DestinationMethod::State)
                    .await,
            ),
        ),
        (
            "listQueueGroups",
            c.list_backup_queue_groups().await.is_ok(),
        ),
        ("getQueueGroup", c.get_queue_group(id).await.is_ok()),
        ("listQueueItems", c.list_queue_items(id).await.is_ok()),
        ("stopQueueGroup", ok(c.stop_queue_group(id).await)),
        ("listLogs", c.list_job_logs(id).await.is_ok()),
        ("getLog", c.get_log(id).await.is_ok()),
        ("listLogItems", c.list_log_items(id).await.is_ok()),
        ("getLogItem", c.get_log_item(id, id).await.is_ok()),
    ];
    // Paged lists stop when a page brings nothing new: bounded even on a hostile server.
    let calls = *c.transport().calls.lock().unwrap();
    assert!(calls <= 40, "{calls} calls for one canned answer");
    out
}

#[tokio::test]
async fn mangled_answers_are_values_or_errors_never_panics_or_false_successes() {
    let dir = format!("{}/tests/fixtures/api", env!("CARGO_MANIFEST_DIR"));
    let mut fixtures: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    fixtures.sort();
    assert!(fixtures.len() >= 10, "{fixtures:?}");
    let mut rng = Rng(0x6d61_6e67_6c65_6421);
    let mut tried = 0;
    let mut failures = Vec::new();
    for path in &fixtures {
        let original = std::fs::read(path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        for case in 0..200 {
            let (kind, bytes) = mangle(&mut rng, &original);
            tried += 1;
            let answers = every_call(&bytes).await;
            // Cut short or refused, nothing may read as a success. (A cut can leave valid
            // JSON only when it removes nothing but trailing white space.)
            let cut_to_garbage =
                kind == Mangle::CutShort && serde_json::from_slice::<Value>(&bytes).is_err();
            if cut_to_garbage || kind == Mangle::Unsuccessful {
                for (function, ok) in &answers {
                    if *ok && *function != "ping" {
                        failures.push(format!(
                            "{name} case {case} ({kind:?}): {function} took {:?} as a success",
                            String::from_utf8_lossy(&bytes)
                        ));
                    }
                }
            }
        }
    }
    assert!(tried >= 2000, "{tried}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
