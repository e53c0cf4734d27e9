"""IMAP connections to a bounce mailbox, and "Test mailbox".

The host goes through the provider-host policy (`providers.network.check_host`) and the
connection goes to the checked addresses; TLS (implicit or STARTTLS) verifies the certificate
for the host name with the same trust as SMTP (`SMTP_CA_FILE`). The password never crosses
the network unencrypted: there is no plain-IMAP setting.
"""

from __future__ import annotations

import contextlib
import imaplib
import ssl

from django.conf import settings

from callbacks.mailbox.models import BounceMailbox
from providers import network
from providers.adapters.base import CheckStep, ssl_context


class MailboxError(Exception):
    """The mailbox could not be read; the message is shown on the provider page."""


class _CheckedSocket:
    """Opens the TCP connection to the checked addresses, never to the name again."""

    addresses: list[str]

    def _create_socket(self, timeout):
        return network.connect(self.addresses, self.port, timeout)


class CheckedIMAP4(_CheckedSocket, imaplib.IMAP4):
    def __init__(self, host: str, port: int, addresses: list[str], timeout: float) -> None:
        self.addresses = addresses
        super().__init__(host, port, timeout)


class CheckedIMAP4_SSL(_CheckedSocket, imaplib.IMAP4_SSL):  # noqa: N801 (imaplib's name)
    def __init__(self, host: str, port: int, addresses: list[str], timeout: float) -> None:
        self.addresses = addresses
        super().__init__(host, port, ssl_context=ssl_context(), timeout=timeout)

    def _create_socket(self, timeout):
        sock = super()._create_socket(timeout)
        return self.ssl_context.wrap_socket(sock, server_hostname=self.host)


def _timeout() -> float:
    return float(settings.BOUNCE_MAILBOX_TIMEOUT_SECONDS)


def _checked_addresses(mailbox: BounceMailbox) -> list[str]:
    try:
        return network.checked_addresses(mailbox.host, mailbox.port)
    except network.HostRefused as exc:
        raise MailboxError(str(exc)) from exc


def _client(mailbox: BounceMailbox, addresses: list[str]) -> imaplib.IMAP4:
    if mailbox.tls == BounceMailbox.Tls.IMPLICIT:
        return CheckedIMAP4_SSL(mailbox.host, mailbox.port, addresses, _timeout())
    return CheckedIMAP4(mailbox.host, mailbox.port, addresses, _timeout())


def open_mailbox(mailbox: BounceMailbox) -> tuple[imaplib.IMAP4, int]:
    """Connect, secure, log in and select the folder; the client and the folder's UIDVALIDITY.

    The caller logs out. Raises MailboxError with a readable reason.
    """
    addresses = _checked_addresses(mailbox)
    try:
        client = _client(mailbox, addresses)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise MailboxError(f"Could not connect to {mailbox.host}:{mailbox.port}: {exc}") from exc
    try:
        if mailbox.tls == BounceMailbox.Tls.STARTTLS:
            client.starttls(ssl_context=ssl_context())
        client.login(mailbox.username, mailbox.password)
        return client, select_folder(client, mailbox.folder)
    except (OSError, imaplib.IMAP4.error) as exc:
        close(client)
        raise MailboxError(_reason(exc)) from exc


def select_folder(client: imaplib.IMAP4, folder: str) -> int:
    status, _data = client.select(quoted(folder))
    if status != "OK":
        raise MailboxError(f"The folder {folder!r} cannot be opened.")
    status, data = client.response("UIDVALIDITY")
    try:
        return int(data[0])
    except (TypeError, ValueError, IndexError) as exc:
        raise MailboxError(f"The folder {folder!r} has no UIDVALIDITY.") from exc


def quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def close(client: imaplib.IMAP4) -> None:
    """Log out; a connection already broken is just dropped."""
    try:
        client.logout()
    except (OSError, imaplib.IMAP4.error):
        with contextlib.suppress(OSError):
            client.shutdown()


def _reason(exc: Exception) -> str:
    text = exc.args[0] if exc.args else exc
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return f"{type(exc).__name__}: {text}"


def check_mailbox(mailbox: BounceMailbox) -> list[CheckStep]:
    """ "Test mailbox": DNS lookup, TCP connection, TLS, login and folder, step by step."""
    if not mailbox.host:
        return [CheckStep("Settings", False, "No IMAP host is set.")]
    steps: list[CheckStep] = []
    addresses, dns_step = network.dns_lookup_step(mailbox.host, mailbox.port)
    steps.append(dns_step)
    if not dns_step.ok:
        return steps
    implicit = mailbox.tls == BounceMailbox.Tls.IMPLICIT
    tls_step = "TLS (IMAPS)" if implicit else "STARTTLS"
    client = None
    try:
        client = _client(mailbox, addresses)
    except (OSError, imaplib.IMAP4.error) as exc:
        if isinstance(exc, ssl.SSLError):  # TCP connected; the TLS handshake failed
            steps.append(
                CheckStep("TCP connection", True, f"Connected to {mailbox.host}:{mailbox.port}.")
            )
            steps.append(CheckStep(tls_step, False, _reason(exc)))
        else:
            steps.append(CheckStep("TCP connection", False, _reason(exc)))
        return steps
    steps.append(CheckStep("TCP connection", True, f"Connected to {mailbox.host}:{mailbox.port}."))
    try:
        _check_session(client, mailbox, implicit, tls_step, steps)
    except Exception as exc:  # a check must report, never crash the page
        steps.append(CheckStep("Check", False, f"Unexpected error: {_reason(exc)}"))
    finally:
        close(client)
    return steps


def _check_session(client, mailbox, implicit, tls_step, steps) -> None:
    if implicit:
        steps.append(CheckStep(tls_step, True, f"{client.sock.version()} in use."))
    else:
        try:
            client.starttls(ssl_context=ssl_context())
        except (OSError, imaplib.IMAP4.error) as exc:
            steps.append(CheckStep(tls_step, False, _reason(exc)))
            return
        steps.append(CheckStep(tls_step, True, f"{client.sock.version()} in use."))
    try:
        _status, data = client.login(mailbox.username, mailbox.password)
    except (OSError, imaplib.IMAP4.error) as exc:
        steps.append(CheckStep("Login", False, _reason(exc)))
        return
    steps.append(CheckStep("Login", True, _reason(Exception(data[0])).split(": ", 1)[1]))
    try:
        select_folder(client, mailbox.folder)
    except (OSError, imaplib.IMAP4.error, MailboxError) as exc:
        steps.append(CheckStep("Folder", False, str(exc)))
        return
    steps.append(CheckStep("Folder", True, f"{mailbox.folder} opened."))
