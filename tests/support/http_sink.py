"""A Healthchecks stand-in for the ping tests: Python's own http.server on 127.0.0.1.

Every request is appended to LOG as one JSON line (method, path, query, headers, body) before
it is answered, so a test sees the attempts a hanging server never answered too.

    http_sink.py LOG [--status N] [--hang REGEX] [--tls CERT KEY]

--status N     answer N (default 200, body "OK")
--hang REGEX   read the request, log it, then never answer when the path matches REGEX
--tls CERT KEY speak HTTPS with that certificate

Prints the port it listens on, then serves until stdin closes (the test's handle) or it is
killed.
"""

import argparse
import json
import re
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("--status", type=int, default=200)
    ap.add_argument("--hang")
    ap.add_argument("--tls", nargs=2)
    args = ap.parse_args()
    lock = threading.Lock()
    hang = re.compile(args.hang) if args.hang else None

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            self.handle_any()

        def do_GET(self):
            self.handle_any()

        def handle_any(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            record = {
                "method": self.command,
                "path": parts.path,
                "query": parts.query,
                "version": self.request_version,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode("utf-8", errors="replace"),
                "body_len": len(body),
                "utf8": _is_utf8(body),
            }
            with lock:
                with open(args.log, "a", encoding="utf-8") as f:
                    f.write(json.dumps(record) + "\n")
            if hang and hang.search(parts.path):
                time.sleep(600)
                return
            answer = b"OK" if args.status < 300 else b"no"
            self.send_response(args.status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(answer)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, fmt, *a):
            sys.stderr.write(fmt % a + "\n")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if args.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls[0], args.tls[1])
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    # The test holds our stdin: when it goes away, so do we.
    sys.stdin.read()


def _is_utf8(b):
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


if __name__ == "__main__":
    main()
