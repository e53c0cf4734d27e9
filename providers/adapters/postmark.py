"""Postmark's Email API (reference part 2, §3.1).

``POST {POSTMARK_API_URL}/email`` with ``X-Postmark-Server-Token`` and a JSON body; 200 with
``{"MessageID", "ErrorCode": 0}`` means accepted. Errors come back as ``{"ErrorCode", "Message"}``
(401 for a bad token, 422 with the code that says why); an HTML 403 without an ``ErrorCode``
comes from a network layer in front of the API, not from Postmark.

The meta value travels as the ``X-Postdesk-Meta`` header and in ``Metadata`` under ``meta``,
because Postmark echoes Metadata (not headers) in every webhook record.

"Test connection" asks ``GET /server``: it sends no mail, proves the server token is accepted
and says whether the server is a sandbox that delivers nothing. Its answer lists the server's
tokens, so nothing of it is logged or shown beyond the server's name and delivery type.
"""

from __future__ import annotations

import httpx

from .base import CheckStep, DeliveryError, Envelope, Reason, scrub_secret
from .http import HttpApiAdapter, esp_error_message

DEFAULT_MESSAGE_STREAM = "outbound"

# Postmark's API error codes (§3.1) and the product's reasons.
TOKEN_REFUSED_CODES = {10}
INVALID_REQUEST_CODE = 300
INACTIVE_RECIPIENT_CODE = 406
SENDER_BLOCKED_CODES = {412}  # account pending approval: may only send inside its own domain
RATE_LIMIT_CODE = 429


class PostmarkAdapter(HttpApiAdapter):
    base_url_setting = "POSTMARK_API_URL"
    send_path = "/email"
    check_path = "/server"

    def auth_headers(self) -> dict[str, str]:
        return {"X-Postmark-Server-Token": self.secret}

    def payload(self, envelope: Envelope) -> dict:
        sender = envelope.from_address
        if envelope.from_name:
            sender = f'"{envelope.from_name}" <{envelope.from_address}>'
        body = {
            "From": sender,
            "To": envelope.to,
            "Subject": envelope.subject,
            "TextBody": envelope.text,
            "Headers": [{"Name": name, "Value": value} for name, value in envelope.headers.items()],
            "MessageStream": self.provider.message_stream or DEFAULT_MESSAGE_STREAM,
        }
        if envelope.html:
            body["HtmlBody"] = envelope.html
        if envelope.reply_to:
            body["ReplyTo"] = envelope.reply_to
        if envelope.meta:
            body["Metadata"] = {"meta": envelope.meta}
        return body

    def message_id(self, response: httpx.Response) -> str:
        try:
            return str(response.json().get("MessageID") or "")
        except (ValueError, AttributeError):
            return ""

    def api_error(self, response: httpx.Response) -> DeliveryError:
        """Classify Postmark's answer by its ``ErrorCode`` and words, without our token."""
        status = response.status_code
        code = postmark_error_code(response)
        text = scrub_secret(f"HTTP {status}: {esp_error_message(response)}", self.secret)
        if status == 401 or code in TOKEN_REFUSED_CODES:
            return DeliveryError(Reason.API_KEY_REFUSED, text, code=status)
        if status == 403 and code is None:
            detail = f"{text} (not Postmark's answer: a proxy or firewall refused the request)"
            return DeliveryError(Reason.API_CONNECTION_ERROR, detail, code=status)
        if status == 429 or code == RATE_LIMIT_CODE:
            return DeliveryError(Reason.RATE_LIMITED, text, code=status, transient=True)
        if code in SENDER_BLOCKED_CODES or (
            code == INVALID_REQUEST_CODE and "sender signature" in text.lower()
        ):
            return DeliveryError(Reason.UNVERIFIED_SENDER, text, code=status)
        if code == INACTIVE_RECIPIENT_CODE or (
            code == INVALID_REQUEST_CODE and names_recipient_field(text)
        ):
            return DeliveryError(Reason.INVALID_RECIPIENT, text, code=status)
        return DeliveryError(Reason.ESP_REJECTED, text, code=status, transient=status >= 500)

    def key_check_steps(self, response: httpx.Response) -> list[CheckStep]:
        if not response.is_success:
            return [CheckStep("Server token accepted", False, self.api_error(response).detail)]
        try:
            server = response.json()
        except ValueError:
            server = {}
        if not isinstance(server, dict):
            server = {}
        name = str(server.get("Name") or "")
        accepted = (
            f"Postmark accepted the token of server “{name}”."
            if name
            else ("Postmark accepted the server token.")
        )
        steps = [CheckStep("Server token accepted", True, accepted)]
        delivery_type = str(server.get("DeliveryType") or "")
        if delivery_type.lower() == "sandbox":
            steps.append(
                CheckStep(
                    "Server delivers mail",
                    False,
                    "This is a sandbox server: Postmark accepts mail but delivers none. "
                    "Use a live server's token.",
                )
            )
        else:
            shown = delivery_type or "not stated"
            steps.append(CheckStep("Server delivers mail", True, f"Delivery type: {shown}."))
        return steps


def postmark_error_code(response: httpx.Response) -> int | None:
    """Postmark's ``ErrorCode``, or None when the answer is not Postmark's JSON."""
    try:
        code = response.json().get("ErrorCode")
    except (ValueError, AttributeError):
        return None
    return code if isinstance(code, int) else None


def names_recipient_field(text: str) -> bool:
    """Does an invalid-request message blame a recipient field (To, Cc, Bcc)?"""
    lowered = text.lower()
    return any(f"'{field}'" in lowered for field in ("to", "cc", "bcc"))
