"""A real SMTP server for jbr's email tests: aiosmtpd on 127.0.0.1.

Listens on a port the OS picks and prints it on stdout (no free-port race), stores every message
in a Maildir (the Mailbox handler adds X-MailFrom / X-RcptTo with the envelope) and, decoded, in
DIR/json/NNNN.json (parsed with Python's email package: every MIME part decoded), and optionally
speaks STARTTLS (required) or SMTPS and requires AUTH. Each AUTH attempt is logged as
"MECHANISM LOGIN ok|bad" (never the password). Exits when its stdin closes, so it cannot outlive
the test process even when that one is killed.
"""

import argparse
import asyncio
import email
import email.policy
import json
import os
import ssl
import sys
import threading

from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Sink(Mailbox):
    """The Maildir, plus one JSON file per message in DIR/json/ with what a mail client would
    show (decoded subject, text body and every part) and the envelope, so tests need no MIME
    decoder."""

    def __init__(self, maildir):
        super().__init__(maildir)
        self.json_dir = os.path.join(maildir, "json")
        os.makedirs(self.json_dir, exist_ok=True)
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        # Every leaf part, decoded (transfer encoding and charset), in order; "body" is what a
        # text-only client shows: the plain part of a multipart/alternative.
        parts = [
            {
                "content_type": p.get_content_type(),
                "charset": p.get_content_charset(),
                "body": p.get_content(),
            }
            for p in msg.walk()
            if not p.is_multipart()
        ]
        plain = msg.get_body(preferencelist=("plain",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "from": str(msg["from"]),
            "to": str(msg["to"]),
            "subject": str(msg["subject"]),
            "content_type": msg.get_content_type(),
            "body": plain.get_content() if plain is not None else "",
            "parts": parts,
            "raw": envelope.content.decode("utf-8", "replace"),
        }
        self.count += 1
        name = os.path.join(self.json_dir, f"{self.count:04}.json")
        with open(name + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(name + ".tmp", name)
        return await super().handle_DATA(server, session, envelope)


def tls_context(cert, key):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


def main():
    p = argparse.ArgumentParser()
    p.add_argument("maildir")
    p.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--smtps", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--auth", metavar="USER:PASSWORD")
    p.add_argument("--auth-log")
    p.add_argument("--port", type=int, default=0)
    args = p.parse_args()

    authenticator = None
    if args.auth:
        user, password = args.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, data):
            ok = (
                isinstance(data, LoginPassword)
                and data.login.decode() == user
                and data.password.decode() == password
            )
            login = data.login.decode() if isinstance(data, LoginPassword) else "?"
            with open(args.auth_log, "a") as log:
                log.write(f"{mechanism} {login} {'ok' if ok else 'bad'}\n")
            # handled=False: aiosmtpd itself answers 535 (the default, True, sends no reply at all).
            return AuthResult(success=ok, handled=False)

    handler = Sink(args.maildir)
    starttls = tls_context(*args.starttls) if args.starttls else None
    smtps = tls_context(*args.smtps) if args.smtps else None

    def factory():
        return SMTP(
            handler,
            hostname="sink.jbr.test",
            tls_context=starttls,
            require_starttls=starttls is not None,
            authenticator=authenticator,
            auth_required=authenticator is not None,
            # STARTTLS is already required when configured; plain + AUTH is a legal (if unwise)
            # production setup that jbr must be able to use.
            auth_require_tls=False,
        )

    async def serve():
        server = await asyncio.get_running_loop().create_server(
            factory, "127.0.0.1", args.port, ssl=smtps
        )
        print(server.sockets[0].getsockname()[1], flush=True)
        await server.serve_forever()

    def exit_when_orphaned():
        sys.stdin.read()
        os._exit(0)

    threading.Thread(target=exit_when_orphaned, daemon=True).start()
    asyncio.run(serve())


if __name__ == "__main__":
    main()
