"""An SMTP relay (aiosmtpd: STARTTLS with a self-signed certificate, and a login) and a webhook
receiver, both started in the test's process, for any test that checks what the server's alerts
send (tests/server/test_alerts.py; the rollout guard's group test can use them the same way)."""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import email.policy
import ipaddress
import json
import ssl
import threading
import types
from collections.abc import Iterator
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from devtools.procs import free_port


def certificate(tmp: Path) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1: the relay's, and the CA file smtp_ca_file names."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test relay")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp / "relay.pem", tmp / "relay.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


class Mailbox:
    """aiosmtpd's handler: every message the relay accepted, and who logged in. `port` and
    `ca_file` (for the server's smtp_ca_file) are set once the relay runs."""

    def __init__(self, user: str, password: str):
        self.user, self.password = user, password
        self.messages: list[Message] = []
        self.logins: list[str] = []
        self.port, self.ca_file = 0, ""

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = auth_data.login.decode() == self.user and auth_data.password.decode() == self.password
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself

    def subjects(self) -> list[str]:
        return [m["Subject"] for m in self.messages]


@contextlib.contextmanager
def smtp_relay(tmp: Path, user: str, password: str) -> Iterator[Mailbox]:
    """A relay on 127.0.0.1 that takes mail only after STARTTLS and a login as user/password."""
    cert, key = certificate(tmp)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    box = Mailbox(user, password)
    controller = Controller(box, hostname="127.0.0.1", port=free_port(), tls_context=context, require_starttls=True,
                            auth_required=True, auth_require_tls=True, authenticator=box.authenticate)
    controller.start()
    box.port, box.ca_file = controller.port, cert
    try:
        yield box
    finally:
        controller.stop()


@contextlib.contextmanager
def webhook_receiver() -> Iterator[types.SimpleNamespace]:
    """A webhook on 127.0.0.1 answering 200: `url` to configure, `received` the JSON bodies."""
    received: list[dict] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            assert self.headers["Content-Type"] == "application/json"
            received.append(json.loads(body))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    http = ThreadingHTTPServer(("127.0.0.1", free_port()), Receiver)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield types.SimpleNamespace(url=f"http://127.0.0.1:{http.server_address[1]}/hooks/T000/B000",
                                    received=received)
    finally:
        http.shutdown()
        http.server_close()
