from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from profiles.listing import PER_PAGE
from profiles.models import Profile
from tests.factories import ProfileFactory

URL = reverse("profiles:list")


def listed_emails(response) -> list[str]:
    return [profile.email for profile in response.context["profiles"]]


def make_inactive(email, reason, days_ago=1, **extra):
    return ProfileFactory(
        email=email,
        status=Profile.Status.INACTIVE,
        inactive_reason=reason,
        inactive_since=timezone.now() - timedelta(days=days_ago),
        **extra,
    )


@pytest.mark.django_db
def test_anonymous_is_sent_to_login(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


@pytest.mark.django_db
def test_post_is_not_allowed(client_logged_in):
    assert client_logged_in.post(URL).status_code == 405


@pytest.mark.django_db
def test_empty_state(client_logged_in):
    response = client_logged_in.get(URL)
    assert response.status_code == 200
    assert "No profiles yet" in response.content.decode()


@pytest.mark.django_db
def test_search_matches_substring_of_email_or_name(client_logged_in):
    ProfileFactory(email="alice@example.com", name="Alice Liddell")
    ProfileFactory(email="bob@sample.org", name="Bob Wonder")
    ProfileFactory(email="carol@example.com", name="Carol Danvers")

    assert listed_emails(client_logged_in.get(URL, {"q": "SAMPLE"})) == ["bob@sample.org"]
    assert listed_emails(client_logged_in.get(URL, {"q": "wonder"})) == ["bob@sample.org"]
    assert listed_emails(client_logged_in.get(URL, {"q": "example.com"})) == [
        "alice@example.com",
        "carol@example.com",
    ]


@pytest.mark.django_db
def test_short_search_matches_prefix_only(client_logged_in):
    ProfileFactory(email="al@example.com", name="Zed")
    ProfileFactory(email="zed@example.com", name="Alma")
    ProfileFactory(email="kal@example.com", name="Kal")

    # "al" is inside kal@… but short terms only match the start of email or name.
    assert listed_emails(client_logged_in.get(URL, {"q": "Al"})) == [
        "al@example.com",
        "zed@example.com",
    ]


@pytest.mark.django_db
def test_a_whole_address_finds_its_profile_only(client_logged_in):
    ProfileFactory(email="ada@example.org")
    ProfileFactory(email="grada@example.org")
    ProfileFactory(email="ada@example.org.uk")

    assert listed_emails(client_logged_in.get(URL, {"q": " Ada@Example.org "})) == [
        "ada@example.org"
    ]


@pytest.mark.django_db
def test_a_whole_address_no_profile_has_is_searched_as_text(client_logged_in):
    ProfileFactory(email="ada@example.org")
    ProfileFactory(email="grada@example.org")

    assert listed_emails(client_logged_in.get(URL, {"q": "da@example.org"})) == [
        "ada@example.org",
        "grada@example.org",
    ]


@pytest.mark.django_db
def test_search_treats_like_wildcards_literally(client_logged_in):
    ProfileFactory(email="a_b@example.com")
    ProfileFactory(email="axb@example.com")
    assert listed_emails(client_logged_in.get(URL, {"q": "a_b"})) == ["a_b@example.com"]


@pytest.mark.django_db
def test_filter_by_status_and_reason(client_logged_in):
    ProfileFactory(email="active@example.com")
    make_inactive("hard@example.com", Profile.Reason.HARD_BOUNCE)
    make_inactive("spam@example.com", Profile.Reason.SPAM)

    inactive = client_logged_in.get(URL, {"status": "inactive"})
    assert listed_emails(inactive) == ["hard@example.com", "spam@example.com"]
    active = client_logged_in.get(URL, {"status": "active"})
    assert listed_emails(active) == ["active@example.com"]
    spam = client_logged_in.get(URL, {"status": "inactive", "reason": "spam"})
    assert listed_emails(spam) == ["spam@example.com"]
    body = inactive.content.decode()
    assert "Hard bounce" in body and "badge text-bg-danger" in body


@pytest.mark.django_db
def test_bad_filter_values_are_ignored_not_500(client_logged_in):
    ProfileFactory(email="one@example.com")
    response = client_logged_in.get(
        URL, {"status": "nope", "reason": "<script>", "sort": "password", "page": "x"}
    )
    assert response.status_code == 200
    assert listed_emails(response) == ["one@example.com"]


@pytest.mark.django_db
def test_no_match_shows_empty_state_for_filters(client_logged_in):
    ProfileFactory(email="one@example.com")
    response = client_logged_in.get(URL, {"q": "nobody-here"})
    assert "No profiles match" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("email", ["a@x.org", "b@x.org", "c@x.org"]),
        ("-email", ["c@x.org", "b@x.org", "a@x.org"]),
        ("name", ["b@x.org", "c@x.org", "a@x.org"]),
        ("-name", ["a@x.org", "c@x.org", "b@x.org"]),
        ("status", ["b@x.org", "a@x.org", "c@x.org"]),
        ("-inactive_since", ["c@x.org", "a@x.org", "b@x.org"]),
        ("inactive_since", ["a@x.org", "c@x.org", "b@x.org"]),
        ("-created", ["c@x.org", "b@x.org", "a@x.org"]),
        ("created", ["a@x.org", "b@x.org", "c@x.org"]),
    ],
)
def test_sorting(client_logged_in, sort, expected):
    a = make_inactive("a@x.org", Profile.Reason.HARD_BOUNCE, days_ago=5, name="zoe")
    b = ProfileFactory(email="b@x.org", name="Anna")
    c = make_inactive("c@x.org", Profile.Reason.SPAM, days_ago=1, name="Mia")
    base = timezone.now()
    for offset, profile in enumerate([a, b, c]):
        Profile.objects.filter(pk=profile.pk).update(created_at=base + timedelta(minutes=offset))

    assert listed_emails(client_logged_in.get(URL, {"sort": sort})) == expected


@pytest.mark.django_db
def test_sort_links_keep_filters_and_toggle_direction(client_logged_in):
    ProfileFactory(email="one@example.com")
    response = client_logged_in.get(URL, {"q": "one", "sort": "email"})
    body = response.content.decode()
    assert "?q=one&amp;sort=-email" in body
    assert "?q=one&amp;sort=name" in body


@pytest.mark.django_db
def test_pagination_uses_has_next_without_count(client_logged_in, django_assert_max_num_queries):
    ProfileFactory.create_batch(PER_PAGE * 2 + 3)

    # session + user + the page query itself + the open-alerts banner; never a COUNT(*)
    with django_assert_max_num_queries(4) as captured:
        first = client_logged_in.get(URL)
    assert not any("COUNT(" in query["sql"].upper() for query in captured.captured_queries)
    assert len(first.context["profiles"]) == PER_PAGE
    assert first.context["page"].has_next
    assert not first.context["page"].has_previous

    third = client_logged_in.get(URL, {"page": 3})
    assert len(third.context["profiles"]) == 3
    assert not third.context["page"].has_next
    assert third.context["page"].has_previous
    assert set(listed_emails(first)).isdisjoint(listed_emails(third))


@pytest.mark.django_db
def test_filtered_search_query_count_is_bounded(client_logged_in, django_assert_max_num_queries):
    ProfileFactory.create_batch(30)
    for index in range(30):
        make_inactive(f"bounced{index}@example.com", Profile.Reason.HARD_BOUNCE)

    with django_assert_max_num_queries(4):  # + the open-alerts banner
        response = client_logged_in.get(
            URL, {"q": "bounced", "status": "inactive", "reason": "hard_bounce", "sort": "-name"}
        )
    assert len(response.context["profiles"]) == 30


@pytest.mark.django_db
def test_page_beyond_the_end_is_empty_not_404(client_logged_in):
    ProfileFactory.create_batch(3)
    response = client_logged_in.get(URL, {"page": 99})
    assert response.status_code == 200
    assert response.context["profiles"] == []
