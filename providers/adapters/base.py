"""The one interface every delivery adapter implements, and the one error type it raises.

An adapter turns an `OutgoingMessage` into a request to one ESP. The base class owns what is
the same everywhere: the resolved sender fields, the meta header, the List-Unsubscribe
headers, timeouts, TLS trust, and wrapping of network errors into `DeliveryError`. A subclass
only translates: `_send()` speaks the ESP's protocol, `_translate_error()` names the ESP's own
failures, and `check_connection()` walks through the settings without sending mail.

Standard headers
----------------
Every message gets ``Date`` (RFC 5322 requires it) and a ``Message-ID`` in the sender's
domain, whichever adapter carries it: the SMTP message itself, or the API payload's headers.

``List-Unsubscribe`` points at the provider's preference center choice. RFC 8058 one-click
(``List-Unsubscribe-Post``) is claimed only for Postdesk's own unsubscribe URL, the one place
known to accept the mailbox provider's POST; a custom page gets the plain header. A test
email's links carry a test mark and change nothing (seed 003).

The meta header
---------------
Every message carries ``X-Postdesk-Meta: <recipient>|<test_email_id>|<provider_id>``. It plays
the part of the ``X-CleverTap_META`` header in seed 003: an ESP (or a relay in front of a
Generic SMTP server) echoes the value back in the callback's ``meta`` key, so a callback can
be attributed to a profile and a send. The API adapters also pass it where their webhooks
echo it natively (SendGrid ``custom_args``, Netcore ``token_to``).
"""

from __future__ import annotations

import re
import socket
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, make_msgid
from urllib.parse import urlsplit

import httpx
from django.conf import settings

from providers.models import EmailProvider, TestEmail

Reason = TestEmail.FailureReason

META_HEADER = "X-Postdesk-Meta"
ONE_CLICK = "List-Unsubscribe=One-Click"


def make_meta(recipient: str, test_email_id: int | str, provider_id: int | str | None) -> str:
    """The meta header value: ``<recipient>|<test_email_id>|<provider_id>``."""
    return f"{recipient}|{test_email_id}|{provider_id or ''}"


class DeliveryError(Exception):
    """A send (or a connection check) failed, classified for the user.

    `reason` is a `TestEmail.FailureReason` value; `detail` is the server's or ESP's own words;
    `code` is the SMTP reply code or HTTP status when there was one; `transient` says whether
    trying again later may work (timeouts, refused connections, 4xx SMTP replies, 5xx from an
    API).
    """

    def __init__(
        self, reason: str, detail: str, *, code: int | None = None, transient: bool = False
    ) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.code = code
        self.transient = transient


@dataclass
class OutgoingMessage:
    """What to send: the adapter adds the sender, reply-to and standard headers."""

    to: str
    subject: str
    text: str
    html: str = ""
    meta: str = ""
    is_test: bool = False  # its unsubscribe and preference links must not act


@dataclass
class UnsubscribeLink:
    """Where List-Unsubscribe points; `one_click` when Postdesk receives the RFC 8058 POST."""

    url: str
    one_click: bool


@dataclass
class Envelope:
    """An `OutgoingMessage` with everything the provider settings add, ready to translate."""

    to: str
    subject: str
    text: str
    html: str
    from_address: str
    from_name: str
    reply_to: str
    meta: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class CheckStep:
    """One step of "Test connection": what was tried, whether it worked, the server's words."""

    name: str
    ok: bool | None  # None: skipped (not used by these settings)
    detail: str


@dataclass
class SendResult:
    message_id: str
    code: int | None = None
    transcript: str = ""


class Adapter:
    """Base class of the delivery adapters; see the module docstring."""

    def __init__(self, provider: EmailProvider, *, secret: str | None = None) -> None:
        self.provider = provider
        self._secret = secret
        self.transcript = ""  # what a subclass recorded of the conversation, for admins

    # --- the interface ---------------------------------------------------------------
    def send(self, message: OutgoingMessage) -> SendResult:
        """Send one message; return the ESP's message id or raise `DeliveryError`."""
        envelope = self.envelope(message)
        try:
            return self._send(envelope)
        except DeliveryError:
            raise
        except Exception as exc:
            error = self._translate_error(exc) or self._wrap_network_error(exc)
            if error is None:
                raise
            raise error from exc

    def check_connection(self) -> list[CheckStep]:
        """Walk through the settings step by step without sending mail."""
        raise NotImplementedError

    # --- for subclasses --------------------------------------------------------------
    def _send(self, envelope: Envelope) -> SendResult:
        raise NotImplementedError

    def _translate_error(self, exc: Exception) -> DeliveryError | None:
        """Name an ESP-specific failure; None lets the base wrap it."""
        return None

    @property
    def secret(self) -> str:
        """The secret typed for this run, else the stored one where it was saved for."""
        if self._secret is not None:
            return self._secret
        if not self.provider.secret_fits():
            raise stored_secret_elsewhere()
        return self.provider.secret

    @property
    def timeout(self) -> float:
        return float(settings.SMTP_TIMEOUT_SECONDS)

    @property
    def destination(self) -> str:
        """Where this adapter connects, for the audit trail: host:port or the API base."""
        raise NotImplementedError

    # --- shared by all adapters ----------------------------------------------------
    def envelope(self, message: OutgoingMessage) -> Envelope:
        provider = self.provider
        headers = {
            "Date": format_datetime(datetime.now(UTC)),
            "Message-ID": make_msgid(domain=sender_domain(provider.from_address)),
        }
        if message.meta:
            headers[META_HEADER] = message.meta
        unsubscribe = self.unsubscribe_link(message.to, test=message.is_test)
        if unsubscribe:
            headers["List-Unsubscribe"] = f"<{unsubscribe.url}>"
            if unsubscribe.one_click:
                headers["List-Unsubscribe-Post"] = ONE_CLICK
        return Envelope(
            to=message.to,
            subject=message.subject,
            text=message.text,
            html=message.html,
            from_address=provider.from_address,
            from_name=provider.from_name,
            reply_to=provider.reply_to_address,
            meta=message.meta,
            headers=headers,
        )

    def unsubscribe_link(self, recipient: str, *, test: bool = False) -> UnsubscribeLink | None:
        """Where List-Unsubscribe points (RFC 2369), or None for no header.

        System preference center: the signed one-click URL, which accepts the mailbox
        provider's ``POST List-Unsubscribe=One-Click`` (RFC 8058). Custom: the marketer's URL,
        without the one-click claim, since nobody knows that page accepts the POST. None: no
        header.
        """
        from profiles import preference_links

        choice = self.provider.preference_center
        if choice == EmailProvider.PreferenceCenter.SYSTEM:
            url = preference_links.one_click_unsubscribe_url(recipient, test=test)
            return UnsubscribeLink(url, one_click=True)
        if choice == EmailProvider.PreferenceCenter.CUSTOM and self.provider.preference_center_url:
            return UnsubscribeLink(self.provider.preference_center_url, one_click=False)
        return None

    def _wrap_network_error(self, exc: Exception) -> DeliveryError | None:
        return wrap_network_error(exc)


def sender_domain(from_address: str) -> str:
    """The domain for Message-ID: the sender's, else the site's (never a slow DNS lookup)."""
    return from_address.rpartition("@")[2] or urlsplit(settings.SITE_URL).hostname or "localhost"


def stored_secret_elsewhere() -> DeliveryError:
    """The stored secret was saved for other settings: it is not sent anywhere."""
    return DeliveryError(
        Reason.AUTH_FAILED,
        "The stored password or API key was saved for other connection settings, so "
        "Postdesk did not send it. Type it again on the provider's edit page.",
    )


def wrap_network_error(exc: BaseException) -> DeliveryError | None:
    """Errors below the ESP's protocol, the same for every adapter."""
    from providers.network import ForbiddenHost

    if isinstance(exc, ForbiddenHost):
        return DeliveryError(Reason.CONNECTION_ERROR, str(exc))
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return DeliveryError(
            Reason.TIMEOUT, f"No answer in time ({exc or 'timed out'}).", transient=True
        )
    if isinstance(exc, socket.gaierror):
        return DeliveryError(
            Reason.CONNECTION_ERROR, f"The host name does not resolve ({exc.strerror or exc})."
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        return DeliveryError(
            Reason.CONNECTION_ERROR,
            f"The server's TLS certificate is not trusted ({exc.verify_message}).",
        )
    if isinstance(exc, ssl.SSLError):
        return DeliveryError(
            Reason.CONNECTION_ERROR,
            f"TLS failed ({exc.reason or exc}); check that the scheme matches the port.",
        )
    if isinstance(exc, ConnectionRefusedError):
        return DeliveryError(
            Reason.CONNECTION_ERROR,
            "The server refused the connection (nothing listens on that port).",
            transient=True,
        )
    if isinstance(exc, httpx.TransportError | OSError):
        return DeliveryError(Reason.CONNECTION_ERROR, f"Network error: {exc}", transient=True)
    return None


def ssl_context() -> ssl.SSLContext:
    """Certificate-verifying TLS context; SMTP_CA_FILE adds a CA to trust (tests, private CAs)."""
    cafile = settings.SMTP_CA_FILE or None
    return ssl.create_default_context(cafile=cafile)


SCRUBBED = "[redacted]"
SECRET_PART_MIN_LENGTH = 8


def scrub_secret(text: str, secret: str | None) -> str:
    """`text` with `secret` replaced, and each long part of it (SendGrid's ``SG.<id>.<key>``):
    some ESPs echo the key they refused."""
    if not secret or not text:
        return text
    parts = [secret, *(part for part in re.split(r"[^A-Za-z0-9_-]+", secret))]
    for part in sorted(set(parts), key=len, reverse=True):
        if len(part) >= SECRET_PART_MIN_LENGTH or part == secret:
            text = text.replace(part, SCRUBBED)
    return text
