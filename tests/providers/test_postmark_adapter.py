"""PostmarkAdapter against loopback HTTP servers standing in for Postmark's API."""

import re

import pytest

from providers.adapters import DeliveryError, OutgoingMessage, adapter_for
from providers.models import EmailProvider
from tests.factories import EmailProviderFactory
from tests.postmark_api import SERVER_TOKEN

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


def make_provider(**extra) -> EmailProvider:
    fields = {
        "kind": EmailProvider.Kind.POSTMARK,
        "host": "",
        "port": None,
        "scheme": "",
        "username": "",
        "secret": SERVER_TOKEN,
        "from_name": "Acme News",
        "from_address": "news@acme.test",
        "reply_to_address": "help@acme.test",
        **extra,
    }
    return EmailProviderFactory(**fields)


def message():
    return OutgoingMessage(
        to="ada@example.org", subject="Test", text="Hello", html="<p>Hello</p>", meta="m|1|2"
    )


def test_send_posts_the_email_with_metadata_and_message_stream(postmark_api):
    provider = make_provider(message_stream="broadcast")

    result = adapter_for(provider).send(message())

    [request] = postmark_api.requests
    assert (request.method, request.path) == ("POST", "/email")
    assert request.headers["x-postmark-server-token"] == SERVER_TOKEN
    [email] = postmark_api.accepted
    assert result.code == 200
    assert re.fullmatch(r"[0-9a-f-]{36}", result.message_id)
    assert email["From"] == '"Acme News" <news@acme.test>'
    assert (email["To"], email["Subject"], email["ReplyTo"]) == (
        "ada@example.org",
        "Test",
        "help@acme.test",
    )
    assert (email["TextBody"], email["HtmlBody"]) == ("Hello", "<p>Hello</p>")
    assert email["MessageStream"] == "broadcast"
    assert email["Metadata"] == {"meta": "m|1|2"}
    headers = {h["Name"]: h["Value"] for h in email["Headers"]}
    assert headers["X-Postdesk-Meta"] == "m|1|2"
    assert re.fullmatch(r"<[^@<>]+@acme\.test>", headers["Message-ID"])


def test_a_blank_message_stream_sends_through_outbound(postmark_api):
    adapter_for(make_provider()).send(message())

    assert postmark_api.accepted[0]["MessageStream"] == "outbound"


def test_a_refused_token_is_not_retried_and_never_echoed(postmark_api):
    postmark_api.token = "another-token"

    with pytest.raises(DeliveryError) as caught:
        adapter_for(make_provider()).send(message())

    assert (caught.value.reason, caught.value.code, caught.value.transient) == (
        "api_key_refused",
        401,
        False,
    )
    assert "Server Token you provided was invalid" in caught.value.detail
    assert SERVER_TOKEN not in str(caught.value)


@pytest.mark.parametrize(
    ("status", "body", "reason", "transient"),
    [
        (
            422,
            {
                "ErrorCode": 300,
                "Message": "Invalid 'From' address: 'news@acme.test' is not a verified "
                "sender signature.",
            },
            "unverified_sender",
            False,
        ),
        (
            422,
            {"ErrorCode": 412, "Message": "Your account is pending approval."},
            "unverified_sender",
            False,
        ),  # noqa: E501
        (
            422,
            {
                "ErrorCode": 406,
                "Message": "You tried to send to a recipient that has been marked as inactive.",
            },
            "invalid_recipient",
            False,
        ),  # noqa: E501
        (
            422,
            {
                "ErrorCode": 300,
                "Message": "Error parsing 'Cc': Illegal email domain '+' in address 'user@+'.",
            },
            "invalid_recipient",
            False,
        ),  # noqa: E501
        (429, {"ErrorCode": 429, "Message": "Rate limit exceeded."}, "rate_limited", True),
        (422, {"ErrorCode": 405, "Message": "Not allowed to send."}, "esp_rejected", False),
        (503, {"ErrorCode": 0, "Message": "Service unavailable"}, "esp_rejected", True),
        (403, b"<html>Forbidden</html>", "api_connection_error", False),
    ],
)
def test_postmark_errors_are_classified(esp_api, settings, status, body, reason, transient):
    api = esp_api()
    settings.POSTMARK_API_URL = api.url
    provider = make_provider()
    api.reply(status, body)

    with pytest.raises(DeliveryError) as caught:
        adapter_for(provider).send(message())

    assert (caught.value.reason, caught.value.code, caught.value.transient) == (
        reason,
        status,
        transient,
    )
    assert caught.value.detail.startswith(f"HTTP {status}: ")


def test_unreachable_api_is_an_api_connection_error(settings, closed_port):
    settings.POSTMARK_API_URL = f"http://127.0.0.1:{closed_port}"
    provider = make_provider()

    with pytest.raises(DeliveryError) as caught:
        adapter_for(provider).send(message())

    assert (caught.value.reason, caught.value.transient) == ("api_connection_error", True)


def test_silent_api_is_an_api_timeout(settings, silent_server):
    settings.POSTMARK_API_URL = f"http://127.0.0.1:{silent_server.port}"
    settings.ESP_HTTP_TIMEOUT_SECONDS = 0.5
    provider = make_provider()

    with pytest.raises(DeliveryError) as caught:
        adapter_for(provider).send(message())

    assert (caught.value.reason, caught.value.transient) == ("api_timeout", True)


def test_check_connection_looks_up_the_server_without_sending(postmark_api):
    steps = adapter_for(make_provider()).check_connection()

    assert [(s.name, s.ok) for s in steps] == [
        ("Reach the API", True),
        ("Server token accepted", True),
        ("Server delivers mail", True),
    ]
    assert "Acme transactional" in steps[1].detail
    assert [(r.method, r.path) for r in postmark_api.requests] == [("GET", "/server")]
    assert postmark_api.accepted == []
    assert all(SERVER_TOKEN not in step.detail for step in steps)  # the answer lists tokens


def test_check_connection_reports_a_sandbox_server(postmark_api):
    postmark_api.sandbox = True

    steps = adapter_for(make_provider()).check_connection()

    assert (steps[-1].name, steps[-1].ok) == ("Server delivers mail", False)
    assert "sandbox" in steps[-1].detail


def test_check_connection_reports_a_refused_token(postmark_api):
    postmark_api.token = "another-token"

    steps = adapter_for(make_provider()).check_connection()

    assert (steps[-1].name, steps[-1].ok) == ("Server token accepted", False)
    assert steps[-1].detail.startswith("HTTP 401: ")
