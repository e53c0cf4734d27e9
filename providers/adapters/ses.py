"""Amazon SES through boto3's SES v2 client (reference part 2, §1.1).

``sesv2.send_email`` signs the request (SigV4) and posts it to
``email.<region>.amazonaws.com/v2/email/outbound-emails`` (or ``SES_ENDPOINT_URL``); the
answer's ``MessageId`` is the ``mail.messageId`` of SES's events. The send is tagged
``send_id`` and ``provider_id`` (tags come back in event publishing's ``mail.tags``) and
carries the ``X-Postdesk-Meta`` and ``X-Postdesk-Send-Id`` headers (they come back in
``mail.headers``).

"Test connection" asks ``GetAccount``: it sends nothing, proves the keys are accepted and
says whether sending is enabled and whether the account is still in the sandbox.

The endpoint's host is checked with the provider-host policy (`providers.network`) before
boto3 connects; boto3 then resolves the name itself, so unlike the httpx adapters the
connection is not pinned to the checked address.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from django.conf import settings

from .base import Adapter, CheckStep, DeliveryError, Envelope, Reason, SendResult, scrub_secret
from .http import API_NETWORK_REASONS

SEND_ID_HEADER = "X-Postdesk-Send-Id"
# SES error codes (ClientError ``Error.Code``) by the product's reason; never branch on status.
REFUSED_CREDENTIALS = {
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "AccessDeniedException",
    "InvalidSignatureException",
}
RATE_LIMITED = {"TooManyRequestsException", "LimitExceededException", "ThrottlingException"}
UNVERIFIED_SENDER = {"MailFromDomainNotVerifiedException"}
QUOTA_WORDS = ("Maximum sending rate exceeded", "Daily message quota exceeded")


class SesAdapter(Adapter):
    """Sends through SES v2; see the module docstring."""

    @property
    def timeout(self) -> float:
        return float(settings.ESP_HTTP_TIMEOUT_SECONDS)

    @property
    def endpoint_url(self) -> str:
        region = self.provider.region or "us-east-1"
        return settings.SES_ENDPOINT_URL or f"https://email.{region}.amazonaws.com"

    @property
    def destination(self) -> str:
        return self.endpoint_url

    def client(self):
        """A sesv2 client for the provider's region and keys, after the host check."""
        from providers.network import check_host

        endpoint = urlsplit(self.endpoint_url)
        check_host(endpoint.hostname or "", endpoint.port or 443)
        return boto3.session.Session().client(
            "sesv2",
            region_name=self.provider.region or "us-east-1",
            aws_access_key_id=self.provider.access_key_id,
            aws_secret_access_key=self.secret,
            endpoint_url=self.endpoint_url,
            config=Config(
                connect_timeout=self.timeout,
                read_timeout=self.timeout,
                retries={"total_max_attempts": 1},
            ),
        )

    def _send(self, envelope: Envelope) -> SendResult:
        answer = self.client().send_email(**self.request(envelope))
        return SendResult(message_id=answer.get("MessageId", ""), code=200)

    def request(self, envelope: Envelope) -> dict:
        """The keyword arguments of ``send_email``."""
        sender = envelope.from_address
        if envelope.from_name:
            sender = f'"{envelope.from_name}" <{envelope.from_address}>'
        body = {"Text": {"Data": envelope.text, "Charset": "UTF-8"}}
        if envelope.html:
            body["Html"] = {"Data": envelope.html, "Charset": "UTF-8"}
        headers = dict(envelope.headers)
        tags = [{"Name": "provider_id", "Value": str(self.provider.pk or 0)}]
        send_id = send_id_of(envelope.meta)
        if send_id:
            headers[SEND_ID_HEADER] = send_id
            tags.append({"Name": "send_id", "Value": send_id})
        request = {
            "FromEmailAddress": sender,
            "Destination": {"ToAddresses": [envelope.to]},
            "Content": {
                "Simple": {
                    "Subject": {"Data": envelope.subject, "Charset": "UTF-8"},
                    "Body": body,
                    "Headers": [{"Name": k, "Value": v} for k, v in headers.items()],
                }
            },
            "EmailTags": tags,
        }
        if envelope.reply_to:
            request["ReplyToAddresses"] = [envelope.reply_to]
        if self.provider.configuration_set:
            request["ConfigurationSetName"] = self.provider.configuration_set
        return request

    def _translate_error(self, exc: Exception) -> DeliveryError | None:
        if isinstance(exc, ClientError):
            return self.client_error(exc)
        if isinstance(exc, ConnectTimeoutError | ReadTimeoutError):
            return DeliveryError(Reason.API_TIMEOUT, f"No answer in time ({exc}).", transient=True)
        if isinstance(exc, EndpointConnectionError):
            return DeliveryError(Reason.API_CONNECTION_ERROR, str(exc), transient=True)
        return None

    def _wrap_network_error(self, exc: Exception) -> DeliveryError | None:
        from .base import wrap_network_error

        error = wrap_network_error(exc)
        if error is None:
            if isinstance(exc, BotoCoreError):
                return DeliveryError(Reason.API_CONNECTION_ERROR, str(exc), transient=True)
            return None
        reason = API_NETWORK_REASONS.get(error.reason, error.reason)
        return DeliveryError(reason, error.detail, code=error.code, transient=error.transient)

    def client_error(self, exc: ClientError) -> DeliveryError:
        """Classify SES's answer by its error code and words (never by the HTTP status)."""
        error = exc.response.get("Error", {})
        code = error.get("Code", "")
        message = error.get("Message", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        detail = scrub_secret(f"{code}: {message}", self.secret)
        if code in REFUSED_CREDENTIALS:
            return DeliveryError(Reason.API_KEY_REFUSED, detail, code=status)
        if code in RATE_LIMITED or any(words in message for words in QUOTA_WORDS):
            return DeliveryError(Reason.RATE_LIMITED, detail, code=status, transient=True)
        if code in UNVERIFIED_SENDER or "not verified" in message:
            return DeliveryError(Reason.UNVERIFIED_SENDER, detail, code=status)
        if code == "BadRequestException" and "address" in message.lower():
            return DeliveryError(Reason.INVALID_RECIPIENT, detail, code=status)
        transient = bool(status and status >= 500)
        return DeliveryError(Reason.ESP_REJECTED, detail, code=status, transient=transient)

    def check_connection(self) -> list[CheckStep]:
        if not (self.provider.access_key_id and self.secret):
            return [CheckStep("Access keys", False, "The access key ID or secret is not set.")]
        try:
            account = self.client().get_account()
        except Exception as exc:
            error = self._translate_error(exc) or self._wrap_network_error(exc)
            if error is None:
                raise
            if error.reason == Reason.API_KEY_REFUSED:
                return [
                    CheckStep("Reach the API", True, f"{self.endpoint_url} answered."),
                    CheckStep("Access keys accepted", False, error.detail),
                ]
            return [CheckStep("Reach the API", False, f"{self.endpoint_url}: {error.detail}")]
        return [
            CheckStep("Reach the API", True, f"{self.endpoint_url} answered GetAccount."),
            CheckStep("Access keys accepted", True, "SES accepted the access keys."),
            sending_step(account),
            sandbox_step(account),
        ]


def send_id_of(meta: str) -> str:
    """The send's id from the meta value ``<recipient>|<test_email_id>|<provider_id>``."""
    parts = meta.split("|")
    return parts[1] if len(parts) == 3 and parts[1].isalnum() else ""


def sending_step(account: dict) -> CheckStep:
    if account.get("SendingEnabled", True):
        return CheckStep("Sending enabled", True, "Sending is enabled for this account.")
    status = account.get("EnforcementStatus", "")
    return CheckStep("Sending enabled", False, f"SES has paused sending ({status}).".strip())


def sandbox_step(account: dict) -> CheckStep:
    quota = account.get("SendQuota", {})
    limits = f"{quota.get('Max24HourSend', '?')} a day, {quota.get('MaxSendRate', '?')}/s"
    if account.get("ProductionAccessEnabled"):
        return CheckStep("Production access", True, f"Out of the sandbox; quota {limits}.")
    return CheckStep(
        "Production access",
        False,
        "The account is in the SES sandbox: it only sends to verified addresses "
        f"(quota {limits}). Request production access in the SES console.",
    )
