//! systemd's readiness protocol (`sd_notify(3)`), in the few lines it takes: when systemd starts
//! a `Type=notify` service it sets `NOTIFY_SOCKET`, and the service sends `READY=1` and
//! `STATUS=…` as datagrams to that Unix socket. A path starting with `@` names a socket in the
//! abstract namespace. Without `NOTIFY_SOCKET` every send is a no-op, so `jbr daemon` behaves
//! the same from a terminal.

use std::os::unix::net::UnixDatagram;

/// Where the notifications go; `None` when systemd did not ask for them.
#[derive(Debug)]
pub struct Notifier {
    target: Option<(UnixDatagram, String)>,
}

impl Notifier {
    /// From `NOTIFY_SOCKET`. A socket that cannot be created is one warning: readiness is a
    /// courtesy to systemd and must never stop the backups.
    pub fn from_env() -> Notifier {
        match std::env::var("NOTIFY_SOCKET") {
            Ok(path) if !path.is_empty() => Notifier::to(&path),
            _ => Notifier { target: None },
        }
    }

    /// To the socket `path` (`@name`: the abstract namespace), as `NOTIFY_SOCKET` names it.
    pub fn to(path: &str) -> Notifier {
        let target = match UnixDatagram::unbound() {
            Ok(socket) => Some((socket, path.to_string())),
            Err(e) => {
                tracing::warn!("NOTIFY_SOCKET {path}: cannot create a socket: {e}");
                None
            }
        };
        Notifier { target }
    }

    /// `READY=1`: the daemon is up (systemd's `Type=notify` start is done).
    pub fn ready(&self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={}", one_line(status)));
    }

    /// `STATUS=…`, shown by `systemctl status`.
    pub fn status(&self, status: &str) {
        self.send(&format!("STATUS={}", one_line(status)));
    }

    /// `STOPPING=1`: the daemon is shutting down on purpose.
    pub fn stopping(&self, status: &str) {
        self.send(&format!("STOPPING=1\nSTATUS={}", one_line(status)));
    }

    fn send(&self, message: &str) {
        let Some((socket, path)) = &self.target else {
            return;
        };
        let sent = match path.strip_prefix('@') {
            Some(name) => {
                abstract_addr(name).and_then(|a| socket.send_to_addr(message.as_bytes(), &a))
            }
            None => socket.send_to(message.as_bytes(), path),
        };
        if let Err(e) = sent {
            tracing::debug!("NOTIFY_SOCKET {path}: {e}");
        }
    }
}

fn abstract_addr(name: &str) -> std::io::Result<std::os::unix::net::SocketAddr> {
    use std::os::linux::net::SocketAddrExt;
    std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
}

/// A STATUS value is one line: a newline would start a new (unknown) variable.
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::linux::net::SocketAddrExt;

    fn received(socket: &UnixDatagram) -> String {
        let mut buf = [0u8; 256];
        socket
            .set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .unwrap();
        let n = socket.recv(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    #[test]
    fn a_path_and_an_abstract_name_both_get_one_line_statuses() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let socket = UnixDatagram::bind(&path).unwrap();
        let n = Notifier::to(&path.display().to_string());
        n.ready("next cycle at 01:30\nsecond line");
        assert_eq!(
            received(&socket),
            "READY=1\nSTATUS=next cycle at 01:30 second line"
        );

        let name = format!("jbr-test-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let socket = UnixDatagram::bind_addr(&addr).unwrap();
        Notifier::to(&format!("@{name}")).status("cycle 1");
        assert_eq!(received(&socket), "STATUS=cycle 1");
    }
}
