"""SesAdapter: boto3 against moto's SES v2 server on loopback, and against a loopback stub
that answers SES's errors and GetAccount (moto does not implement GetAccount) and checks what
it receives."""

import json

import pytest

from providers.adapters import DeliveryError, OutgoingMessage, adapter_for
from providers.connection_check import check_provider_settings
from providers.models import EmailProvider
from tests.factories import EmailProviderFactory

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def ses_provider(**kwargs) -> EmailProvider:
    fields = {
        "kind": EmailProvider.Kind.SES,
        "host": "",
        "port": None,
        "scheme": "",
        "username": "",
        "region": "us-east-1",
        "access_key_id": KEY_ID,
        "secret": SECRET,
        "from_name": "Acme News",
        "from_address": "news@acme.test",
        "reply_to_address": "help@acme.test",
    }
    return EmailProviderFactory(**{**fields, **kwargs})


def message():
    return OutgoingMessage(
        to="ada@example.org", subject="Test", text="Hello", html="<p>Hello</p>", meta="m|17|2"
    )


@pytest.fixture
def ses_stub(esp_api, settings):
    api = esp_api()
    settings.SES_ENDPOINT_URL = api.url
    return api


def ses_error(api, status: int, code: str, message: str) -> None:
    api.reply(status, {"message": message}, headers={"x-amzn-ErrorType": f"{code}:http://x/"})


def test_send_reaches_moto_with_a_verified_sender(moto_ses):
    moto_ses.verify("news@acme.test")
    provider = ses_provider()

    result = adapter_for(provider).send(message())

    assert result.message_id
    [sent] = moto_ses.sent()
    assert sent.destinations["ToAddresses"] == ["ada@example.org"]
    assert sent.subject == "Test"


def test_unverified_sender_is_a_sandbox_or_unverified_sender_failure(moto_ses):
    provider = ses_provider()

    with pytest.raises(DeliveryError) as caught:
        adapter_for(provider).send(message())

    assert caught.value.reason == "unverified_sender"
    assert "not verified" in caught.value.detail
    assert moto_ses.sent() == []


def test_send_request_carries_meta_tags_headers_and_a_sigv4_signature(ses_stub):
    provider = ses_provider(configuration_set="postdesk")
    ses_stub.reply(200, {"MessageId": "ses-msg-1"})

    result = adapter_for(provider).send(message())

    assert result.message_id == "ses-msg-1"
    [request] = ses_stub.requests
    assert (request.method, request.path) == ("POST", "/v2/email/outbound-emails")
    assert f"Credential={KEY_ID}/" in request.headers["authorization"]
    assert "/us-east-1/ses/aws4_request" in request.headers["authorization"]
    assert SECRET not in json.dumps(request.headers)
    body = request.json()
    assert body["Destination"] == {"ToAddresses": ["ada@example.org"]}
    assert body["FromEmailAddress"] == '"Acme News" <news@acme.test>'
    assert body["ReplyToAddresses"] == ["help@acme.test"]
    assert body["ConfigurationSetName"] == "postdesk"
    assert {"Name": "send_id", "Value": "17"} in body["EmailTags"]
    headers = {h["Name"]: h["Value"] for h in body["Content"]["Simple"]["Headers"]}
    assert headers["X-Postdesk-Meta"] == "m|17|2"
    assert headers["X-Postdesk-Send-Id"] == "17"


@pytest.mark.parametrize(
    ("status", "code", "text", "reason", "transient"),
    [
        (
            403,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
            "api_key_refused",
            False,
        ),  # noqa: E501
        (
            403,
            "MessageRejected",
            "Email address is not verified. The following identities failed the check in "
            "region US-EAST-1: to@example.com",
            "unverified_sender",
            False,
        ),  # noqa: E501
        (429, "TooManyRequestsException", "Too many requests", "rate_limited", True),
        (400, "LimitExceededException", "Maximum sending rate exceeded.", "rate_limited", True),
        (400, "BadRequestException", "Illegal address", "invalid_recipient", False),
        (400, "AccountSuspendedException", "Account suspended", "esp_rejected", False),
    ],
)
def test_ses_errors_are_classified_by_code_not_status(
    ses_stub, status, code, text, reason, transient
):
    provider = ses_provider()
    ses_error(ses_stub, status, code, text)

    with pytest.raises(DeliveryError) as caught:
        adapter_for(provider).send(message())

    assert (caught.value.reason, caught.value.transient) == (reason, transient)
    assert len(ses_stub.requests) == 1  # boto3 does not retry behind our back


def test_a_secret_echoed_in_an_error_is_scrubbed(ses_stub):
    provider = ses_provider()
    ses_error(ses_stub, 403, "SignatureDoesNotMatch", f"bad signature for {SECRET}")

    with pytest.raises(DeliveryError) as caught:
        adapter_for(provider).send(message())

    assert caught.value.reason == "api_key_refused"
    assert SECRET not in caught.value.detail


def test_unreachable_endpoint_is_an_api_connection_error(settings, closed_port):
    settings.SES_ENDPOINT_URL = f"http://127.0.0.1:{closed_port}"
    provider = ses_provider()

    with pytest.raises(DeliveryError) as caught:
        adapter_for(provider).send(message())

    assert (caught.value.reason, caught.value.transient) == ("api_connection_error", True)


def test_silent_endpoint_is_an_api_timeout(settings, silent_server):
    settings.SES_ENDPOINT_URL = f"http://127.0.0.1:{silent_server.port}"
    settings.ESP_HTTP_TIMEOUT_SECONDS = 0.5
    provider = ses_provider()

    with pytest.raises(DeliveryError) as caught:
        adapter_for(provider).send(message())

    assert (caught.value.reason, caught.value.transient) == ("api_timeout", True)


def test_internal_endpoint_is_refused_before_boto3_connects(ses_stub, settings):
    settings.PROVIDER_HOSTS_ALLOW_PRIVATE = False
    provider = ses_provider()

    with pytest.raises(DeliveryError) as caught:
        adapter_for(provider).send(message())

    assert caught.value.reason == "api_connection_error"
    assert ses_stub.requests == []


ACCOUNT = {
    "SendQuota": {"Max24HourSend": 200.0, "MaxSendRate": 1.0, "SentLast24Hours": 0.0},
    "SendingEnabled": True,
    "ProductionAccessEnabled": False,
    "EnforcementStatus": "HEALTHY",
}


def test_test_connection_asks_get_account_and_reports_the_sandbox(ses_stub):
    provider = ses_provider()
    ses_stub.reply(200, ACCOUNT)

    report = check_provider_settings(provider)

    assert [(s.name, s.ok) for s in report.steps] == [
        ("Reach the API", True),
        ("Access keys accepted", True),
        ("Sending enabled", True),
        ("Production access", False),
    ]
    assert "sandbox" in report.steps[-1].detail
    [request] = ses_stub.requests
    assert (request.method, request.path) == ("GET", "/v2/email/account")
    assert f"Credential={KEY_ID}/" in request.headers["authorization"]


def test_test_connection_production_account_passes(ses_stub):
    provider = ses_provider()
    ses_stub.reply(200, {**ACCOUNT, "ProductionAccessEnabled": True})

    assert check_provider_settings(provider).ok


def test_test_connection_reports_paused_sending(ses_stub):
    provider = ses_provider()
    ses_stub.reply(200, {**ACCOUNT, "SendingEnabled": False, "EnforcementStatus": "SHUTDOWN"})

    steps = check_provider_settings(provider).steps

    assert ("Sending enabled", False) in [(s.name, s.ok) for s in steps]


def test_test_connection_reports_refused_keys(ses_stub):
    provider = ses_provider()
    ses_error(ses_stub, 403, "UnrecognizedClientException", "The security token is invalid.")

    steps = check_provider_settings(provider).steps

    assert [(s.name, s.ok) for s in steps] == [
        ("Reach the API", True),
        ("Access keys accepted", False),
    ]


def test_test_connection_reports_an_unreachable_endpoint(settings, closed_port):
    settings.SES_ENDPOINT_URL = f"http://127.0.0.1:{closed_port}"
    provider = ses_provider()

    [step] = check_provider_settings(provider).steps

    assert (step.name, step.ok) == ("Reach the API", False)
