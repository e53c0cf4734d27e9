"""Mailgun's Messages API (reference part 2, §2.1).

``POST {base}/v3/{sending domain}/messages`` with basic auth ``api:<API key>`` and a form body;
the base is ``MAILGUN_API_URL`` (US) or ``MAILGUN_EU_API_URL`` by the provider's region (a
domain asked in the wrong region answers ``404 Domain not found``). 200 answers
``{"id": "<…@domain>", "message": "Queued. Thank you."}``; errors are ``{"message": "…"}``.

Mailgun's events do not echo ``h:`` headers, so the meta travels as the ``v:postdesk_meta``
variable and comes back in every event's ``user-variables`` (and as the ``X-Postdesk-Meta``
header, for the recipient's copy).

"Test connection" looks the sending domain up (``GET /v3/domains/{domain}``): it sends nothing,
proves the key is accepted (401 otherwise), that the domain exists in this region (404) and
says whether Mailgun has verified it.
"""

from __future__ import annotations

import base64
from email.utils import formataddr

import httpx
from django.conf import settings

from .base import CheckStep, DeliveryError, Envelope, Reason, SendResult, scrub_secret
from .http import HttpApiAdapter, esp_error_message

META_VARIABLE = "postdesk_meta"
EU = "eu"


class MailgunAdapter(HttpApiAdapter):
    base_url_setting = "MAILGUN_API_URL"

    @property
    def base_url(self) -> str:
        setting = "MAILGUN_EU_API_URL" if self.provider.region == EU else self.base_url_setting
        return getattr(settings, setting).rstrip("/")

    @property
    def domain(self) -> str:
        return self.provider.sending_domain.strip().lower()

    @property
    def send_path(self) -> str:
        return f"/v3/{self.domain}/messages"

    @property
    def check_path(self) -> str:
        return f"/v3/domains/{self.domain}"

    def auth_headers(self) -> dict[str, str]:
        token = base64.b64encode(f"api:{self.secret}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def payload(self, envelope: Envelope) -> dict:
        sender = envelope.from_address
        if envelope.from_name:
            sender = formataddr((envelope.from_name, envelope.from_address))
        form = {"from": sender, "to": envelope.to, "subject": envelope.subject}
        form["text"] = envelope.text
        if envelope.html:
            form["html"] = envelope.html
        if envelope.reply_to:
            form["h:Reply-To"] = envelope.reply_to
        for name, value in envelope.headers.items():
            form[f"h:{name}"] = value
        if envelope.meta:
            form[f"v:{META_VARIABLE}"] = envelope.meta
        return form

    def _send(self, envelope: Envelope) -> SendResult:
        with self.client() as client:
            response = client.post(
                self.send_path, data=self.payload(envelope), headers=self.headers()
            )
        if not response.is_success:
            raise self.api_error(response)
        return SendResult(message_id=self.message_id(response), code=response.status_code)

    def message_id(self, response: httpx.Response) -> str:
        try:
            return str(response.json().get("id", "")).strip().strip("<>")
        except (ValueError, AttributeError):
            return ""

    def api_error(self, response: httpx.Response) -> DeliveryError:
        """Mailgun's answers in the product's reasons (reference §2.1)."""
        status = response.status_code
        message = esp_error_message(response)
        text = scrub_secret(f"HTTP {status}: {message}", self.secret)
        lowered = message.lower()
        if status in (401, 403):
            return DeliveryError(Reason.API_KEY_REFUSED, text, code=status)
        if status == 429:
            return DeliveryError(Reason.RATE_LIMITED, text, code=status, transient=True)
        if status == 400 and "not allowed to send" in lowered:
            return DeliveryError(Reason.UNVERIFIED_SENDER, text, code=status)
        if status == 400 and "not a valid address" in lowered:
            return DeliveryError(Reason.INVALID_RECIPIENT, text, code=status)
        if status == 404:
            return DeliveryError(Reason.UNVERIFIED_SENDER, text, code=status)
        return super().api_error(response)

    def check_connection(self) -> list[CheckStep]:
        if not self.domain:
            return [CheckStep("Sending domain", False, "No sending domain is set.")]
        return super().check_connection()

    def key_check_steps(self, response: httpx.Response) -> list[CheckStep]:
        if response.status_code in (401, 403):
            return [CheckStep("API key accepted", False, self.api_error(response).detail)]
        steps = [CheckStep("API key accepted", True, "Mailgun accepted the key.")]
        if response.status_code == 404:
            where = "EU" if self.provider.region == EU else "US"
            detail = f"Mailgun has no domain {self.domain} in its {where} region."
            return [*steps, CheckStep("Sending domain found", False, detail)]
        if not response.is_success:
            return [
                *steps,
                CheckStep("Sending domain found", False, self.api_error(response).detail),
            ]
        try:
            domain = response.json().get("domain", {})
            state = str(domain.get("state", ""))
        except (ValueError, AttributeError):
            state = ""
        steps.append(CheckStep("Sending domain found", True, f"{self.domain} is in this account."))
        if state == "active":
            steps.append(CheckStep("Domain verified", True, "Mailgun has verified the domain."))
        else:
            detail = f"Mailgun reports the domain as “{state or 'unknown'}”: finish its DNS setup."
            steps.append(CheckStep("Domain verified", False, detail))
        return steps
