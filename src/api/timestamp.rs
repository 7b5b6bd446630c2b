//! A server time as sent and as epoch seconds (the ISO-8601 rules are `contract::time`'s).

use super::Timestamp;
use crate::contract::time::{format_iso8601, parse_iso8601};

impl Timestamp {
    /// Parses what the server sent. Empty strings are "no time" and give `None`; anything else
    /// keeps its raw text even when it does not parse, so a report can still show it.
    pub fn parse(raw: &str) -> Option<Timestamp> {
        let raw = raw.trim();
        if raw.is_empty() {
            return None;
        }
        Some(Timestamp {
            raw: raw.to_string(),
            epoch: parse_iso8601(raw),
        })
    }

    /// A timestamp for epoch seconds, in the server's format (UTC, `+00:00`).
    pub fn from_epoch(epoch: f64) -> Timestamp {
        Timestamp {
            raw: format_iso8601(epoch),
            epoch: Some(epoch.floor()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_raw_text_and_the_epoch() {
        let ts = Timestamp::parse("2024-02-29T12:00:00+00:00").unwrap();
        assert_eq!(ts.epoch, Some(1_709_208_000.0));
        assert_eq!(Timestamp::parse("  "), None);
        assert_eq!(Timestamp::parse("yesterday").unwrap().epoch, None);
        assert_eq!(Timestamp::from_epoch(0.5).raw, "1970-01-01T00:00:00+00:00");
    }
}
