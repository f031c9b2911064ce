#!/usr/bin/env python3
"""A real SMTP server for corkboard's tests, written by others: Debian's
python3-aiosmtpd, on loopback, with STARTTLS required before anything but
EHLO, and AUTH (only over TLS) required before MAIL, for one account.
Each accepted message is written, as received, to a file in a directory.

    SMTP_TEST_USER=u SMTP_TEST_PASSWORD=p /usr/bin/python3 server.py \
        --cert cert.pem --key key.pem --maildir DIR --addr-file FILE

It writes "127.0.0.1:PORT" to the address file once it listens, and runs
until SIGTERM or SIGINT. .ci/run starts it; TestRealSMTPServer in
auth/mail_real_test.go sends through it.
"""

import argparse
import os
import signal
import socket
import ssl
import sys
import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class SaveHandler:
    """Writes each message's bytes to maildir: a temporary file, then a
    rename, so a reader never sees half a message."""

    def __init__(self, maildir):
        self.maildir = maildir
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        name = "%d-%d.eml" % (time.time_ns(), self.count)
        tmp = os.path.join(self.maildir, "." + name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(envelope.original_content)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, os.path.join(self.maildir, name))
        return "250 2.0.0 saved as " + name


def authenticator_for(user, password):
    """Accepts one login and password, by AUTH PLAIN or LOGIN."""

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == user.encode()
            and auth_data.password == password.encode()
        )
        return AuthResult(success=ok, handled=False)

    return authenticate


def free_port():
    """A loopback port nothing listens on. Controller checks that its server
    answers by connecting to the port it was given, so it needs a real
    number rather than 0."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cert", required=True, help="PEM certificate for STARTTLS")
    p.add_argument("--key", required=True, help="PEM private key for STARTTLS")
    p.add_argument("--maildir", required=True, help="where to write messages")
    p.add_argument("--addr-file", required=True, help="where to write host:port")
    p.add_argument("--port", type=int, default=0, help="0: a free port")
    args = p.parse_args()
    user = os.environ.get("SMTP_TEST_USER", "")
    password = os.environ.get("SMTP_TEST_PASSWORD", "")
    if not user or not password:
        sys.exit("server.py: set SMTP_TEST_USER and SMTP_TEST_PASSWORD")
    os.makedirs(args.maildir, exist_ok=True)

    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.minimum_version = ssl.TLSVersion.TLSv1_2
    tls.load_cert_chain(args.cert, args.key)

    # The port is picked before the server binds it; should another process
    # take it in between, try another.
    for attempt in range(5):
        port = args.port or free_port()
        controller = Controller(
            SaveHandler(args.maildir),
            hostname="127.0.0.1",
            port=port,
            server_hostname="localhost",
            tls_context=tls,
            require_starttls=True,
            auth_required=True,
            auth_require_tls=True,
            authenticator=authenticator_for(user, password),
        )
        try:
            controller.start()
            break
        except Exception as e:  # the port was taken
            print("server.py: port %d: %s" % (port, e), file=sys.stderr)
            if args.port or attempt == 4:
                raise
    tmp = args.addr_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("127.0.0.1:%d\n" % port)
    os.rename(tmp, args.addr_file)
    print("server.py: listening on 127.0.0.1:%d" % port, file=sys.stderr, flush=True)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
