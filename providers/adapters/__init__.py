"""Delivery adapters, one module per ESP; callers use `adapter_for`, never a concrete class.

Adding an ESP: one module with an `Adapter` subclass, one entry in `ADAPTERS`, one form, one
test module.
"""

from __future__ import annotations

from providers.models import EmailProvider

from .base import (
    Adapter,
    CheckStep,
    DeliveryError,
    OutgoingMessage,
    SendResult,
    make_meta,
)
from .mailgun import MailgunAdapter
from .netcore import NetcoreAdapter
from .postmark import PostmarkAdapter
from .sendgrid import SendGridAdapter
from .ses import SesAdapter
from .smtp import SmtpAdapter

ADAPTERS: dict[str, type[Adapter]] = {
    EmailProvider.Kind.SMTP: SmtpAdapter,
    EmailProvider.Kind.GMAIL: SmtpAdapter,  # with the Gmail preset (forms.gmail.GMAIL_PRESET)
    EmailProvider.Kind.SENDGRID: SendGridAdapter,
    EmailProvider.Kind.NETCORE: NetcoreAdapter,
    EmailProvider.Kind.POSTMARK: PostmarkAdapter,
    EmailProvider.Kind.SES: SesAdapter,
    EmailProvider.Kind.MAILGUN: MailgunAdapter,
}


def adapter_for(provider: EmailProvider, *, secret: str | None = None) -> Adapter:
    """The adapter for `provider`'s kind; `secret` overrides the stored one (unsaved forms)."""
    return ADAPTERS[provider.kind](provider, secret=secret)


__all__ = [
    "ADAPTERS",
    "Adapter",
    "CheckStep",
    "DeliveryError",
    "OutgoingMessage",
    "SendResult",
    "adapter_for",
    "make_meta",
]
