//! What may reach a server: `echo jbr-ping`, or `jetbackup5api -F FN [-D 'k1=v1&k2=v2'] [-O
//! json|plain]` with FN allowed and every pair in the grammar.

/// The program every API call runs on the server.
pub const PROGRAM: &str = "jetbackup5api";

/// The connectivity check's argument (`echo jbr-ping`); the older tool's is still answered.
pub const PING: &str = "jbr-ping";
pub const PING_LEGACY: &str = "jetbackup-remote-ok";

/// What `server/jbr-gate` lets through. The contract's optional `clearQueue` is left out, as
/// the gate leaves it out: it clears every finished group on the server, and jbr never needs it.
pub const ALLOWED_FUNCTIONS: &[&str] = &[
    "getBackupJob",
    "listBackupJobs",
    "runBackupJobManually",
    "manageBackupJob",
    "getDestination",
    "listDestinations",
    "manageDestinationState",
    "manageDestination",
    "listQueueGroups",
    "getQueueGroup",
    "listQueueItems",
    "stopQueueGroup",
    "listLogs",
    "getLog",
    "listLogItems",
    "getLogItem",
];

/// `manage*`, `run*`, `stop*` (and `clearQueue`) change a server; everything else only reads.
pub fn is_write(function: &str) -> bool {
    ["manage", "run", "stop", "clear"]
        .iter()
        .any(|p| function.starts_with(p))
}

/// The value characters, as error messages name them.
pub const VALUE_CHARS: &str = "letters, digits, '_', '.', ':', '-'";

/// Key characters: `[A-Za-z0-9_.\[\]]+` (brackets for `find[info.ID]`).
pub fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'[' | b']'))
}

/// Value characters: `[A-Za-z0-9_.:-]*`. No `&`, `=`, quotes, spaces or `%`: nothing that could
/// split a pair, reach a shell or need percent-encoding.
pub fn valid_value(value: &str) -> bool {
    value
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b':' | b'-'))
}

/// Checks the arguments after `jetbackup5api` as the gate does: `-F FN [-D DATA] [-O
/// json|plain]`, in that order, FN allowed, DATA in the pair grammar. `Err` names what is wrong.
pub fn check_call(args: &[String]) -> Result<(), String> {
    let mut rest = args;
    match rest {
        [f, function, tail @ ..] if f == "-F" => {
            if !ALLOWED_FUNCTIONS.contains(&function.as_str()) {
                return Err(format!("function {function:?} is not allowed"));
            }
            rest = tail;
        }
        _ => return Err("expected -F FUNCTION first".to_string()),
    }
    if let [d, data, tail @ ..] = rest
        && d == "-D"
    {
        for pair in data.split('&') {
            let (k, v) = pair
                .split_once('=')
                .ok_or(format!("malformed pair {pair:?}"))?;
            if !valid_key(k) || !valid_value(v) {
                return Err(format!("pair {pair:?} is outside the allowed grammar"));
            }
        }
        rest = tail;
    }
    if let [o, format, tail @ ..] = rest
        && o == "-O"
    {
        if format != "json" && format != "plain" {
            return Err(format!("output format {format:?} is not allowed"));
        }
        rest = tail;
    }
    match rest {
        [] => Ok(()),
        [extra, ..] => Err(format!("unexpected argument {extra:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn the_gate_grammar() {
        assert!(
            check_call(&args(
                "-F getBackupJob -D _id=6508e9aed49adbd1660f06d9 -O json"
            ))
            .is_ok()
        );
        assert!(check_call(&args("-F listDestinations")).is_ok());
        for bad in [
            "-F clearQueue",
            "-F getBackupJob -D _id=a;b",
            "-F getBackupJob -D _id",
            "-F getBackupJob -O xml",
            "-F getBackupJob -O json -D _id=a",
            "-D _id=a -F getBackupJob",
        ] {
            assert!(check_call(&args(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn writes_are_the_calls_that_change_a_server() {
        let writes: Vec<&str> = ALLOWED_FUNCTIONS
            .iter()
            .copied()
            .filter(|f| is_write(f))
            .collect();
        assert_eq!(
            writes,
            [
                "runBackupJobManually",
                "manageBackupJob",
                "manageDestinationState",
                "manageDestination",
                "stopQueueGroup"
            ]
        );
    }
}
