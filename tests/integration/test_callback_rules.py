"""The documents' profile rules and test-email attribution, through a real HTTP callback and a
real Celery worker."""

import httpx
import pytest
from django.conf import settings
from django.urls import reverse

from callbacks.models import TestEmailEvent
from profiles.models import Profile, TimelineEvent
from providers.models import TestEmail
from tests.factories import EmailProviderFactory
from tests.servers import wait_until_applied, wait_until_finished

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),  # the worker thread must see committed rows
    pytest.mark.skipif(
        not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")),
        reason="needs a Redis broker: set CELERY_BROKER_URL=redis://…",
    ),
]


def v2(*items: dict) -> dict:
    """A generic v2 body (seed 003): delivered items under success, the others under failed."""
    success = [item for item in items if item["type"] == "delivered"]
    failed = [item for item in items if item["type"] != "delivered"]
    return {"version": "v2", "events": {"success": success, "failed": failed}}


def post_callback(url: str, body: dict) -> None:
    response = httpx.post(url, json=body, timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "success"
    wait_until_applied()


def test_channel_unsubscribed_is_raised_once_per_unsubscription(live_server, celery_worker):
    provider = EmailProviderFactory(nickname="Relay")
    url = live_server.url + provider.callback_path
    meta = "ada@example.org|campaign-1|"
    post_callback(url, v2({"type": "unsubscribed", "email": "ada@example.org", "meta": meta}))
    post_callback(
        url,
        v2(
            {"type": "hard_bounce", "email": "ada@example.org", "meta": meta},
            {"type": "spam", "email": "ada@example.org", "meta": meta},
            {"type": "unsubscribed", "email": "ada@example.org", "meta": meta + "2"},
        ),
    )
    timeline = TimelineEvent.objects.filter(profile__email="ada@example.org")
    kinds = sorted(timeline.values_list("kind", flat=True))
    assert kinds == [
        TimelineEvent.Kind.CHANNEL_UNSUBSCRIBED,
        TimelineEvent.Kind.NOTIFICATION_FAILED,
    ]
    failed = timeline.get(kind=TimelineEvent.Kind.NOTIFICATION_FAILED)
    assert failed.properties["Error"] == "Hard bounce"
    assert Profile.objects.get(email="ada@example.org").inactive_reason == "unsubscribed"


def test_callbacks_naming_a_test_email_show_on_its_page(
    client_logged_in, live_server, smtp_server, celery_worker
):
    server = smtp_server("smtp")
    provider = EmailProviderFactory(host=server.host, port=server.port, scheme="smtp", username="")
    client_logged_in.post(
        reverse("providers:send_test", args=[provider.pk]), {"recipient": "qa@acme.test"}
    )
    test_email = wait_until_finished(TestEmail.objects.get(provider=provider).pk)
    assert test_email.status == TestEmail.Status.SENT, test_email.failure_detail
    [message] = server.messages
    meta = message.message["X-Postdesk-Meta"]

    post_callback(
        live_server.url + provider.callback_path,
        v2(
            {"type": "delivered", "email": "qa@acme.test", "meta": meta},
            {
                "type": "hard_bounce",
                "email": "qa@acme.test",
                "meta": meta,
                "description": "550 5.1.1 no such user",
            },
            {"type": "delivered", "email": "other@acme.test", "meta": "other@acme.test|x|"},
        ),
    )

    assert sorted(TestEmailEvent.objects.values_list("kind", flat=True)) == [
        "delivered",
        "hard_bounce",
    ]
    page = client_logged_in.get(reverse("providers:test_email", args=[test_email.pk]))
    html = page.content.decode()
    section = html[html.index('id="test-email-events"') :]
    assert "<td>Delivered</td>" in section
    assert "<td>Hard bounce</td>" in section
    assert "550 5.1.1 no such user" in section
