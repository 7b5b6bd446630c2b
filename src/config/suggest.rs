//! "Did you mean ...?" for unknown keys: most unknown keys are typos of known ones.

/// The known key closest to `unknown`, if it is close enough to be a plausible typo.
pub(crate) fn nearest<'a>(unknown: &str, known: &[&'a str]) -> Option<&'a str> {
    let unknown = unknown.to_ascii_lowercase();
    let mut best: Option<(usize, &'a str)> = None;
    for &k in known {
        let d = distance(&unknown, &k.to_ascii_lowercase());
        if best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, k));
        }
    }
    // A third of the length (at least 2 edits) catches swapped, doubled and missing letters
    // without suggesting unrelated keys.
    let limit = (unknown.chars().count() / 3).max(2);
    best.filter(|&(d, _)| d <= limit).map(|(_, k)| k)
}

/// Levenshtein distance over chars.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_typos_only() {
        let known = ["smtp_password", "smtp_port", "smtp_host", "enabled"];
        assert_eq!(nearest("smtp_pasword", &known), Some("smtp_password"));
        assert_eq!(nearest("SMTP_HOST", &known), Some("smtp_host"));
        assert_eq!(nearest("enabeld", &known), Some("enabled"));
        assert_eq!(nearest("retention", &known), None);
    }
}
