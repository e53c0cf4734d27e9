"""SendGrid's v3 Mail Send web API (reference §1.1).

``POST {SENDGRID_API_URL}/v3/mail/send`` with ``Authorization: Bearer <API key>`` and a JSON
body; 202 (200 in sandbox mode) means accepted, and the ``X-Message-Id`` response header is
SendGrid's id for the request. Errors come back as ``{"errors": [{"field", "message"}]}``.

The meta value travels twice: as the ``X-Postdesk-Meta`` header, and in ``custom_args`` under
``meta``, because SendGrid's event webhook copies custom args into every event.

"Test connection" asks ``GET /v3/scopes``: it sends no mail, costs nothing, proves the key is
accepted (401 otherwise) and lists what the key may do, so we can also say when it lacks the
``mail.send`` permission — a sandbox-mode send would prove less about the key's permissions.
"""

from __future__ import annotations

import httpx

from .base import CheckStep, Envelope
from .http import HttpApiAdapter


class SendGridAdapter(HttpApiAdapter):
    base_url_setting = "SENDGRID_API_URL"
    send_path = "/v3/mail/send"
    check_path = "/v3/scopes"

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}"}

    def payload(self, envelope: Envelope) -> dict:
        sender = {"email": envelope.from_address}
        if envelope.from_name:
            sender["name"] = envelope.from_name
        content = [{"type": "text/plain", "value": envelope.text}]
        if envelope.html:
            content.append({"type": "text/html", "value": envelope.html})
        body = {
            "personalizations": [{"to": [{"email": envelope.to}]}],
            "from": sender,
            "subject": envelope.subject,
            "content": content,
            "headers": envelope.headers,
        }
        if envelope.reply_to:
            body["reply_to"] = {"email": envelope.reply_to}
        if envelope.meta:
            body["custom_args"] = {"meta": envelope.meta}
        return body

    def message_id(self, response: httpx.Response) -> str:
        return response.headers.get("X-Message-Id", "")

    def key_check_steps(self, response: httpx.Response) -> list[CheckStep]:
        if not response.is_success:
            return [CheckStep("API key accepted", False, self.api_error(response).detail)]
        steps = [CheckStep("API key accepted", True, "SendGrid accepted the key.")]
        try:
            scopes = response.json().get("scopes", [])
        except (ValueError, AttributeError):
            scopes = []
        if "mail.send" in scopes:
            steps.append(CheckStep("Permission to send", True, "The key has mail.send."))
        else:
            steps.append(
                CheckStep(
                    "Permission to send",
                    False,
                    "The key lacks the mail.send permission; give it Mail Send access.",
                )
            )
        return steps
