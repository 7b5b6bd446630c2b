//! The shipped example documents every key: it sets each one, and README names each one.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

fn keys_in(v: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let Some(top) = v.as_object() else {
        return out;
    };
    for (k, v) in top {
        out.insert(k.clone());
        match (k.as_str(), v) {
            ("servers", Value::Object(servers)) => {
                for server in servers.values().filter_map(Value::as_object) {
                    out.extend(server.keys().map(|sk| format!("servers.*.{sk}")));
                }
            }
            ("jobs", Value::Array(jobs)) => {
                for job in jobs.iter().filter_map(Value::as_object) {
                    out.extend(job.keys().map(|jk| format!("jobs[].{jk}")));
                }
            }
            (_, Value::Object(section)) => {
                out.extend(section.keys().map(|sk| format!("{k}.{sk}")));
            }
            _ => {}
        }
    }
    out
}

#[test]
fn the_example_sets_every_known_key_and_nothing_else() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("config.example.json")).unwrap();
    let example = keys_in(&serde_json::from_str(&text).unwrap());
    let known: BTreeSet<String> = jbr::config::known_keys().into_iter().collect();
    // `ssh_key` is the one key the example cannot set: a key file that does not exist is an
    // error, and a repository never ships a private key. README documents it.
    let missing: Vec<_> = known
        .difference(&example)
        .filter(|k| !matches!(k.as_str(), "ssh_key" | "servers.*.ssh_key"))
        .collect();
    let unknown: Vec<_> = example.difference(&known).collect();
    assert!(missing.is_empty(), "example does not set {missing:?}");
    assert!(unknown.is_empty(), "example sets unknown {unknown:?}");
}

#[test]
fn the_readme_names_every_key() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    for key in jbr::config::known_keys() {
        let leaf = key.rsplit('.').next().unwrap();
        assert!(
            readme.contains(&format!("`{leaf}")) || readme.contains(&format!(".{leaf}`")),
            "README does not document {key}"
        );
    }
}
