"""The shared base of the ESPs with a JSON web API: sending and "reach the API".

`HttpApiAdapter` owns the HTTP plumbing: the client that connects only to addresses the
provider-host policy allows, timeouts, error wrapping (network errors named for a web API,
non-2xx answers classified with the ESP's own words and without our key), the send request
and the connection check's first step. Each ESP supplies only what differs: its base URL
setting, paths, auth header, payload, where the message id is, and what the check's answer
means.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
from django.conf import settings

from .base import (
    Adapter,
    CheckStep,
    DeliveryError,
    Reason,
    SendResult,
    scrub_secret,
    wrap_network_error,
)

if TYPE_CHECKING:
    from .base import Envelope


class HttpApiAdapter(Adapter):
    """Base of the HTTP ESP adapters; see the module docstring."""

    base_url_setting = ""
    send_path = ""
    check_method = "GET"
    check_path = ""
    check_body: dict | None = None  # JSON sent with the check request, if any

    # --- what each ESP supplies -------------------------------------------------------
    def auth_headers(self) -> dict[str, str]:
        """The header(s) carrying the API key."""
        raise NotImplementedError

    def payload(self, envelope: Envelope) -> dict:
        """The JSON body of the send request."""
        raise NotImplementedError

    def message_id(self, response: httpx.Response) -> str:
        """The ESP's id for an accepted send, from its answer ("" when it gives none)."""
        return ""

    def key_check_steps(self, response: httpx.Response) -> list[CheckStep]:
        """What the answer to the check request says about the key."""
        raise NotImplementedError

    # --- shared -----------------------------------------------------------------------
    @property
    def timeout(self) -> float:
        return float(settings.ESP_HTTP_TIMEOUT_SECONDS)

    @property
    def base_url(self) -> str:
        return getattr(settings, self.base_url_setting).rstrip("/")

    @property
    def destination(self) -> str:
        return self.base_url

    def headers(self) -> dict[str, str]:
        return {**self.auth_headers(), "Accept": "application/json"}

    def client(self) -> httpx.Client:
        """An httpx client that connects only to addresses the provider-host policy allows."""
        from providers.network import CheckedTransport

        return httpx.Client(
            base_url=self.base_url,
            timeout=self.timeout,
            follow_redirects=False,
            transport=CheckedTransport(),
        )

    def _send(self, envelope: Envelope) -> SendResult:
        with self.client() as client:
            response = client.post(
                self.send_path, json=self.payload(envelope), headers=self.headers()
            )
        if not response.is_success:
            raise self.api_error(response)
        return SendResult(message_id=self.message_id(response), code=response.status_code)

    def check_connection(self) -> list[CheckStep]:
        url = self.base_url + self.check_path
        if not self.secret:
            return [CheckStep("API key", False, "No API key is set.")]
        try:
            with self.client() as client:
                response = client.request(
                    self.check_method, self.check_path, json=self.check_body, headers=self.headers()
                )
        except Exception as exc:
            error = self._wrap_network_error(exc)
            if error is None:
                raise
            return [CheckStep("Reach the API", False, f"{url}: {error.detail}")]
        reached = CheckStep("Reach the API", True, f"{url} answered HTTP {response.status_code}.")
        return [reached, *self.key_check_steps(response)]

    def _wrap_network_error(self, exc: Exception) -> DeliveryError | None:
        """The shared network errors, named for a web API rather than an SMTP server."""
        error = wrap_network_error(exc)
        if error is None:
            return None
        reason = API_NETWORK_REASONS.get(error.reason, error.reason)
        return DeliveryError(reason, error.detail, code=error.code, transient=error.transient)

    def api_error(self, response: httpx.Response) -> DeliveryError:
        """Classify a non-2xx answer, keeping the ESP's status and message (without our key).

        A refused key is not transient: trying again cannot fix it.
        """
        status = response.status_code
        text = scrub_secret(f"HTTP {status}: {esp_error_message(response)}", self.secret)
        if status in (401, 403):
            return DeliveryError(Reason.API_KEY_REFUSED, text, code=status)
        transient = status >= 500 or status == 429
        return DeliveryError(Reason.ESP_REJECTED, text, code=status, transient=transient)


# The shared network reasons, as they read for a web API.
API_NETWORK_REASONS = {
    Reason.CONNECTION_ERROR: Reason.API_CONNECTION_ERROR,
    Reason.TIMEOUT: Reason.API_TIMEOUT,
}


def esp_error_message(response: httpx.Response) -> str:
    """The ESP's own error text from a JSON body of any common shape, else the raw body."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:500] or response.reason_phrase
    messages = []
    if isinstance(body, dict):
        errors = body.get("errors") or body.get("error")
        if isinstance(errors, list):
            for item in errors:
                if isinstance(item, dict):
                    where = f"{item['field']}: " if item.get("field") else ""
                    messages.append(where + str(item.get("message") or item.get("description")))
                else:
                    messages.append(str(item))
        elif isinstance(errors, dict | str):
            messages.append(
                str(errors.get("message", errors)) if isinstance(errors, dict) else errors
            )
        if not messages and body.get("message"):
            messages.append(str(body["message"]))
    return "; ".join(messages) or response.text.strip()[:500] or response.reason_phrase
