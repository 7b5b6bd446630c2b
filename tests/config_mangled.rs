//! `validate` on a thousand broken versions of `config.example.json`: never a panic, and a value
//! of the wrong kind is always an error that names where it is (invariant 5).
//!
//! A deterministic generator (so a failure names its case) swaps one value anywhere in the file
//! for another kind (null, text, a huge, negative or fractional number, an object, an array,
//! true), deletes a key, or adds an unknown one. When a plain value (not an object or a list)
//! becomes an object or a list, no key of the contract can take it: that must be an error whose
//! path is the value's own, or the key or section that holds it (a warning for `loop.*`, which
//! only `jbr daemon` uses, and it refuses to start on such a value).

mod support;

use std::path::Path;

use jbr::config::{CheckMode, load_str};
use serde_json::Value;

use support::rng::Rng;

/// Every value in `v` with its JSON pointer and the path `validate` writes for it
/// (`servers.web-01.port`, `jobs[0].timeout`).
fn places(v: &Value, pointer: String, path: String, out: &mut Vec<(String, String, bool)>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                places(child, format!("{pointer}/{k}"), p, out);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                places(child, format!("{pointer}/{i}"), format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
    let leaf = !v.is_object() && !v.is_array();
    if !pointer.is_empty() {
        out.push((pointer, path, leaf));
    }
}

fn replacement(rng: &mut Rng) -> Value {
    match rng.below(9) {
        0 => Value::Null,
        1 => serde_json::json!(""),
        2 => serde_json::json!("é\u{0}\n\"'; rm -rf /"),
        3 => serde_json::json!(1e308),
        4 => serde_json::json!(-1),
        5 => serde_json::json!(0.001),
        6 => serde_json::json!(true),
        7 => serde_json::json!({"nested": {"deeper": [1, 2]}}),
        _ => serde_json::json!([[[["x"]]]]),
    }
}

#[test]
fn a_thousand_broken_configs_are_errors_with_their_path_never_panics() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let original: Value = serde_json::from_str(&text).unwrap();
    let env = |_: &str| Some("secret-from-env".to_string());
    let mut rng = Rng(0x636f_6e66_6967_2121);
    let mut failures = Vec::new();
    let mut checked_kind_errors = 0;
    for case in 0..1000 {
        let mut v = original.clone();
        let mut all = Vec::new();
        places(&v, String::new(), String::new(), &mut all);
        let (pointer, at, leaf) = all[rng.below(all.len())].clone();
        let new = replacement(&mut rng);
        let becomes_container = leaf && (new.is_object() || new.is_array());
        match rng.below(5) {
            0 => {
                // Delete the key (or list entry) instead.
                let (parent, last) = pointer.rsplit_once('/').unwrap();
                match v.pointer_mut(if parent.is_empty() { "" } else { parent }) {
                    Some(Value::Object(m)) => {
                        m.remove(last);
                    }
                    Some(Value::Array(a)) => {
                        a.remove(last.parse::<usize>().unwrap());
                    }
                    _ => {}
                }
            }
            1 => {
                if let Some(Value::Object(m)) = v.pointer_mut(&pointer) {
                    m.insert("pol_interval".into(), new.clone());
                } else {
                    *v.pointer_mut(&pointer).unwrap() = new.clone();
                }
            }
            _ => *v.pointer_mut(&pointer).unwrap() = new.clone(),
        }
        let mangled = serde_json::to_string_pretty(&v).unwrap();
        let what = format!("case {case}: {pointer} -> {new}");
        let loaded = match load_str(&mangled, &path, CheckMode::Validate, &env) {
            Ok(l) => l,
            Err(e) => {
                failures.push(format!("{what}: valid JSON refused as a whole: {e}"));
                continue;
            }
        };
        for p in &loaded.problems {
            if p.message.trim().is_empty() {
                failures.push(format!("{what}: a problem without a message: {p:?}"));
            }
        }
        if becomes_container && *v.pointer(&pointer).unwrap_or(&Value::Null) == new {
            checked_kind_errors += 1;
            // loop.* is only jbr daemon's (which refuses to start on it): a warning is enough.
            let unused = at.starts_with("loop.");
            let named = loaded.problems.iter().any(|p| {
                (p.is_error() || unused)
                    && !p.json_path.is_empty()
                    && (at == p.json_path
                        || at.starts_with(&format!("{}.", p.json_path))
                        || at.starts_with(&format!("{}[", p.json_path)))
            });
            if !named {
                failures.push(format!(
                    "{what}: no error names {at}; problems: {:?}",
                    loaded
                        .problems
                        .iter()
                        .map(|p| format!("{} {}", p.json_path, p.message))
                        .collect::<Vec<_>>()
                ));
            }
        }
    }
    assert!(checked_kind_errors > 100, "{checked_kind_errors}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
