import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from callbacks import services as callback_services
from callbacks.formats.base import CallbackEvent
from callbacks.models import EventKind
from profiles.models import Profile, ProfileImport, TimelineEvent
from providers.models import EmailProvider
from tests.factories import EmailProviderFactory, ProfileFactory


@pytest.mark.django_db
def test_profile_changelist_searches_and_filters(admin_client_logged_in):
    ProfileFactory(email="findme@example.com", name="Needle")
    ProfileFactory(
        email="other@example.com",
        status=Profile.Status.INACTIVE,
        inactive_reason=Profile.Reason.SPAM,
    )
    url = reverse("admin:profiles_profile_changelist")
    response = admin_client_logged_in.get(url, {"q": "needle"})
    assert response.status_code == 200
    assert [p.email for p in response.context["cl"].result_list] == ["findme@example.com"]
    filtered = admin_client_logged_in.get(url, {"inactive_reason__exact": "spam"})
    assert [p.email for p in filtered.context["cl"].result_list] == ["other@example.com"]
    assert response.context["cl"].show_full_result_count is False


@pytest.mark.django_db
def test_profile_change_page_renders(admin_client_logged_in):
    profile = ProfileFactory()
    url = reverse("admin:profiles_profile_change", args=[profile.pk])
    assert admin_client_logged_in.get(url).status_code == 200


@pytest.mark.django_db
def test_timeline_admin_is_read_only(admin_client_logged_in):
    profile = ProfileFactory(email="someone@example.com")
    event = TimelineEvent.objects.create(
        profile=profile,
        kind=TimelineEvent.Kind.NOTIFICATION_FAILED,
        occurred_at=timezone.now(),
        properties={"Error": "Hard bounce"},
    )
    changelist = reverse("admin:profiles_timelineevent_changelist")
    response = admin_client_logged_in.get(changelist, {"q": "SOMEONE@example.com"})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [event]
    assert admin_client_logged_in.get(changelist, {"q": "some"}).context["cl"].result_count == 0

    assert (
        admin_client_logged_in.get(reverse("admin:profiles_timelineevent_add")).status_code == 403
    )
    change_url = reverse("admin:profiles_timelineevent_change", args=[event.pk])
    response = admin_client_logged_in.post(change_url, {"kind": "notification_delivered"})
    assert response.status_code == 403
    event.refresh_from_db()
    assert event.kind == TimelineEvent.Kind.NOTIFICATION_FAILED
    delete_url = reverse("admin:profiles_timelineevent_delete", args=[event.pk])
    assert admin_client_logged_in.post(delete_url, {"post": "yes"}).status_code == 403
    assert TimelineEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.django_db
def test_import_admin_lists_imports(admin_client_logged_in):
    ProfileImport.objects.create(filename="people.csv", source=b"email\n")
    response = admin_client_logged_in.get(reverse("admin:profiles_profileimport_changelist"))
    assert response.status_code == 200
    assert b"people.csv" in response.content
    profile_import = ProfileImport.objects.get()
    change = admin_client_logged_in.get(
        reverse("admin:profiles_profileimport_change", args=[profile_import.pk])
    )
    assert change.status_code == 200
    assert b'name="unchanged_count"' not in change.content  # the report is read-only
    assert b'name="created_count"' not in change.content


# --- The admin keeps the dashboard's rules ----------------------------------------------------


def profile_form(profile: Profile, **changes) -> dict:
    """What the admin's change form posts for `profile`, with `changes` made."""
    data = {
        "email": profile.email,
        "name": profile.name,
        "unsubscribed_categories": [],
        "status": profile.status,
        "inactive_reason": profile.inactive_reason,
    }
    return {**data, **changes}


def hard_bounce(profile: Profile) -> None:
    """A callback batch makes the profile Inactive, through the real apply service."""
    provider = EmailProviderFactory(kind=EmailProvider.Kind.SENDGRID)
    event = CallbackEvent(
        email=profile.email,
        kind=EventKind.HARD_BOUNCE,
        occurred_at=timezone.now(),
        dedupe_key="ab" * 16,
        description="550 no such user",
        suppress=True,
    )
    callback_services.apply_events(provider, [event])


@pytest.mark.django_db
def test_admin_edit_keeps_a_status_a_callback_changed_meanwhile(admin_client_logged_in):
    profile = ProfileFactory(email="ann@example.com", name="Ann")
    url = reverse("admin:profiles_profile_change", args=[profile.pk])
    assert admin_client_logged_in.get(url).status_code == 200
    before = profile_form(profile, name="Ann Smith")  # the form as loaded: Active

    hard_bounce(profile)  # meanwhile
    response = admin_client_logged_in.post(url, before)

    assert response.status_code == 302
    profile.refresh_from_db()
    assert profile.name == "Ann Smith"
    assert (profile.status, profile.inactive_reason) == (
        Profile.Status.INACTIVE,
        Profile.Reason.HARD_BOUNCE,
    )
    assert profile.inactive_detail == "550 no such user"


@pytest.mark.django_db
def test_admin_change_form_cannot_make_a_hard_bounced_profile_active(admin_client_logged_in):
    profile = ProfileFactory(email="gone@example.com")
    hard_bounce(profile)
    profile.refresh_from_db()
    url = reverse("admin:profiles_profile_change", args=[profile.pk])
    response = admin_client_logged_in.post(
        url, profile_form(profile, status="active", inactive_reason="")
    )
    assert response.status_code == 302
    profile.refresh_from_db()
    assert profile.status == Profile.Status.INACTIVE
    assert not TimelineEvent.objects.filter(kind=TimelineEvent.Kind.CHANNEL_RESUBSCRIBED).exists()
    page = admin_client_logged_in.get(url).content.decode()
    assert reverse("admin:profiles_profile_reactivate", args=[profile.pk]) in page


@pytest.mark.django_db
def test_admin_reactivation_goes_through_the_dashboards_rules(admin_client_logged_in, staff_user):
    profile = ProfileFactory(email="gone@example.com")
    hard_bounce(profile)
    url = reverse("admin:profiles_profile_reactivate", args=[profile.pk])

    page = admin_client_logged_in.get(url)
    assert page.status_code == 200
    assert "mailbox does not exist" in page.content.decode()

    no_reason = admin_client_logged_in.post(url, {"reason": " ", "confirm": "on"})
    assert no_reason.status_code == 200
    assert "reason" in no_reason.context["form"].errors
    unconfirmed = admin_client_logged_in.post(url, {"reason": "They fixed their mailbox"})
    assert unconfirmed.status_code == 200
    assert "confirm" in unconfirmed.context["form"].errors
    profile.refresh_from_db()
    assert profile.status == Profile.Status.INACTIVE

    done = admin_client_logged_in.post(url, {"reason": "They fixed their mailbox", "confirm": "on"})
    assert done.status_code == 302
    assert done["Location"] == reverse("admin:profiles_profile_change", args=[profile.pk])
    profile.refresh_from_db()
    assert profile.status == Profile.Status.ACTIVE
    event = TimelineEvent.objects.get(kind=TimelineEvent.Kind.CHANNEL_RESUBSCRIBED)
    assert event.properties["reason"] == "They fixed their mailbox"
    assert event.properties["previous_reason"] == Profile.Reason.HARD_BOUNCE
    audit = LogEntry.objects.get(object_id=str(profile.pk))
    assert audit.user == staff_user
    assert "They fixed their mailbox" in audit.change_message


@pytest.mark.django_db
def test_admin_validates_and_normalises_addresses(admin_client_logged_in):
    add_url = reverse("admin:profiles_profile_add")
    data = {"name": "", "unsubscribed_categories": []}

    bad = admin_client_logged_in.post(add_url, {**data, "email": "not an email"})
    assert bad.status_code == 200
    assert "email" in bad.context["adminform"].form.errors
    assert not Profile.objects.exists()

    good = admin_client_logged_in.post(add_url, {**data, "email": "  Ann@Example.COM "})
    assert good.status_code == 302
    assert list(Profile.objects.values_list("email", "status")) == [
        ("ann@example.com", Profile.Status.ACTIVE)
    ]

    again = admin_client_logged_in.post(add_url, {**data, "email": "ANN@example.com"})
    assert again.status_code == 200
    assert "already exists" in str(again.context["adminform"].form.errors["email"])

    profile = Profile.objects.get()
    change_url = reverse("admin:profiles_profile_change", args=[profile.pk])
    renamed = admin_client_logged_in.post(change_url, profile_form(profile, email="nope@"))
    assert renamed.status_code == 200
    profile.refresh_from_db()
    assert profile.email == "ann@example.com"


@pytest.mark.django_db
def test_admin_offers_the_preference_centers_categories_not_free_json(admin_client_logged_in):
    profile = ProfileFactory(email="reader@example.com")
    url = reverse("admin:profiles_profile_change", args=[profile.pk])

    bogus = admin_client_logged_in.post(
        url, profile_form(profile, unsubscribed_categories=["bogus"])
    )
    assert bogus.status_code == 200
    assert "unsubscribed_categories" in bogus.context["adminform"].form.errors

    chosen = admin_client_logged_in.post(
        url, profile_form(profile, unsubscribed_categories=["offers", "newsletters"])
    )
    assert chosen.status_code == 302
    profile.refresh_from_db()
    assert profile.unsubscribed_categories == ["newsletters", "offers"]
