"""Netcore Email API (formerly Pepipost), v5.1 (reference §2.1, seed 001).

``POST {NETCORE_API_URL}/v5.1/mail/send`` with the header ``api_key: <key>`` and a JSON body;
any 2xx means accepted (seed 001 lists 200, 201 and 202) and the body carries
``data.message_id``. Error bodies are not documented, so they are read defensively.

Content types are Netcore's own words (``html``, ``amp``), not MIME types; ``reply_to`` is a
plain address. The meta value goes in the per-recipient headers and in ``token_to``, which
Netcore's webhook echoes back as ``X-APIHEADER``.

Unsubscribe: the provider's "Unsubscribe Page" (seed 000) wins when set, without the one-click
claim (it is not Postdesk's page); otherwise the preference center choice applies, as for every
provider.

"Test connection" posts an empty JSON object to the send endpoint. Netcore has no documented
read-only endpoint; an empty body cannot send mail. A 401/403 means the key is refused; a 400
("invalid parameters") means the key got past authentication. (That Netcore authenticates
before it validates is an observation about HTTP APIs in general, not a documented promise.)
"""

from __future__ import annotations

from .base import CheckStep, Envelope, HttpApiAdapter, SendResult, UnsubscribeLink

SEND_PATH = "/v5.1/mail/send"


class NetcoreAdapter(HttpApiAdapter):
    base_url_setting = "NETCORE_API_URL"

    def headers(self) -> dict[str, str]:
        return {"api_key": self.secret, "Accept": "application/json"}

    def unsubscribe_link(self, recipient: str, *, test: bool = False) -> UnsubscribeLink | None:
        if self.provider.unsubscribe_page_url:  # not ours: no one-click claim
            return UnsubscribeLink(self.provider.unsubscribe_page_url, one_click=False)
        return super().unsubscribe_link(recipient, test=test)

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

    def _send(self, envelope: Envelope) -> SendResult:
        with self.client() as client:
            response = client.post(SEND_PATH, json=self.payload(envelope), headers=self.headers())
        if not response.is_success:
            raise self.api_error(response)
        try:
            message_id = str(response.json()["data"]["message_id"])
        except (ValueError, KeyError, TypeError):
            message_id = ""
        return SendResult(message_id=message_id, code=response.status_code)

    def check_connection(self) -> list[CheckStep]:
        url = self.base_url + SEND_PATH
        if not self.secret:
            return [CheckStep("API key", False, "No API key is set.")]
        try:
            with self.client() as client:
                response = client.post(SEND_PATH, json={}, headers=self.headers())
        except Exception as exc:
            error = self._wrap_network_error(exc)
            if error is None:
                raise
            return [CheckStep("Reach the API", False, f"{url}: {error.detail}")]
        steps = [CheckStep("Reach the API", True, f"{url} answered HTTP {response.status_code}.")]
        if response.status_code in (401, 403) or response.status_code >= 500:
            steps.append(CheckStep("API key accepted", False, self.api_error(response).detail))
        else:
            steps.append(
                CheckStep(
                    "API key accepted",
                    True,
                    f"Netcore accepted the key (an empty test request, no mail sent: "
                    f"HTTP {response.status_code}).",
                )
            )
        return steps
