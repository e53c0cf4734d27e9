"""The callbacks' admin keeps the dashboard's rules: history is read-only, and the soft-bounce
policy saves as its own page does."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from callbacks.models import CallbackLog, DailyStat, SoftBouncePolicy
from profiles.models import Profile, TimelineEvent
from tests.factories import EmailProviderFactory, ProfileFactory


@pytest.mark.django_db
def test_daily_stats_are_read_only_in_the_admin(admin_client_logged_in):
    provider = EmailProviderFactory()
    stat = DailyStat.objects.create(provider=provider, date=timezone.localdate(), delivered=5)
    changelist = reverse("admin:callbacks_dailystat_changelist")
    assert admin_client_logged_in.get(changelist).status_code == 200

    add = admin_client_logged_in.post(
        reverse("admin:callbacks_dailystat_add"),
        {"provider": provider.pk, "date": "2026-01-01", "delivered": 1000},
    )
    assert add.status_code == 403
    change = admin_client_logged_in.post(
        reverse("admin:callbacks_dailystat_change", args=[stat.pk]),
        {"provider": provider.pk, "date": stat.date.isoformat(), "delivered": 1000},
    )
    assert change.status_code == 403
    delete = admin_client_logged_in.post(
        reverse("admin:callbacks_dailystat_delete", args=[stat.pk]), {"post": "yes"}
    )
    assert delete.status_code == 403
    assert list(DailyStat.objects.values_list("delivered", flat=True)) == [5]


@pytest.mark.django_db
def test_callback_logs_cannot_be_deleted_in_the_admin(admin_client_logged_in):
    log = CallbackLog.objects.create(provider=EmailProviderFactory(), status_code=200)
    url = reverse("admin:callbacks_callbacklog_delete", args=[log.pk])
    assert admin_client_logged_in.post(url, {"post": "yes"}).status_code == 403
    assert CallbackLog.objects.filter(pk=log.pk).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"threshold": "0", "window_days": "14"}, "threshold"),
        ({"window_days": "400"}, "window_days"),
    ],
)
def test_admin_refuses_a_policy_the_page_refuses(admin_client_logged_in, data, field):
    policy = SoftBouncePolicy.objects.create(pk=1, threshold=3, window_days=14)
    url = reverse("admin:callbacks_softbouncepolicy_change", args=[policy.pk])
    response = admin_client_logged_in.post(url, {"threshold": "3", **data})
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    policy.refresh_from_db()
    assert (policy.threshold, policy.window_days) == (3, 14)


@pytest.mark.django_db
def test_policy_saved_in_the_admin_applies_to_profiles_like_the_page(admin_client_logged_in):
    now = timezone.now()
    bouncing = ProfileFactory(soft_bounce_count=2, soft_bounce_since=now - timedelta(days=1))
    ProfileFactory(soft_bounce_count=1, soft_bounce_since=now - timedelta(days=1))
    url = reverse("admin:callbacks_softbouncepolicy_add")

    response = admin_client_logged_in.post(url, {"threshold": "2", "window_days": "7"})

    assert response.status_code == 302
    policy = SoftBouncePolicy.current()
    assert (policy.threshold, policy.window_days) == (2, 7)
    assert list(Profile.objects.filter(status=Profile.Status.INACTIVE)) == [bouncing]
    bouncing.refresh_from_db()
    assert bouncing.inactive_reason == Profile.Reason.SOFT_BOUNCE
    assert TimelineEvent.objects.get().profile_id == bouncing.pk
    messages = [str(m) for m in response.wsgi_request._messages]
    assert "1 profile was made Inactive." in messages
