"""Generic SMTP and Gmail: plain SMTP, SMTPS (TLS from the first byte) or STARTTLS, with AUTH.

Gmail is this adapter with a preset (seed 002, reference §4): smtp.gmail.com, 465, SMTPS,
the account address as username and an app password.

The conversation is recorded line by line (``C:`` what we said, ``S:`` what the server
answered, ``*`` what happened underneath: TCP, TLS) so an admin can read it on a failed test
send. Credentials never reach the record: AUTH commands and the answers to a 334 challenge are
replaced by a placeholder, and the message body by its size.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import ssl
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage

from providers import network
from providers.forms.gmail import GMAIL_PRESET
from providers.models import EmailProvider

from .base import (
    Adapter,
    CheckStep,
    DeliveryError,
    Envelope,
    Reason,
    SendResult,
    ssl_context,
    wrap_network_error,
)

SCHEME_SMTP, SCHEME_SMTPS, SCHEME_STARTTLS = "smtp", "smtps", "starttls"
PRESETS = {EmailProvider.Kind.GMAIL: GMAIL_PRESET}
DEFAULT_PORTS = {SCHEME_SMTP: 25, SCHEME_SMTPS: 465, SCHEME_STARTTLS: 587}
HIDDEN = "[credentials hidden]"
# Long headers (a List-Unsubscribe URL with a signed token) must stay whole rather than turn
# into RFC 2047 encoded words, which mail clients would not read as a URL.
MESSAGE_POLICY = policy.SMTP.clone(max_line_length=998)
ENHANCED_CODE = re.compile(rb"^\s*([245])\.(\d{1,3})\.(\d{1,3})")


class Transcript:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def client(self, line: str) -> None:
        self.lines.append(f"C: {line}")

    def server(self, code: int, text: bytes) -> None:
        for part in (text or b"").decode(errors="replace").splitlines() or [""]:
            self.lines.append(f"S: {code} {part}".rstrip())

    def event(self, text: str) -> None:
        self.lines.append(f"* {text}")

    def __str__(self) -> str:
        return "\n".join(self.lines)


class RecordingSMTP(smtplib.SMTP):
    """smtplib.SMTP that records the conversation and how far the connection got.

    It connects to `addresses`, the host's addresses as the provider-host policy checked
    them, never to the host name again; TLS still verifies the certificate for the name.
    """

    def __init__(
        self,
        *,
        timeout: float,
        context: ssl.SSLContext,
        implicit_tls: bool,
        addresses: list[str],
    ) -> None:
        super().__init__(timeout=timeout)
        self.context = context
        self.implicit_tls = implicit_tls
        self.addresses = addresses
        self.record = Transcript()
        self.tcp_connected = False
        self.peer_address = ""
        self.tls_version = ""
        self._last_code = 0

    def connect(self, host="localhost", port=0, source_address=None):
        self._host = host  # smtplib only sets it in __init__; STARTTLS checks the name against it
        return super().connect(host, port, source_address)

    def _get_socket(self, host, port, timeout):
        self.record.event(f"Connecting to {host}:{port}")
        sock = network.connect(self.addresses, port, timeout, self.source_address)
        self.tcp_connected = True
        self.peer_address = sock.getpeername()[0]
        self.record.event(f"TCP connected to {self.peer_address}:{port}")
        if self.implicit_tls:
            sock = self.context.wrap_socket(sock, server_hostname=host)
            self._note_tls(sock)
        return sock

    def starttls(self, *args, **kwargs):
        reply = super().starttls(context=self.context)
        self._note_tls(self.sock)
        return reply

    @property
    def may_send_password(self) -> bool:
        """Encrypted, or plain SMTP to this machine itself (a local relay or sink)."""
        return bool(self.tls_version) or network.is_loopback(self.peer_address)

    def _note_tls(self, sock: ssl.SSLSocket) -> None:
        self.tls_version = sock.version() or "TLS"
        self.record.event(f"TLS established: {self.tls_version}, cipher {sock.cipher()[0]}")

    def send(self, s):
        if isinstance(s, bytes | bytearray):
            self.record.client(f"[message, {len(s)} bytes]")
        else:
            line = s.rstrip("\r\n")
            if line[:5].upper() == "AUTH ":
                mechanism = line.split(" ")[1] if " " in line else ""
                line = f"AUTH {mechanism} {HIDDEN}"
            elif self._last_code == 334:
                line = HIDDEN
            self.record.client(line)
        super().send(s)

    def getreply(self):
        code, text = super().getreply()
        self._last_code = code
        self.record.server(code, text)
        return code, text


def _reply_text(code: int | None, text: bytes | str | None) -> str:
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    text = " ".join((text or "").split())
    return f"{code} {text}".strip() if code else text


def _is_transient(code: int | None, text: bytes = b"") -> bool:
    match = ENHANCED_CODE.match(text or b"")
    if match:
        return match.group(1) == b"4"
    return code is not None and 400 <= code < 500


def _is_bad_address(code: int, text: bytes) -> bool:
    """A permanent refusal that blames the address (RFC 3463 x.1.x, or bare 550/551/553)."""
    match = ENHANCED_CODE.match(text or b"")
    if match:
        return match.group(1) == b"5" and match.group(2) == b"1"
    return code in (550, 551, 553)


def classify_smtp_error(exc: Exception) -> DeliveryError | None:
    """Map smtplib's exceptions to the seed's error names (reference §5.2)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        recipient, (code, text) = next(iter(exc.recipients.items()))
        detail = f"{recipient}: {_reply_text(code, text)}"
        if _is_transient(code, text):
            return DeliveryError(Reason.DISPATCH_FAILED, detail, code=code, transient=True)
        if _is_bad_address(code, text):
            return DeliveryError(Reason.INVALID_RECIPIENT, detail, code=code)
        return DeliveryError(Reason.DISPATCH_FAILED, detail, code=code)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return DeliveryError(
            Reason.AUTH_FAILED,
            _reply_text(exc.smtp_code, exc.smtp_error),
            code=exc.smtp_code,
            transient=_is_transient(exc.smtp_code, exc.smtp_error),
        )
    if isinstance(exc, smtplib.SMTPConnectError | smtplib.SMTPHeloError):
        return DeliveryError(
            Reason.CONNECTION_ERROR,
            _reply_text(exc.smtp_code, exc.smtp_error),
            code=exc.smtp_code,
            transient=_is_transient(exc.smtp_code, exc.smtp_error),
        )
    if isinstance(exc, smtplib.SMTPResponseException):  # sender refused, DATA refused, other
        return DeliveryError(
            Reason.DISPATCH_FAILED,
            _reply_text(exc.smtp_code, exc.smtp_error),
            code=exc.smtp_code,
            transient=_is_transient(exc.smtp_code, exc.smtp_error),
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return DeliveryError(Reason.CONNECTION_ERROR, f"The server does not support this: {exc}")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, TimeoutError) or "timed out" in str(exc):
            return DeliveryError(
                Reason.TIMEOUT, "The server did not answer in time.", transient=True
            )
        return DeliveryError(Reason.CONNECTION_ERROR, f"{exc}", transient=True)
    if isinstance(exc, smtplib.SMTPException):
        return DeliveryError(Reason.DISPATCH_FAILED, str(exc))
    return None


class SmtpAdapter(Adapter):
    """Send through an SMTP server (Generic SMTP, Gmail)."""

    def connection_settings(self) -> tuple[str, int, str]:
        preset = PRESETS.get(self.provider.kind, {})
        scheme = self.provider.scheme or preset.get("scheme") or SCHEME_STARTTLS
        host = self.provider.host or preset.get("host", "")
        port = self.provider.port or preset.get("port") or DEFAULT_PORTS[scheme]
        return host, int(port), scheme

    @property
    def destination(self) -> str:
        host, port, scheme = self.connection_settings()
        return f"{host}:{port} ({scheme.upper()})"

    def build_message(self, envelope: Envelope) -> EmailMessage:
        message = EmailMessage(policy=MESSAGE_POLICY)
        message["Subject"] = envelope.subject
        message["From"] = Address(envelope.from_name, addr_spec=envelope.from_address)
        message["To"] = envelope.to
        if envelope.reply_to:
            message["Reply-To"] = envelope.reply_to
        for name, value in envelope.headers.items():
            message[name] = value
        message.set_content(envelope.text)
        if envelope.html:
            message.add_alternative(envelope.html, subtype="html")
        return message

    def client(self, scheme: str, addresses: list[str]) -> RecordingSMTP:
        return RecordingSMTP(
            timeout=self.timeout,
            context=ssl_context(),
            implicit_tls=scheme == SCHEME_SMTPS,
            addresses=addresses,
        )

    def login(self, client: RecordingSMTP) -> tuple[int, bytes]:
        """AUTH, unless the password would cross the network unencrypted without consent."""
        if not client.may_send_password and not self.provider.allow_plaintext_auth:
            host = self.connection_settings()[0]
            raise DeliveryError(
                Reason.AUTH_FAILED,
                f"Postdesk did not log in: the connection to {host} is not "
                "encrypted, so the password would cross the network readable. Choose "
                "STARTTLS or SMTPS, or allow login without encryption in the provider's "
                "settings if you trust the network.",
            )
        return client.login(self.provider.username, self.secret)

    def open(self) -> RecordingSMTP:
        """Connect, greet, secure and authenticate; the caller quits."""
        host, port, scheme = self.connection_settings()
        # Checked at send time too (DNS may have changed since saving), and the connection
        # goes to the addresses checked here.
        addresses = _check_host_policy(host, port)
        client = self._client = self.client(scheme, addresses)
        client.connect(host, port)
        client.ehlo()
        if scheme == SCHEME_STARTTLS:
            client.starttls()
            client.ehlo()
        if self.provider.username:
            self.login(client)
        return client

    def _send(self, envelope: Envelope) -> SendResult:
        message = self.build_message(envelope)
        self._client = None
        try:
            client = self.open()
            client.send_message(message, from_addr=envelope.from_address, to_addrs=[envelope.to])
            code = client._last_code
            _quit(client)
        finally:
            if self._client is not None:
                self.transcript = str(self._client.record)
                self._client.close()
        return SendResult(message_id=message["Message-ID"], code=code, transcript=self.transcript)

    def _translate_error(self, exc: Exception) -> DeliveryError | None:
        return classify_smtp_error(exc)

    # --- Test connection ---------------------------------------------------------------
    def check_connection(self) -> list[CheckStep]:
        """DNS, TCP, TLS or STARTTLS, AUTH, MAIL FROM accepted; then RSET and QUIT."""
        host, port, scheme = self.connection_settings()
        steps: list[CheckStep] = []
        if not host:
            return [CheckStep("Settings", False, "No host is set.")]
        addresses, dns_step = network.dns_lookup_step(host, port)
        steps.append(dns_step)
        if not dns_step.ok:
            return steps

        client = self.client(scheme, addresses)
        try:
            self._check_steps(client, host, port, scheme, steps)
        except _StepFailed:
            pass
        finally:
            self.transcript = str(client.record)
            client.close()
        return steps

    def _check_steps(self, client, host, port, scheme, steps) -> None:
        def fail(name: str, exc: Exception) -> _StepFailed:
            if isinstance(exc, DeliveryError):
                error = exc
            else:
                error = classify_smtp_error(exc) or wrap_network_error(exc)
            steps.append(CheckStep(name, False, error.detail if error else repr(exc)))
            return _StepFailed()

        try:
            code, greeting = client.connect(host, port)
        except Exception as exc:
            if not client.tcp_connected:
                raise fail("TCP connection", exc) from exc
            steps.append(CheckStep("TCP connection", True, f"Connected to {host}:{port}."))
            if client.implicit_tls and not client.tls_version:
                raise fail("TLS (SMTPS)", exc) from exc
            if client.implicit_tls:
                steps.append(CheckStep("TLS (SMTPS)", True, f"{client.tls_version} in use."))
            raise fail("Server greeting", exc) from exc
        steps.append(CheckStep("TCP connection", True, f"Connected to {host}:{port}."))
        if client.implicit_tls:
            steps.append(CheckStep("TLS (SMTPS)", True, f"{client.tls_version} in use."))
        steps.append(CheckStep("Server greeting", True, _reply_text(code, greeting)))

        try:
            client.ehlo()
            if scheme == SCHEME_STARTTLS:
                client.starttls()
                client.ehlo()
        except Exception as exc:
            raise fail("STARTTLS" if scheme == SCHEME_STARTTLS else "EHLO", exc) from exc
        if scheme == SCHEME_STARTTLS:
            steps.append(CheckStep("STARTTLS", True, f"{client.tls_version} in use."))
        elif scheme == SCHEME_SMTP:
            steps.append(CheckStep("TLS", None, "Not used: plain SMTP is not encrypted."))

        if self.provider.username:
            try:
                code, reply = self.login(client)
            except Exception as exc:
                raise fail("AUTH", exc) from exc
            steps.append(CheckStep("AUTH", True, _reply_text(code, reply)))
        else:
            steps.append(CheckStep("AUTH", None, "Skipped: no username is set."))

        try:
            code, reply = client.mail(self.provider.from_address)
        except Exception as exc:
            raise fail("MAIL FROM", exc) from exc
        if code != 250:
            detail = f"{self.provider.from_address} refused: {_reply_text(code, reply)}"
            steps.append(CheckStep("MAIL FROM", False, detail))
            raise _StepFailed
        steps.append(CheckStep("MAIL FROM", True, _reply_text(code, reply)))
        try:  # leave politely; no mail was sent
            client.rset()
        finally:
            _quit(client)


def _check_host_policy(host: str, port: int) -> list[str]:
    """Resolve `host` under the provider-host policy (providers.network); its addresses."""
    try:
        return network.checked_addresses(host, port)
    except network.HostRefused as exc:
        raise DeliveryError(Reason.CONNECTION_ERROR, str(exc)) from exc


class _StepFailed(Exception):
    pass


def _quit(client: smtplib.SMTP) -> None:
    with contextlib.suppress(OSError):  # the message is already accepted; a rude bye is fine
        client.quit()
