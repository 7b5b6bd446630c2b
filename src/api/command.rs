//! One call as an argv: `jetbackup5api -F FN [-D 'k1=v1&k2=v2'] -O json` (the transport
//! escapes; no quotes here). A key or value outside the contract's grammar is refused before
//! anything is sent: it could only come from a typo in the config or a server we should not
//! trust.

use super::ApiError;
use crate::contract::{PROGRAM, valid_key, valid_value};

/// Builds the argv for one call, checking every pair first.
pub fn build_argv(
    server: &str,
    function: &'static str,
    params: &[(&str, &str)],
) -> Result<Vec<String>, ApiError> {
    let bad = |key: &str, value: &str, why: &str| ApiError::BadValue {
        server: server.to_string(),
        function,
        key: key.to_string(),
        value: value.to_string(),
        why: why.to_string(),
    };
    let mut data = String::new();
    for (key, value) in params {
        if !valid_key(key) {
            return Err(bad(
                key,
                value,
                "the key has a character outside [A-Za-z0-9_.[]]",
            ));
        }
        if !valid_value(value) {
            return Err(bad(
                key,
                value,
                "the value has a character outside [A-Za-z0-9_.:-]",
            ));
        }
        if !data.is_empty() {
            data.push('&');
        }
        data.push_str(key);
        data.push('=');
        data.push_str(value);
    }
    let mut argv = vec![PROGRAM.to_string(), "-F".to_string(), function.to_string()];
    // One `-D` only: with several, manageBackupJob silently dropped `action=modify` in production.
    if !data.is_empty() {
        argv.push("-D".to_string());
        argv.push(data);
    }
    argv.push("-O".to_string());
    argv.push("json".to_string());
    Ok(argv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_contract_grammar() {
        let argv = build_argv(
            "web-01",
            "manageBackupJob",
            &[
                ("_id", "6508e9aed49adbd1660f06d9"),
                ("action", "modify"),
                ("disabled", "1"),
            ],
        )
        .unwrap();
        assert_eq!(
            argv,
            [
                "jetbackup5api",
                "-F",
                "manageBackupJob",
                "-D",
                "_id=6508e9aed49adbd1660f06d9&action=modify&disabled=1",
                "-O",
                "json"
            ]
        );
        let argv = build_argv("web-01", "listDestinations", &[]).unwrap();
        assert_eq!(
            argv,
            ["jetbackup5api", "-F", "listDestinations", "-O", "json"]
        );
    }

    #[test]
    fn refuses_values_outside_the_grammar_naming_server_function_and_key() {
        for value in [
            "abc&disabled=0",
            "a b",
            "x'y",
            "$(reboot)",
            "a;b",
            "50%",
            "a=b",
            "a\nb",
        ] {
            let err = build_argv("web-01", "getBackupJob", &[("_id", value)]).unwrap_err();
            let text = err.to_string();
            assert!(
                text.contains("server web-01")
                    && text.contains("getBackupJob")
                    && text.contains("_id"),
                "{text}"
            );
            assert!(matches!(err, ApiError::BadValue { .. }));
        }
        assert!(
            build_argv(
                "web-01",
                "listLogs",
                &[
                    ("find[info.ID]", "6508e9aed49adbd1660f06d9"),
                    ("sort[start_time]", "-1")
                ]
            )
            .is_ok()
        );
        assert!(build_argv("web-01", "listLogs", &[("find info", "1")]).is_err());
        assert!(build_argv("web-01", "listLogs", &[("", "1")]).is_err());
    }
}
