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

from .base import CheckStep, DeliveryError, Envelope, HttpApiAdapter, SendResult

SEND_PATH = "/v3/mail/send"
SCOPES_PATH = "/v3/scopes"


class SendGridAdapter(HttpApiAdapter):
    base_url_setting = "SENDGRID_API_URL"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}", "Accept": "application/json"}

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

    def _send(self, envelope: Envelope) -> SendResult:
        with self.client() as client:
            response = client.post(SEND_PATH, json=self.payload(envelope), headers=self.headers())
        if not response.is_success:
            raise self.api_error(response)
        return SendResult(
            message_id=response.headers.get("X-Message-Id", ""), code=response.status_code
        )

    def check_connection(self) -> list[CheckStep]:
        url = self.base_url + SCOPES_PATH
        if not self.secret:
            return [CheckStep("API key", False, "No API key is set.")]
        try:
            with self.client() as client:
                response = client.get(SCOPES_PATH, headers=self.headers())
        except Exception as exc:
            error = self._wrap_network_error(exc)
            if error is None:
                raise
            return [CheckStep("Reach the API", False, f"{url}: {error.detail}")]
        steps = [CheckStep("Reach the API", True, f"{url} answered HTTP {response.status_code}.")]
        if not response.is_success:
            error: DeliveryError = self.api_error(response)
            steps.append(CheckStep("API key accepted", False, error.detail))
            return steps
        steps.append(CheckStep("API key accepted", True, "SendGrid accepted the key."))
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
