"""The test email's page lists what the provider's callbacks reported for that message."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from callbacks.models import EventKind, TestEmailEvent
from providers.models import TestEmail
from tests.factories import EmailProviderFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def record(test_email: TestEmail, kind: EventKind, seconds: int, description: str = ""):
    return TestEmailEvent.objects.create(
        test_email=test_email,
        kind=kind,
        occurred_at=T0 + timedelta(seconds=seconds),
        received_at=T0 + timedelta(minutes=1),
        description=description,
    )


def test_the_page_lists_the_events_of_this_test_email_only(client_logged_in):
    provider = EmailProviderFactory()
    test_email = TestEmail.objects.create(provider=provider, recipient="qa@acme.test")
    other = TestEmail.objects.create(provider=provider, recipient="qa@acme.test")
    record(test_email, EventKind.DELIVERED, 0)
    record(test_email, EventKind.SPAM, 5, "Complaint <from> the recipient")
    record(other, EventKind.HARD_BOUNCE, 1, "not this one")

    response = client_logged_in.get(reverse("providers:test_email", args=[test_email.pk]))

    assert response.status_code == 200
    assert [(e.kind, e.description) for e in response.context["events"]] == [
        ("delivered", ""),
        ("spam", "Complaint <from> the recipient"),
    ]
    html = response.content.decode()
    section = html[html.index('id="test-email-events"') :]
    assert "<td>Delivered</td>" in section
    assert "<td>Spam</td>" in section
    assert "Complaint &lt;from&gt; the recipient" in section
    assert "not this one" not in html
    assert 'datetime="2026-03-01T12:00:05+00:00"' in section


def test_the_page_says_when_nothing_was_reported_yet(client_logged_in):
    test_email = TestEmail.objects.create(provider=EmailProviderFactory(), recipient="qa@acme.test")
    response = client_logged_in.get(reverse("providers:test_email", args=[test_email.pk]))
    assert "Nothing yet" in response.content.decode()


def test_the_events_cost_one_query_whatever_their_number(client_logged_in):
    test_email = TestEmail.objects.create(provider=EmailProviderFactory(), recipient="qa@acme.test")
    url = reverse("providers:test_email", args=[test_email.pk])
    record(test_email, EventKind.DELIVERED, 0)
    with CaptureQueriesContext(connection) as one:
        client_logged_in.get(url)
    for second in range(1, 30):
        record(test_email, EventKind.SOFT_BOUNCE, second)
    with CaptureQueriesContext(connection) as thirty:
        response = client_logged_in.get(url)
    assert len(response.context["events"]) == 30
    assert len(thirty) == len(one)
