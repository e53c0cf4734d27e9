"""Every signed-in dashboard page answers with at most ten SQL queries, session and user
included, on a realistic installation: a provider with alerts, a domain check, a bounce
mailbox, test emails, callback logs (samples among them), waiting and failing batches.
"""

from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from callbacks.mailbox.models import BounceMailbox
from callbacks.models import CallbackLog, DailyStat, PendingBatch, TestEmailEvent
from deliverability.models import Alert, DomainCheck, Level, Metric, Window
from profiles.models import Profile, ProfileExport, ProfileImport, TimelineEvent
from providers import audit
from providers.models import EmailProvider, TestEmail
from tests.factories import EmailProviderFactory, ProfileFactory, UserFactory
from tests.url_walk import dashboard_urls

pytestmark = pytest.mark.django_db

MAX_QUERIES = 10
# Views that answer POST only: a GET is refused (405) before any query.
POST_ONLY = {
    "callbacks:mailbox_poll",
    "callbacks:sample",
    "deliverability:acknowledge",
    "deliverability:check_domain",
    "providers:mark_default",
    "providers:test_connection",
}


def add_logs(provider: EmailProvider, now) -> None:
    """A day of callbacks: applied, rejected, samples, one waiting, two failing."""
    logs = [
        CallbackLog(
            provider=provider,
            status_code=400 if n % 7 == 0 else 200,
            payload_format="sendgrid",
            events_total=3,
            processed=3,
            kind_counts={"delivered": 2, "hard_bounce": 1},
            is_sample=n % 5 == 0,
            applied_at=now,
        )
        for n in range(30)
    ]
    logs += [
        CallbackLog(provider=provider, status_code=200, events_total=1, processed=1)
        for _ in range(3)
    ]
    CallbackLog.objects.bulk_create(logs)
    for n, log in enumerate(logs):
        CallbackLog.objects.filter(pk=log.pk).update(received_at=now - timedelta(minutes=40 * n))
    waiting, *failing = logs[-3:]
    PendingBatch.objects.create(log=waiting, body=b"[]")
    for attempts, log in enumerate(failing, start=1):
        PendingBatch.objects.create(log=log, body=b"[]", attempts=attempts, last_error="boom")


@pytest.fixture
def installation():
    """What a busy installation's pages show; returns the URL arguments of the walk."""
    now = timezone.now()
    staff = UserFactory(is_staff=True, is_superuser=True)
    provider = EmailProviderFactory(nickname="Main")
    EmailProvider.objects.mark_default(provider)
    EmailProviderFactory(nickname="API", sendgrid=True)
    audit.record(staff, provider, audit.CREATED)
    for days_ago in range(10):
        DailyStat.objects.create(
            provider=provider,
            date=timezone.localdate() - timedelta(days=days_ago),
            delivered=1000,
            hard_bounce=40,
            spam=5,
        )
    Alert.objects.create(
        provider=provider,
        metric=Metric.BOUNCE_RATE,
        level=Level.CRITICAL,
        window=Window.DAY,
        day=timezone.localdate(),
        rate=4,
        threshold=2,
        delivered=1000,
    )
    DomainCheck.objects.create(
        provider=provider,
        domain="example.com",
        checked_at=now,
        results={"spf": {"status": "pass"}, "dkim": {"status": "warn"}},
    )
    BounceMailbox.objects.create(
        provider=provider, host="imap.example.com", username="bounces", last_error="timed out"
    )
    test_email = None
    for n in range(6):
        test_email = TestEmail.objects.create(
            provider=provider, recipient=f"qa{n}@acme.test", status=TestEmail.Status.SENT
        )
        TestEmailEvent.objects.create(
            test_email=test_email, kind="delivered", occurred_at=now, received_at=now
        )
    TestEmail.objects.filter(pk=test_email.pk).update(created_at=now - timedelta(days=2))
    add_logs(provider, now)
    profile = ProfileFactory(
        email="gone@acme.test", status=Profile.Status.INACTIVE, inactive_reason="hard_bounce"
    )
    TimelineEvent.objects.bulk_create(
        TimelineEvent(profile=profile, kind="notification_delivered", occurred_at=now)
        for _ in range(30)
    )
    for n in range(30):
        ProfileFactory(email=f"person{n}@acme.test")
    import_ = ProfileImport.objects.create(created_by=staff, filename="people.csv")
    export = ProfileExport.objects.create(created_by=staff, status=ProfileExport.Status.DONE)
    export.parts.create(number=1, data=b"")
    return {
        "staff": staff,
        "provider": provider,
        "test_email": test_email,
        "profile": profile,
        "import": import_,
        "export": export,
    }


def url_for(name: str, converters: dict, objects: dict) -> str:
    if not converters:
        return reverse(name)
    if list(converters) == ["kind"]:
        return reverse(name, kwargs={"kind": "smtp"})
    assert list(converters) == ["pk"], f"{name}: teach this test the converters {converters}"
    if "test_email" in name:
        key = "test_email"
    elif name.startswith("profiles:import"):
        key = "import"
    elif name.startswith("profiles:export"):
        key = "export"
    elif name.startswith("profiles:"):
        key = "profile"
    else:
        key = "provider"
    return reverse(name, kwargs={"pk": objects[key].pk})


PAGES = [name for name, _ in dashboard_urls() if name not in POST_ONLY]
CONVERTERS = dict(dashboard_urls())


@pytest.mark.parametrize("name", PAGES)
def test_page_makes_at_most_ten_queries(name, installation, django_assert_max_num_queries):
    client = Client()
    client.force_login(installation["staff"])
    url = url_for(name, CONVERTERS[name], installation)
    ContentType.objects.clear_cache()  # as in a process that serves its first request
    # SQLite's JSON support is probed once per connection object, not per page.
    assert connection.features.supports_json_field
    with django_assert_max_num_queries(MAX_QUERIES):
        response = client.get(url)
    assert response.status_code in (200, 302), (url, response.status_code)


@pytest.mark.parametrize("kind", ["sendgrid", "netcore", "postmark", "ses", "mailgun", "gmail"])
def test_the_page_of_every_kind_of_provider_too(kind, installation, django_assert_max_num_queries):
    provider = EmailProviderFactory(nickname=kind, **{kind: True})
    client = Client()
    client.force_login(installation["staff"])
    with django_assert_max_num_queries(MAX_QUERIES):
        response = client.get(reverse("providers:detail", args=[provider.pk]))
    assert response.status_code == 200


def test_the_provider_page_still_shows_every_panel(installation):
    client = Client()
    client.force_login(installation["staff"])
    page = client.get(reverse("providers:detail", args=[installation["provider"].pk]))
    html = " ".join(page.content.decode().split())
    assert 'id="deliverability-alerts"' in html
    assert "example.com, checked" in html  # the domain check
    assert "The last poll failed: <code>timed out</code>" in html  # the bounce mailbox
    assert "qa4@acme.test" in html  # the test emails
    assert "A test email was sent" not in html  # callbacks came after the last one
    assert "2 accepted callback batches could not be applied to profiles yet" in html
    assert "3 accepted batches of events, 2 of them failing" in html
    assert "Created." in html  # the audit trail
