"""Exactly one default provider once any exists, whatever order things happen in."""

import threading

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from providers.models import EmailProvider
from tests.factories import EmailProviderFactory, UserFactory


def assert_one_default_if_any() -> None:
    defaults = EmailProvider.objects.filter(is_default=True).count()
    assert defaults == (1 if EmailProvider.objects.exists() else 0)


# --- the database holds the rule ------------------------------------------------------------


@pytest.mark.django_db
def test_database_refuses_a_second_default():
    EmailProviderFactory(is_default=True)
    other = EmailProviderFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        EmailProvider.objects.filter(pk=other.pk).update(is_default=True)


@pytest.mark.django_db
def test_database_refuses_a_port_out_of_range():
    provider = EmailProviderFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        EmailProvider.objects.filter(pk=provider.pk).update(port=70000)


# --- the manager's rules --------------------------------------------------------------------


@pytest.mark.django_db
def test_first_provider_added_becomes_default_and_later_ones_do_not():
    first = EmailProvider.objects.add(EmailProviderFactory.build(nickname="one"))
    second = EmailProvider.objects.add(EmailProviderFactory.build(nickname="two"))
    assert first.is_default and not second.is_default
    assert_one_default_if_any()


@pytest.mark.django_db
def test_removing_the_default_hands_the_mark_to_the_chosen_successor():
    default = EmailProviderFactory(is_default=True)
    EmailProviderFactory()
    chosen = EmailProviderFactory()
    assert EmailProvider.objects.remove(default, successor=chosen) == chosen
    assert EmailProvider.objects.default() == chosen


@pytest.mark.django_db
def test_removing_the_default_without_successor_picks_the_oldest():
    default = EmailProviderFactory(is_default=True)
    oldest = EmailProviderFactory()
    EmailProviderFactory()
    EmailProvider.objects.remove(default)
    assert EmailProvider.objects.default() == oldest


@pytest.mark.django_db
def test_removing_a_non_default_keeps_the_default():
    default = EmailProviderFactory(is_default=True)
    other = EmailProviderFactory()
    EmailProvider.objects.remove(other, successor=default)
    assert EmailProvider.objects.default() == default


@pytest.mark.django_db
def test_removing_the_last_provider_leaves_no_default():
    only = EmailProviderFactory(is_default=True)
    assert EmailProvider.objects.remove(only) is None
    assert not EmailProvider.objects.exists()


@pytest.mark.django_db
def test_marking_a_deleted_provider_default_changes_nothing():
    default = EmailProviderFactory(is_default=True)
    gone = EmailProviderFactory()
    EmailProvider.objects.filter(pk=gone.pk).delete()
    with pytest.raises(EmailProvider.DoesNotExist):
        EmailProvider.objects.mark_default(gone)
    assert EmailProvider.objects.default() == default


# --- any order of operations, through the pages -------------------------------------------------

OPERATIONS = st.lists(
    st.tuples(st.sampled_from(["create", "mark", "delete"]), st.integers(0, 3)),
    min_size=1,
    max_size=8,
)


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations=OPERATIONS)
def test_every_order_of_operations_keeps_exactly_one_default(operations):
    EmailProvider.objects.all().delete()
    client = Client()
    client.force_login(UserFactory())
    created = 0
    for action, index in operations:
        providers = list(EmailProvider.objects.order_by("pk"))
        if action == "create" or not providers:
            created += 1
            client.post(
                reverse("providers:create", args=["sendgrid"]),
                {
                    "nickname": f"P{created}",
                    "secret": "SG.key-value-long-enough",
                    "from_address": "a@example.com",
                    "preference_center": "none",
                },
            )
        elif action == "mark":
            target = providers[index % len(providers)]
            client.post(reverse("providers:mark_default", args=[target.pk]))
            assert EmailProvider.objects.default() == target
        else:
            target = providers[index % len(providers)]
            others = [p for p in providers if p != target]
            data = {"successor": others[index % len(others)].pk} if others else {}
            client.post(reverse("providers:delete", args=[target.pk]), data)
            assert not EmailProvider.objects.filter(pk=target.pk).exists()
            if target.is_default and others:
                assert EmailProvider.objects.default() == others[index % len(others)]
        assert_one_default_if_any()


# --- concurrent requests (PostgreSQL: real row locks and real parallel connections) ------------


def _run_together(*jobs) -> list:
    """Run each job in its own thread with its own DB connection, released at one moment."""
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def run(i, job):
        try:
            client = Client()
            client.force_login(user_for_threads[0])
            barrier.wait(timeout=10)
            results[i] = job(client)
        except Exception as exc:  # surfaced by the assertions below
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


user_for_threads: list = []


@pytest.fixture
def postgres_only(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite cannot run concurrent writers")
    user_for_threads[:] = [UserFactory()]
    yield
    user_for_threads.clear()


def _mark(provider):
    return lambda client: (
        client.post(reverse("providers:mark_default", args=[provider.pk])).status_code
    )


def test_two_concurrent_mark_default_requests_leave_exactly_one_default(postgres_only):
    EmailProviderFactory(is_default=True)
    for _round in range(10):
        first, second = EmailProviderFactory(), EmailProviderFactory()
        results = _run_together(_mark(first), _mark(second))
        assert results == [302, 302]
        assert_one_default_if_any()
        assert EmailProvider.objects.default() in (first, second)


def test_concurrent_first_providers_get_exactly_one_default(postgres_only):
    def create(nickname):
        data = {
            "nickname": nickname,
            "secret": "SG.key-value-long-enough",
            "from_address": "a@example.com",
            "preference_center": "none",
        }
        url = reverse("providers:create", args=["sendgrid"])
        return lambda client: client.post(url, data).status_code

    for n in range(5):
        EmailProvider.objects.all().delete()
        results = _run_together(create(f"left {n}"), create(f"right {n}"))
        assert results == [302, 302]
        assert EmailProvider.objects.count() == 2
        assert_one_default_if_any()


def test_concurrent_mark_default_and_delete_of_the_default_keep_one(postgres_only):
    for _round in range(5):
        EmailProvider.objects.all().delete()
        default = EmailProviderFactory(is_default=True)
        other, third = EmailProviderFactory(), EmailProviderFactory()

        def delete(client):
            url = reverse("providers:delete", args=[default.pk])
            return client.post(url, {"successor": third.pk}).status_code

        results = _run_together(_mark(other), delete)
        assert results[1] == 302
        assert results[0] in (302, 404)
        assert not EmailProvider.objects.filter(pk=default.pk).exists()
        assert_one_default_if_any()
