""" "Test connection": check a provider's settings step by step without sending mail.

The steps come from the provider's adapter (SMTP: DNS, TCP, TLS or STARTTLS, AUTH, MAIL FROM,
then RSET and QUIT; SendGrid: ``GET /v3/scopes``; Netcore: an empty request to the send
endpoint). Each step carries the server's or ESP's own reply.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

from providers.adapters import CheckStep, adapter_for
from providers.adapters.base import stored_secret_elsewhere
from providers.models import EmailProvider

log = logging.getLogger(__name__)


@dataclass
class ConnectionReport:
    steps: list[CheckStep]
    transcript: str = ""
    destination: str = ""  # where the check went: host:port or the API base

    @property
    def failed_step(self) -> str:
        return next((step.name for step in self.steps if step.ok is False), "")

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(step.ok is not False for step in self.steps)

    def as_dict(self, *, with_transcript: bool = False) -> dict:
        data = {"ok": self.ok, "steps": [asdict(step) for step in self.steps]}
        if with_transcript:
            data["transcript"] = self.transcript
        return data


def check_provider_settings(
    provider: EmailProvider, *, secret: str | None = None
) -> ConnectionReport:
    """Run the checks for `provider` (saved or not); `secret` overrides the stored one.

    The stored secret is only used with the settings it was saved for: otherwise nothing is
    contacted and the report asks for the secret again.
    """
    adapter = adapter_for(provider, secret=secret)
    if secret is None and provider.uses_secret and not provider.secret_fits():
        step = CheckStep("Password or API key", False, stored_secret_elsewhere().detail)
        return ConnectionReport(steps=[step], destination=adapter.destination)
    try:
        steps = adapter.check_connection()
    except Exception as exc:  # a check must report, never crash the page
        log.exception("Connection check for %r failed unexpectedly", provider.nickname)
        steps = [CheckStep("Check", False, f"Unexpected error: {exc!r}")]
    return ConnectionReport(
        steps=steps, transcript=adapter.transcript, destination=adapter.destination
    )
