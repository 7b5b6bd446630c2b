//! `monitoring.healthcheck_url`: a Healthchecks ping URL, checked strictly and never printed.
//!
//! The URL's path is the check's secret (its UUID or ping key): anyone who has it can report the
//! night as fine. So the URL prints as `https://hc-ping.com` (scheme and host, the port when
//! it is not the scheme's default), in `Display` and `Debug` alike, and no parse error quotes it.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// A parsed ping URL. `path` has no trailing `/`, so `/start` and `/fail` append cleanly.
#[derive(Clone, PartialEq, Eq)]
pub struct PingUrl {
    scheme: Scheme,
    /// Lower case; an IPv6 address without its brackets.
    host: String,
    port: u16,
    path: String,
}

/// Why a ping URL was refused: what is wrong, and what to do. Neither quotes the URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlProblem {
    pub message: String,
    pub hint: String,
}

fn problem(message: impl Into<String>, hint: impl Into<String>) -> UrlProblem {
    UrlProblem {
        message: message.into(),
        hint: hint.into(),
    }
}

const EXAMPLE: &str = "e.g. https://hc-ping.com/<uuid>, as the check's page shows it";

impl PingUrl {
    pub fn parse(raw: &str) -> Result<PingUrl, UrlProblem> {
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(problem(
                "the URL contains spaces or control characters",
                "write the URL alone, without quotes or line breaks",
            ));
        }
        let (scheme, rest) = match raw.split_once("://") {
            Some((s, rest)) if s.eq_ignore_ascii_case("http") => (Scheme::Http, rest),
            Some((s, rest)) if s.eq_ignore_ascii_case("https") => (Scheme::Https, rest),
            Some((s, _))
                if !s.is_empty()
                    && s.len() <= 10
                    && s.chars().all(|c| c.is_ascii_alphanumeric()) =>
            {
                return Err(problem(
                    format!("scheme {s:?} is not http or https"),
                    EXAMPLE,
                ));
            }
            _ => return Err(problem("not an http:// or https:// URL", EXAMPLE)),
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if authority.contains('@') {
            return Err(problem(
                "a user name or password in the URL is not supported",
                "Healthchecks authenticates a ping by its URL alone",
            ));
        }
        let (host, port) = host_port(authority, scheme)?;
        if tail.contains(['?', '#']) {
            return Err(problem(
                "the URL has a query or fragment ('?…' or '#…')",
                "jbr appends /start, /fail and ?rid= itself; give the plain ping URL",
            ));
        }
        if let Some(bad) = tail.chars().find(|c| !is_path_char(*c)) {
            let hint = "percent-encode it (%XX)";
            return Err(problem(
                format!("the URL's path has a character that is not allowed there ({bad:?})"),
                hint,
            ));
        }
        if !percent_escapes_ok(tail) {
            return Err(problem(
                "the URL's path has a '%' that is not followed by two hex digits",
                "percent-encode it (%XX)",
            ));
        }
        let path = tail.trim_end_matches('/');
        if path.is_empty() {
            return Err(problem(
                "the URL has no path: a ping URL ends in the check's UUID or ping key",
                EXAMPLE,
            ));
        }
        Ok(PingUrl {
            scheme,
            host,
            port,
            path: path.to_string(),
        })
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host to connect to and to name in TLS (an IPv6 address without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The secret part: the path, without a trailing `/`. Only the HTTP request may carry it.
    pub fn expose_path(&self) -> &str {
        &self.path
    }

    /// `host` or `host:port` as HTTP's `Host` header wants it (IPv6 in brackets).
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == self.scheme.default_port() {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// What may be shown: `https://hc-ping.com`, never the path.
    pub fn redacted(&self) -> String {
        format!("{}://{}", self.scheme.as_str(), self.authority())
    }
}

impl fmt::Display for PingUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for PingUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PingUrl({}/***)", self.redacted())
    }
}

fn host_port(authority: &str, scheme: Scheme) -> Result<(String, u16), UrlProblem> {
    let no_host = || problem("the URL has no host", EXAMPLE);
    let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
        let Some((v6, after)) = inner.split_once(']') else {
            return Err(problem("an IPv6 address without its closing ']'", EXAMPLE));
        };
        if v6.is_empty()
            || !v6
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        {
            return Err(problem("not an IPv6 address inside '[…]'", EXAMPLE));
        }
        match after {
            "" => (v6, None),
            p => match p.strip_prefix(':') {
                Some(port) => (v6, Some(port)),
                None => return Err(problem("unexpected text after ']'", EXAMPLE)),
            },
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(no_host());
    }
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_');
    if !host.contains(':') && !host.chars().all(plain) {
        return Err(problem(
            "the host name has a character that is not allowed in one",
            "letters, digits, '-' and '.' (an IPv6 address goes in [brackets])",
        ));
    }
    let port = match port {
        None => scheme.default_port(),
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 && p.chars().all(|c| c.is_ascii_digit()) => n,
            _ => return Err(problem("the port is not a number from 1 to 65535", EXAMPLE)),
        },
    };
    Ok((host.to_ascii_lowercase(), port))
}

/// RFC 3986 `pchar` and `/`: what a request target's path may hold unencoded.
fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@/%".contains(c)
}

fn percent_escapes_ok(path: &str) -> bool {
    let b = path.as_bytes();
    b.iter().enumerate().all(|(i, &c)| {
        c != b'%'
            || (b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "5bf66975-d4c7-4bf5-bcc8-b8d8a82ea278";

    #[test]
    fn a_healthchecks_url_parses_and_prints_without_its_key() {
        let u = PingUrl::parse(&format!("https://hc-ping.com/{KEY}/")).unwrap();
        assert_eq!(u.scheme(), Scheme::Https);
        assert_eq!(u.host(), "hc-ping.com");
        assert_eq!(u.port(), 443);
        assert_eq!(u.expose_path(), format!("/{KEY}"));
        assert_eq!(u.to_string(), "https://hc-ping.com");
        assert_eq!(format!("{u:?}"), "PingUrl(https://hc-ping.com/***)");
        assert!(!format!("{:?}", Some(u.clone())).contains(KEY));
    }

    #[test]
    fn ports_and_addresses() {
        let u = PingUrl::parse("http://127.0.0.1:8000/ping/abc").unwrap();
        assert_eq!((u.host(), u.port()), ("127.0.0.1", 8000));
        assert_eq!(u.authority(), "127.0.0.1:8000");
        assert_eq!(u.redacted(), "http://127.0.0.1:8000");
        let u = PingUrl::parse("HTTPS://[::1]:8443/ping/abc").unwrap();
        assert_eq!((u.host(), u.port()), ("::1", 8443));
        assert_eq!(u.redacted(), "https://[::1]:8443");
        let u = PingUrl::parse("https://HC.Example.org:443/x").unwrap();
        assert_eq!(u.redacted(), "https://hc.example.org");
    }

    #[test]
    fn refusals_never_quote_the_url() {
        for bad in [
            "hc-ping.com/SECRETKEY",
            "ftp://hc-ping.com/SECRETKEY",
            "https:///SECRETKEY",
            "https://user:pw@hc-ping.com/SECRETKEY",
            "https://hc-ping.com:0/SECRETKEY",
            "https://hc-ping.com:99999/SECRETKEY",
            "https://hc-ping.com/SECRETKEY?x=1",
            "https://hc-ping.com/SECRETKEY#x",
            "https://hc-ping.com/SECRET KEY",
            "https://hc-ping.com/SECRETKEY%zz",
            "https://hc-ping.com/SECRETKEY\"",
            "https://hc ping.com/SECRETKEY",
            "https://hc-ping.com",
            "https://hc-ping.com/",
            "https://[::1/SECRETKEY",
        ] {
            let e = PingUrl::parse(bad).expect_err(bad);
            assert!(
                !e.message.contains("SECRET") && !e.hint.contains("SECRET"),
                "{bad}: {e:?}"
            );
        }
    }
}
