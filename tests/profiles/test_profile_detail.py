from datetime import timedelta

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.urls import reverse
from django.utils import timezone

from profiles.models import Profile, TimelineEvent
from profiles.views import TIMELINE_PER_PAGE
from tests.factories import ProfileFactory


def inactive_profile(reason=Profile.Reason.HARD_BOUNCE, **extra):
    return ProfileFactory(
        email="gone@example.com",
        status=Profile.Status.INACTIVE,
        inactive_reason=reason,
        inactive_since=timezone.now() - timedelta(days=2),
        inactive_provider="SendGrid main",
        inactive_detail="550 5.1.1 The email account that you tried to reach does not exist",
        soft_bounce_count=2,
        **extra,
    )


def add_events(profile, count):
    now = timezone.now()
    TimelineEvent.objects.bulk_create(
        TimelineEvent(
            profile=profile,
            kind=TimelineEvent.Kind.NOTIFICATION_DELIVERED,
            occurred_at=now - timedelta(minutes=index),
            provider_name="SendGrid main",
            properties={"index": index},
        )
        for index in range(count)
    )


@pytest.mark.django_db
def test_detail_shows_status_and_timeline_newest_first(client_logged_in):
    profile = inactive_profile()
    now = timezone.now()
    TimelineEvent.objects.create(
        profile=profile,
        kind=TimelineEvent.Kind.NOTIFICATION_DELIVERED,
        occurred_at=now - timedelta(days=3),
        provider_name="SendGrid main",
    )
    TimelineEvent.objects.create(
        profile=profile,
        kind=TimelineEvent.Kind.CHANNEL_UNSUBSCRIBED,
        occurred_at=now - timedelta(days=2),
        provider_name="SendGrid main",
        properties={"Type": "hard_bounce", "reason": "550 mailbox unavailable"},
    )
    response = client_logged_in.get(reverse("profiles:detail", args=[profile.pk]))
    assert response.status_code == 200
    kinds = [event.kind for event in response.context["events"]]
    assert kinds == ["channel_unsubscribed", "notification_delivered"]
    body = response.content.decode()
    assert "550 mailbox unavailable" in body
    assert "does not exist" in body  # the ESP's diagnostic
    # A signed-in non-staff user does not get the re-activate button.
    assert reverse("profiles:reactivate", args=[profile.pk]) not in body


@pytest.mark.django_db
def test_detail_timeline_is_paginated_with_bounded_queries(
    client_logged_in, django_assert_max_num_queries
):
    profile = ProfileFactory()
    add_events(profile, TIMELINE_PER_PAGE + 5)
    url = reverse("profiles:detail", args=[profile.pk])
    with django_assert_max_num_queries(5):  # + the open-alerts banner
        first = client_logged_in.get(url)
    assert len(first.context["events"]) == TIMELINE_PER_PAGE
    assert first.context["events"][0].properties == {"index": 0}
    assert first.context["timeline"].has_next
    second = client_logged_in.get(url, {"page": 2})
    assert [event.properties["index"] for event in second.context["events"]] == list(
        range(TIMELINE_PER_PAGE, TIMELINE_PER_PAGE + 5)
    )


@pytest.mark.django_db
def test_detail_unknown_profile_is_404(client_logged_in):
    assert client_logged_in.get(reverse("profiles:detail", args=[999999])).status_code == 404


@pytest.mark.django_db
def test_staff_sees_reactivate_button_only_when_inactive(admin_client_logged_in):
    inactive = inactive_profile()
    active = ProfileFactory()
    body = admin_client_logged_in.get(reverse("profiles:detail", args=[inactive.pk])).content
    assert reverse("profiles:reactivate", args=[inactive.pk]).encode() in body
    body = admin_client_logged_in.get(reverse("profiles:detail", args=[active.pk])).content
    assert reverse("profiles:reactivate", args=[active.pk]).encode() not in body


# --- Re-activation -----------------------------------------------------------------------


@pytest.mark.django_db
def test_reactivate_is_staff_only(client_logged_in, client):
    profile = inactive_profile()
    url = reverse("profiles:reactivate", args=[profile.pk])
    assert client.get(url).status_code == 302  # anonymous: to the login page
    assert client_logged_in.get(url).status_code == 403
    response = client_logged_in.post(url, {"reason": "asked by phone", "confirm": "on"})
    assert response.status_code == 403
    profile.refresh_from_db()
    assert profile.status == Profile.Status.INACTIVE


@pytest.mark.django_db
def test_reactivate_confirmation_shows_why_when_and_provider(admin_client_logged_in):
    profile = inactive_profile()
    response = admin_client_logged_in.get(reverse("profiles:reactivate", args=[profile.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Hard bounce" in body
    assert "SendGrid main" in body
    assert "The email account that you tried to reach does not exist" in body
    assert profile.inactive_since.strftime("%Y-%m-%d") in body
    assert 'name="confirm"' in body


@pytest.mark.django_db
@pytest.mark.parametrize("reason", [Profile.Reason.HARD_BOUNCE, Profile.Reason.SPAM])
def test_hard_bounce_or_spam_needs_the_extra_confirmation(admin_client_logged_in, reason):
    profile = inactive_profile(reason=reason)
    url = reverse("profiles:reactivate", args=[profile.pk])
    response = admin_client_logged_in.post(url, {"reason": "They wrote to support"})
    assert response.status_code == 200
    assert response.context["form"].errors["confirm"]
    profile.refresh_from_db()
    assert profile.status == Profile.Status.INACTIVE
    assert not TimelineEvent.objects.filter(profile=profile).exists()


@pytest.mark.django_db
def test_reason_is_required(admin_client_logged_in):
    profile = inactive_profile(reason=Profile.Reason.UNSUBSCRIBED)
    response = admin_client_logged_in.post(
        reverse("profiles:reactivate", args=[profile.pk]), {"reason": "   "}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["reason"]
    profile.refresh_from_db()
    assert profile.status == Profile.Status.INACTIVE


@pytest.mark.django_db
def test_reactivate_hard_bounce_with_confirmation(admin_client_logged_in, staff_user):
    profile = inactive_profile()
    response = admin_client_logged_in.post(
        reverse("profiles:reactivate", args=[profile.pk]),
        {"reason": "Mailbox recreated, confirmed by phone", "confirm": "on"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("profiles:detail", args=[profile.pk])

    profile.refresh_from_db()
    assert profile.status == Profile.Status.ACTIVE
    assert profile.inactive_reason == ""
    assert profile.inactive_since is None
    assert profile.inactive_detail == ""
    assert profile.soft_bounce_count == 0

    event = TimelineEvent.objects.get(profile=profile)
    assert event.kind == TimelineEvent.Kind.CHANNEL_RESUBSCRIBED
    assert event.properties["reason"] == "Mailbox recreated, confirmed by phone"
    assert event.properties["by"] == staff_user.username
    assert event.properties["previous_reason"] == "hard_bounce"

    entry = LogEntry.objects.get(object_id=str(profile.pk))
    assert entry.user == staff_user
    assert entry.action_flag == CHANGE
    assert entry.get_edited_object() == profile
    assert "Mailbox recreated" in entry.change_message
    assert "Hard bounce" in entry.change_message


@pytest.mark.django_db
def test_unsubscribed_profile_needs_no_extra_confirmation(admin_client_logged_in):
    profile = inactive_profile(reason=Profile.Reason.UNSUBSCRIBED)
    url = reverse("profiles:reactivate", args=[profile.pk])
    assert 'name="confirm"' not in admin_client_logged_in.get(url).content.decode()
    response = admin_client_logged_in.post(url, {"reason": "Signed up again at the shop"})
    assert response.status_code == 302
    profile.refresh_from_db()
    assert profile.is_active


@pytest.mark.django_db
def test_reactivating_an_active_profile_changes_nothing(admin_client_logged_in):
    profile = ProfileFactory()
    response = admin_client_logged_in.post(
        reverse("profiles:reactivate", args=[profile.pk]), {"reason": "x", "confirm": "on"}
    )
    assert response.status_code == 302
    assert not TimelineEvent.objects.exists()
    assert not LogEntry.objects.exists()


@pytest.mark.django_db
def test_detail_names_the_categories_opted_out_of(client_logged_in):
    profile = ProfileFactory(unsubscribed_categories=["offers", "newsletters"])
    body = client_logged_in.get(reverse("profiles:detail", args=[profile.pk])).content.decode()
    assert "Opted out of: Newsletters, Offers" in body
