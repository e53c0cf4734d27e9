"""Netcore Email API (formerly Pepipost), v5.1 (reference §2.1, seed 001).

``POST {NETCORE_API_URL}/v5.1/mail/send`` with the header ``api_key: <key>`` and a JSON body;
any 2xx means accepted (seed 001 lists 200, 201 and 202) and the body carries
``data.message_id``. Error bodies are not documented, so they are read defensively.

Content types are Netcore's own words (``html``, ``amp``), not MIME types; ``reply_to`` is a
plain address. The meta value goes in the per-recipient headers and in ``token_to``, which
Netcore's webhook echoes back as ``X-APIHEADER``.

Unsubscribe: Netcore's "Unsubscribe Page" (seed 000) is the provider's preference center
choice, as for every provider.

"Test connection" posts an empty JSON object to the send endpoint. Netcore has no documented
read-only endpoint; an empty body cannot send mail. A 401/403 means the key is refused; a 400
("invalid parameters") means the key got past authentication. (That Netcore authenticates
before it validates is an observation about HTTP APIs in general, not a documented promise.)
"""

from __future__ import annotations

import httpx

from .base import CheckStep, Envelope
from .http import HttpApiAdapter


class NetcoreAdapter(HttpApiAdapter):
    base_url_setting = "NETCORE_API_URL"
    send_path = "/v5.1/mail/send"
    check_method = "POST"
    check_path = send_path
    check_body = {}  # cannot send mail: see the module docstring

    def auth_headers(self) -> dict[str, str]:
        return {"api_key": self.secret}

    def payload(self, envelope: Envelope) -> dict:
        sender = {"email": envelope.from_address}
        if envelope.from_name:
            sender["name"] = envelope.from_name
        personalization = {"to": [{"email": envelope.to}], "headers": envelope.headers}
        if envelope.meta:
            personalization["token_to"] = envelope.meta
        body = {
            "from": sender,
            "subject": envelope.subject,
            "content": [{"type": "html", "value": envelope.html or envelope.text}],
            "personalizations": [personalization],
        }
        if envelope.reply_to:
            body["reply_to"] = envelope.reply_to
        return body

    def message_id(self, response: httpx.Response) -> str:
        try:
            return str(response.json()["data"]["message_id"])
        except (ValueError, KeyError, TypeError):
            return ""

    def key_check_steps(self, response: httpx.Response) -> list[CheckStep]:
        status = response.status_code
        if status in (401, 403) or status >= 500:
            return [CheckStep("API key accepted", False, self.api_error(response).detail)]
        return [
            CheckStep(
                "API key accepted",
                True,
                f"Netcore accepted the key (an empty test request, no mail sent: HTTP {status}).",
            )
        ]
