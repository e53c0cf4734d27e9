"""NetcoreAdapter against a loopback HTTP server that checks what it receives."""

import re
from email.utils import parsedate_to_datetime

import pytest

from providers.adapters import DeliveryError, OutgoingMessage, adapter_for
from providers.models import EmailProvider
from tests.factories import EmailProviderFactory

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

API_KEY = "nc-0123456789abcdef"


@pytest.fixture
def provider(netcore_api):
    # Saved after the stub API is up: the key is bound to the API base it was saved for.
    return EmailProviderFactory(
        kind=EmailProvider.Kind.NETCORE,
        host="",
        port=None,
        scheme="",
        username="",
        secret=API_KEY,
        from_name="Acme News",
        from_address="news@acme.test",
        reply_to_address="help@acme.test",
        preference_center=EmailProvider.PreferenceCenter.CUSTOM,
        preference_center_url="https://acme.test/unsubscribe",
    )


def message():
    return OutgoingMessage(
        to="ada@example.org", subject="Test", text="Hello", html="<p>Hello</p>", meta="m|1|2"
    )


def test_send_posts_the_v5_1_mail_send_request(provider, netcore_api):
    netcore_api.reply(200, {"data": {"message_id": "nc-42"}, "message": "OK", "status": "success"})

    result = adapter_for(provider).send(message())

    assert (result.message_id, result.code) == ("nc-42", 200)
    [request] = netcore_api.requests
    assert (request.method, request.path) == ("POST", "/v5.1/mail/send")
    assert request.headers["api_key"] == API_KEY
    assert "authorization" not in request.headers
    body = request.json()
    assert body["from"] == {"email": "news@acme.test", "name": "Acme News"}
    assert body["reply_to"] == "help@acme.test"
    assert body["subject"] == "Test"
    assert body["content"] == [{"type": "html", "value": "<p>Hello</p>"}]
    [personalization] = body["personalizations"]
    assert personalization["to"] == [{"email": "ada@example.org"}]
    assert personalization["token_to"] == "m|1|2"
    headers = personalization["headers"]
    assert parsedate_to_datetime(headers.pop("Date")).tzinfo is not None
    assert re.fullmatch(r"<[^@<>]+@acme\.test>", headers.pop("Message-ID"))
    # The Netcore "Unsubscribe Page" is the preference center choice; a custom page is not
    # Postdesk's page, so no RFC 8058 one-click claim.
    assert headers == {
        "X-Postdesk-Meta": "m|1|2",
        "List-Unsubscribe": "<https://acme.test/unsubscribe>",
    }


def test_with_postdesk_unsubscribe_page_the_one_click_url_applies(provider, netcore_api):
    provider.preference_center = EmailProvider.PreferenceCenter.SYSTEM
    netcore_api.reply(202, {"data": {"message_id": "nc-43"}, "status": "success"})

    adapter_for(provider).send(message())

    headers = netcore_api.requests[0].json()["personalizations"][0]["headers"]
    assert "/profiles/unsubscribe/" in headers["List-Unsubscribe"]
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


@pytest.mark.parametrize(
    ("status", "body", "reason", "transient", "text"),
    [
        (
            401,
            {"message": "Invalid api key", "status": "error"},
            "api_key_refused",
            False,
            "HTTP 401: Invalid api key",
        ),
        (
            400,
            {"error": [{"message": "from.email is invalid"}]},
            "esp_rejected",
            False,
            "HTTP 400: from.email is invalid",
        ),
        (500, {"status": "error"}, "esp_rejected", True, 'HTTP 500: {"status": "error"}'),
    ],
)
def test_esp_errors_keep_status_and_message(
    provider, netcore_api, status, body, reason, transient, text
):
    netcore_api.reply(status, body)

    with pytest.raises(DeliveryError) as caught:
        adapter_for(provider).send(message())

    assert (caught.value.reason, caught.value.code) == (reason, status)
    assert caught.value.transient is transient
    assert caught.value.detail == text


def test_check_connection_accepts_a_key_that_gets_past_authentication(provider, netcore_api):
    netcore_api.reply(400, {"message": "subject is required"})

    steps = adapter_for(provider).check_connection()

    assert [(s.name, s.ok) for s in steps] == [("Reach the API", True), ("API key accepted", True)]
    [request] = netcore_api.requests
    assert request.json() == {}
    assert request.headers["api_key"] == API_KEY


def test_check_connection_reports_a_refused_key(provider, netcore_api):
    netcore_api.reply(401, {"message": "Unauthorized"})

    steps = adapter_for(provider).check_connection()

    assert (steps[-1].ok, steps[-1].detail) == (False, "HTTP 401: Unauthorized")
