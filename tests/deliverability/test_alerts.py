"""Alerts: raised when a threshold is crossed with enough volume, once per threshold per day."""

from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.urls import reverse
from django.utils import timezone

from deliverability.alerts import email_alert, raise_alerts
from deliverability.models import Alert, Level, Metric, Thresholds
from deliverability.tasks import check_thresholds
from providers.models import EmailProvider
from tests.factories import EmailProviderFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_crossing_raises_one_alert_and_not_again_the_same_day(
    add_stats, django_capture_on_commit_callbacks
):
    provider = EmailProviderFactory()
    stat = add_stats(provider, delivered=940, hard_bounce=60)  # 6%: critical
    with django_capture_on_commit_callbacks() as callbacks:
        assert check_thresholds() == 1
    [alert] = Alert.objects.all()
    assert (alert.metric, alert.level) == (Metric.BOUNCE_RATE, Level.CRITICAL)
    assert len(callbacks) == 1  # one email queued
    stat.hard_bounce = 200
    stat.save()
    with django_capture_on_commit_callbacks() as callbacks:
        assert check_thresholds() == 0
    assert callbacks == []
    assert Alert.objects.count() == 1


def test_the_next_day_raises_again(add_stats):
    provider = EmailProviderFactory()
    add_stats(provider, delivered=940, hard_bounce=60)
    raise_alerts()
    assert len(raise_alerts(today=timezone.localdate() + timedelta(days=1))) == 1
    assert Alert.objects.count() == 2


def test_one_alert_per_threshold_per_day_is_a_database_rule(add_stats):
    provider = EmailProviderFactory()
    add_stats(provider, delivered=940, hard_bounce=60)
    alert = raise_alerts()[0]
    with pytest.raises(IntegrityError):
        Alert.objects.create(
            provider=provider,
            metric=alert.metric,
            level=alert.level,
            window="7d",
            day=alert.day,
            rate=9,
            threshold=5,
            delivered=1,
        )


def test_no_alert_below_the_minimum_volume(add_stats):
    provider = EmailProviderFactory()
    add_stats(provider, delivered=2, hard_bounce=1)  # one bounce in three messages
    assert raise_alerts() == []


def test_no_alert_under_the_thresholds(add_stats):
    provider = EmailProviderFactory()
    add_stats(provider, delivered=1000, hard_bounce=10, spam=0)
    assert raise_alerts() == []


def test_warning_then_critical_the_same_day_raises_both(add_stats):
    provider = EmailProviderFactory()
    stat = add_stats(provider, delivered=1000, spam=2)  # 0.2%: warning
    assert [a.level for a in raise_alerts()] == [Level.WARNING]
    stat.spam = 5  # 0.5%: critical
    stat.save()
    assert [a.level for a in raise_alerts()] == [Level.CRITICAL]


def test_edited_thresholds_apply(add_stats):
    Thresholds.objects.create(bounce_warning=10, bounce_critical=20, minimum_delivered=50)
    provider = EmailProviderFactory()
    add_stats(provider, delivered=940, hard_bounce=60)  # 6%: under the new 10%
    assert raise_alerts() == []


def test_alert_email_goes_to_staff_through_the_default_provider(add_stats, smtp_server):
    server = smtp_server()
    default = EmailProviderFactory(
        nickname="Tom & Jerry's", host=server.host, port=server.port, scheme="smtp", username=""
    )
    EmailProvider.objects.mark_default(default)
    UserFactory(is_staff=True, email="ops@example.com")
    UserFactory(is_staff=False, email="marketer@example.com")
    add_stats(default, delivered=940, hard_bounce=60)
    alert = raise_alerts()[0]
    assert email_alert(alert) == "sent"
    assert email_alert(alert) == "already sent"
    [mail] = server.messages
    assert mail.rcpt_tos == ["ops@example.com"]
    message = mail.message
    assert message["Subject"] == "[Postdesk] Critical: Tom & Jerry's bounce rate at 6.00%"
    assert "5.00%" in message.get_body().get_content()
    alert.refresh_from_db()
    assert alert.emailed_at is not None


def test_alert_email_without_default_provider_is_recorded(add_stats):
    provider = EmailProviderFactory()
    UserFactory(is_staff=True, email="ops@example.com")
    add_stats(provider, delivered=940, hard_bounce=60)
    alert = raise_alerts()[0]
    assert email_alert(alert) == "no default provider"
    alert.refresh_from_db()
    assert alert.emailed_at is None


# --- pages -----------------------------------------------------------------------------------
def crossed_alert(add_stats) -> Alert:
    provider = EmailProviderFactory(nickname="Newsletters")
    add_stats(provider, delivered=940, hard_bounce=60)
    return raise_alerts()[0]


def test_banner_shows_open_alert_until_acknowledged(client_logged_in, user, add_stats):
    alert = crossed_alert(add_stats)
    page = client_logged_in.get(reverse("profiles:list")).content.decode()
    assert 'id="deliverability-alerts"' in page and "Newsletters" in page and "6.00%" in page
    response = client_logged_in.post(
        reverse("deliverability:acknowledge", args=[alert.pk]), {"next": "/profiles/"}
    )
    assert response.status_code == 302 and response.url == "/profiles/"
    alert.refresh_from_db()
    assert alert.acknowledged_by == user and alert.acknowledged_at is not None
    assert (
        'id="deliverability-alerts"'
        not in client_logged_in.get(reverse("profiles:list")).content.decode()
    )


def test_acknowledge_refuses_get_anonymous_and_foreign_next(client, client_logged_in, add_stats):
    alert = crossed_alert(add_stats)
    url = reverse("deliverability:acknowledge", args=[alert.pk])
    assert client_logged_in.get(url).status_code == 405
    assert client.post(url).status_code == 302 and not Alert.objects.get().acknowledged_at
    response = client_logged_in.post(url, {"next": "https://evil.example/"})
    assert response.url == reverse("deliverability:alerts")


def test_alert_history_lists_alerts(client_logged_in, add_stats, django_assert_max_num_queries):
    crossed_alert(add_stats)
    with django_assert_max_num_queries(8):
        page = client_logged_in.get(reverse("deliverability:alerts")).content.decode()
    assert "Newsletters" in page and "Critical" in page and "Bounce rate" in page


def test_thresholds_page_is_for_staff(client_logged_in, admin_client_logged_in):
    url = reverse("deliverability:thresholds")
    refused = client_logged_in.get(url)
    assert refused.status_code == 403
    assert "Only admins can change the deliverability thresholds." in refused.content.decode()
    response = admin_client_logged_in.post(
        url,
        {
            "bounce_warning": "3",
            "bounce_critical": "6",
            "complaint_warning": "0.1",
            "complaint_critical": "0.3",
            "minimum_delivered": "200",
        },
    )
    assert response.status_code == 302
    assert Thresholds.current().bounce_warning == 3
    assert Thresholds.current().minimum_delivered == 200


def test_thresholds_reject_critical_below_warning(admin_client_logged_in):
    response = admin_client_logged_in.post(
        reverse("deliverability:thresholds"),
        {
            "bounce_warning": "5",
            "bounce_critical": "2",
            "complaint_warning": "abc",
            "complaint_critical": "0.3",
            "minimum_delivered": "0",
        },
    )
    assert response.status_code == 200
    assert "must not be below the warning level" in response.content.decode()
    assert not Thresholds.objects.exists()
