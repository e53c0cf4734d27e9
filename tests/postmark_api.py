"""A loopback HTTP server standing in for Postmark's API (reference part 2, §3.1).

It checks what it receives as Postmark would: the server token in ``X-Postmark-Server-Token``
(401 ``ErrorCode 10`` otherwise), JSON bodies, a ``From``, ``To`` and a body on ``/email``, a
``MessageStream`` it knows; it answers ``/email`` with a new ``MessageID`` and ``/server`` with
the server's details. ``sandbox`` makes ``/server`` report a sandbox server.
"""

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.servers import RecordedRequest

SERVER_TOKEN = "b4007d94-33f1-4e78-a783-97417d6c80e6"


class PostmarkStandIn:
    def __init__(self, token: str = SERVER_TOKEN) -> None:
        self.token = token
        self.streams = {"outbound", "broadcast"}
        self.sandbox = False
        self.requests: list[RecordedRequest] = []
        self.accepted: list[dict] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                stand_in.requests.append(RecordedRequest(self.command, self.path, headers, body))
                status, answer = stand_in.answer(self.command, self.path, headers, body)
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _handle  # noqa: N815

            def log_message(self, format, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def answer(self, method: str, path: str, headers: dict, body: bytes) -> tuple[int, dict]:
        if headers.get("x-postmark-server-token") != self.token:
            return 401, {"ErrorCode": 10, "Message": "The Server Token you provided was invalid."}
        if "application/json" not in headers.get("accept", ""):
            return 422, {"ErrorCode": 300, "Message": "Accept must be application/json."}
        if (method, path) == ("GET", "/server"):
            delivery = "Sandbox" if self.sandbox else "Live"
            return 200, {"ID": 23, "Name": "Acme transactional", "DeliveryType": delivery,
                         "ApiTokens": [self.token]}  # fmt: skip
        if (method, path) == ("POST", "/email"):
            return self.send_email(headers, body)
        return 404, {"ErrorCode": 404, "Message": "Not found"}

    def send_email(self, headers: dict, body: bytes) -> tuple[int, dict]:
        if headers.get("content-type") != "application/json":
            return 415, {"ErrorCode": 300, "Message": "Content-Type must be application/json."}
        email = json.loads(body)
        if not email.get("From"):
            return 422, {"ErrorCode": 300, "Message": "Invalid 'From' address: ''."}
        if not email.get("To") or "@" not in email["To"]:
            return 422, {"ErrorCode": 300, "Message": "Error parsing 'To': Illegal email."}
        if not (email.get("TextBody") or email.get("HtmlBody")):
            return 422, {"ErrorCode": 300, "Message": "Provide either email TextBody or HtmlBody."}
        if email.get("MessageStream", "outbound") not in self.streams:
            return 422, {"ErrorCode": 1235, "Message": "The message stream does not exist."}
        metadata = email.get("Metadata", {})
        if not all(isinstance(v, str) and len(k) <= 20 for k, v in metadata.items()):
            return 422, {"ErrorCode": 300, "Message": "Invalid metadata."}
        self.accepted.append(email)
        message_id = str(uuid.uuid4())
        return 200, {"To": email["To"], "SubmittedAt": "2026-11-30T10:00:00.0000000-05:00",
                     "MessageID": message_id, "ErrorCode": 0, "Message": "OK"}  # fmt: skip

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def postmark_api(settings):
    """The stand-in, with POSTMARK_API_URL pointing at it."""
    api = PostmarkStandIn()
    settings.POSTMARK_API_URL = api.url
    yield api
    api.stop()
