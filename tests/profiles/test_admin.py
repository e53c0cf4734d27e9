import pytest
from django.urls import reverse
from django.utils import timezone

from profiles.models import Profile, ProfileImport, TimelineEvent
from tests.factories import ProfileFactory


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
