"""SendGridAdapter against a loopback HTTP server that checks what it receives."""

import re
from email.utils import parsedate_to_datetime

import pytest

from providers.adapters import DeliveryError, OutgoingMessage, adapter_for
from providers.models import EmailProvider
from tests.factories import EmailProviderFactory

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

API_KEY = "SG.test-key.abc123"


@pytest.fixture
def provider(sendgrid_api):
    # Saved after the stub API is up: the key is bound to the API base it was saved for.
    return EmailProviderFactory(
        kind=EmailProvider.Kind.SENDGRID,
        host="",
        port=None,
        scheme="",
        username="",
        secret=API_KEY,
        from_name="Acme News",
        from_address="news@acme.test",
        reply_to_address="help@acme.test",
        preference_center=EmailProvider.PreferenceCenter.CUSTOM,
        preference_center_url="https://acme.test/prefs",
    )


def message():
    return OutgoingMessage(
        to="ada@example.org", subject="Test", text="Hello", html="<p>Hello</p>", meta="m|1|2"
    )


def test_send_posts_the_v3_mail_send_request(provider, sendgrid_api):
    sendgrid_api.reply(202, headers={"X-Message-Id": "sg-msg-1"})

    result = adapter_for(provider).send(message())

    assert (result.message_id, result.code) == ("sg-msg-1", 202)
    [request] = sendgrid_api.requests
    assert (request.method, request.path) == ("POST", "/v3/mail/send")
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["content-type"] == "application/json"
    body = request.json()
    assert body["personalizations"] == [{"to": [{"email": "ada@example.org"}]}]
    assert body["from"] == {"email": "news@acme.test", "name": "Acme News"}
    assert body["reply_to"] == {"email": "help@acme.test"}
    assert body["subject"] == "Test"
    assert body["content"] == [
        {"type": "text/plain", "value": "Hello"},
        {"type": "text/html", "value": "<p>Hello</p>"},
    ]
    headers = body["headers"]
    assert parsedate_to_datetime(headers.pop("Date")).tzinfo is not None
    assert re.fullmatch(r"<[^@<>]+@acme\.test>", headers.pop("Message-ID"))
    # A custom page is not known to accept the RFC 8058 POST: no one-click claim for it.
    assert headers == {
        "X-Postdesk-Meta": "m|1|2",
        "List-Unsubscribe": "<https://acme.test/prefs>",
    }
    assert body["custom_args"] == {"meta": "m|1|2"}


@pytest.mark.parametrize(
    ("status", "body", "reason", "transient", "text"),
    [
        (
            401,
            {"errors": [{"field": None, "message": "The provided authorization grant is invalid"}]},
            "api_key_refused",
            False,
            "HTTP 401: The provided authorization grant is invalid",
        ),
        (
            400,
            {"errors": [{"field": "from.email", "message": "The from email does not match"}]},
            "esp_rejected",
            False,
            "HTTP 400: from.email: The from email does not match",
        ),
        (500, b"upstream exploded", "esp_rejected", True, "HTTP 500: upstream exploded"),
    ],
)
def test_esp_errors_keep_status_and_message(
    provider, sendgrid_api, status, body, reason, transient, text
):
    sendgrid_api.reply(status, body)

    with pytest.raises(DeliveryError) as caught:
        adapter_for(provider).send(message())

    assert caught.value.reason == reason
    assert caught.value.code == status
    assert caught.value.transient is transient
    assert caught.value.detail == text


def test_answers_in_turn_202_401_400_500(provider, sendgrid_api):
    for status in (202, 401, 400, 500):
        sendgrid_api.reply(status, {} if status != 202 else b"")
    adapter = adapter_for(provider)

    assert adapter.send(message()).code == 202
    codes = []
    for _ in range(3):
        with pytest.raises(DeliveryError) as caught:
            adapter.send(message())
        codes.append(caught.value.code)

    assert codes == [401, 400, 500]
    assert len(sendgrid_api.requests) == 4


def test_unreachable_api_is_a_transient_api_connection_error(provider, settings, closed_port):
    settings.SENDGRID_API_URL = f"http://127.0.0.1:{closed_port}"
    provider.set_secret(API_KEY)  # saved again for this API base

    with pytest.raises(DeliveryError) as caught:
        adapter_for(provider).send(message())

    assert (caught.value.reason, caught.value.transient) == ("api_connection_error", True)


def test_silent_api_is_an_api_timeout(provider, settings, silent_server):
    settings.SENDGRID_API_URL = f"http://127.0.0.1:{silent_server.port}"
    provider.set_secret(API_KEY)  # saved again for this API base
    settings.ESP_HTTP_TIMEOUT_SECONDS = 0.5

    with pytest.raises(DeliveryError) as caught:
        adapter_for(provider).send(message())

    assert (caught.value.reason, caught.value.transient) == ("api_timeout", True)


def test_check_connection_reads_the_key_scopes(provider, sendgrid_api):
    sendgrid_api.reply(200, {"scopes": ["mail.send", "alerts.read"]})

    steps = adapter_for(provider).check_connection()

    assert [(s.name, s.ok) for s in steps] == [
        ("Reach the API", True),
        ("API key accepted", True),
        ("Permission to send", True),
    ]
    [request] = sendgrid_api.requests
    assert (request.method, request.path) == ("GET", "/v3/scopes")
    assert request.headers["authorization"] == f"Bearer {API_KEY}"


def test_check_connection_reports_a_refused_key(provider, sendgrid_api):
    sendgrid_api.reply(401, {"errors": [{"message": "authorization required"}]})

    steps = adapter_for(provider).check_connection()

    assert steps[-1].name == "API key accepted"
    assert steps[-1].ok is False
    assert steps[-1].detail == "HTTP 401: authorization required"


def test_check_connection_reports_a_key_without_mail_send(provider, sendgrid_api):
    sendgrid_api.reply(200, {"scopes": ["stats.read"]})

    steps = adapter_for(provider).check_connection()

    assert (steps[-1].name, steps[-1].ok) == ("Permission to send", False)
