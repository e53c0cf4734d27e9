"""Stand-ins for Amazon SES and SNS on loopback.

``moto_ses`` (fixture) runs moto's server (a real HTTP server implementing the SES v2 API) on a
free loopback port, with ``settings.SES_ENDPOINT_URL`` pointing at it; ``moto_ses.sent()`` lists
the messages it accepted.

A stand-in for Amazon SNS: a signing key and certificate made here, served over HTTPS.

``sns`` (fixture) starts a loopback HTTPS server (trustme certificate for localhost) that
serves the signing certificate at ``/SimpleNotificationService-test.pem`` and records every
GET (a SubscribeURL fetch shows up in ``sns.requests``). ``sns.envelope(record)`` wraps an
SES record in a Notification signed with real SHA1withRSA / SHA256withRSA signatures.
"""

from __future__ import annotations

import base64
import datetime
import json
import socket
import ssl
import threading
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from callbacks.formats import ses

MOTO_ACCOUNT = "123456789012"

TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:SES_Events"
CERT_PATH = "/SimpleNotificationService-test.pem"


def make_signing_cert() -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM)


class SnsStandIn:
    def __init__(self, tls_ca) -> None:
        self.key, self.cert_pem = make_signing_cert()
        self.requests: list[str] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                stand_in.requests.append(self.path)
                body = (
                    stand_in.cert_pem
                    if self.path == CERT_PATH
                    else b"<ConfirmSubscriptionResponse/>"
                )
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_ca.issue_cert("localhost").configure_cert(context)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.base = f"https://localhost:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def cert_url(self) -> str:
        return self.base + CERT_PATH

    def sign(self, envelope: dict, version: str = "1", key=None) -> dict:
        envelope = {**envelope, "SignatureVersion": version, "SigningCertURL": self.cert_url}
        algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
        signature = (key or self.key).sign(
            ses.string_to_sign(envelope), padding.PKCS1v15(), algorithm
        )
        envelope["Signature"] = base64.b64encode(signature).decode()
        return envelope

    def envelope(self, record: dict, *, version: str = "1", message_id: str = "") -> dict:
        return self.sign(
            {
                "Type": "Notification",
                "MessageId": message_id or str(uuid.uuid4()),
                "TopicArn": TOPIC_ARN,
                "Subject": "Amazon SES Email Event Notification",
                "Message": json.dumps(record),
                "Timestamp": "2018-03-26T17:58:59.675Z",
                "UnsubscribeURL": f"{self.base}/?Action=Unsubscribe",
            },
            version,
        )

    def confirmation(self, *, version: str = "1") -> dict:
        return self.sign(
            {
                "Type": "SubscriptionConfirmation",
                "MessageId": str(uuid.uuid4()),
                "Token": "2336412f37fb687f5d51e6e2425",
                "TopicArn": TOPIC_ARN,
                "Message": f"You have chosen to subscribe to the topic {TOPIC_ARN}.\nTo confirm "
                "the subscription, visit the SubscribeURL included in this message.",
                "SubscribeURL": f"{self.base}/?Action=ConfirmSubscription&Token=2336412f37",
                "Timestamp": "2012-04-26T20:45:04.751Z",
            },
            version,
        )

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def sns(tls_ca, settings):
    """The SNS stand-in, its host allow-listed, its certificate cache cleared."""
    stand_in = SnsStandIn(tls_ca)
    settings.SNS_CERT_HOSTS = [*settings.SNS_CERT_HOSTS, r"localhost"]
    ses.signing_key.cache_clear()
    yield stand_in
    ses.signing_key.cache_clear()
    stand_in.stop()


class MotoSes:
    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.url = f"http://{host}:{port}"

    def client(self):
        import boto3

        return boto3.client(
            "sesv2",
            region_name="us-east-1",
            endpoint_url=self.url,
            aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
            aws_secret_access_key="test-secret",
        )

    def verify(self, address: str) -> None:
        self.client().create_email_identity(EmailIdentity=address)

    def sent(self) -> list:
        from moto.ses.models import ses_backends

        return list(ses_backends[MOTO_ACCOUNT]["us-east-1"].sent_messages)

    def stop(self) -> None:
        self.server.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def moto_ses(settings):
    server = MotoSes()
    settings.SES_ENDPOINT_URL = server.url
    yield server
    urllib.request.urlopen(urllib.request.Request(server.url + "/moto-api/reset", method="POST"))
    server.stop()
