"""Batches the workers keep failing to apply: warned of on the provider page, retried from admin."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from callbacks import inbox, services
from callbacks.health import callback_health
from callbacks.models import CallbackLog, PendingBatch
from providers.models import EmailProvider
from tests.factories import UserFactory

from .conftest import payload

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:callbacks_pendingbatch_changelist")


def accept(provider: EmailProvider, name: str) -> CallbackLog:
    """POST a batch to the callback URL; no worker applies it."""
    Client().post(provider.callback_path, data=payload(name), content_type="application/json")
    return CallbackLog.objects.latest("id")


@pytest.fixture
def broken_apply(monkeypatch):
    """Every application fails, each with its own numbered error."""
    failures = []

    def broken(*args, **kwargs):
        failures.append(True)
        raise RuntimeError(f"profiles table is locked (failure {len(failures)})")

    monkeypatch.setattr(services, "apply_events", broken)
    return failures


@pytest.fixture
def two_failing(smtp_provider, broken_apply):
    """Two batches of `smtp_provider` that failed: the first twice, the second once."""
    first = accept(smtp_provider, "generic_v2_nested.json")
    second = accept(smtp_provider, "generic_v2_flat.json")
    inbox.apply_pending()  # failures 1 and 2
    PendingBatch.objects.filter(log=first).update(retry_at=timezone.now())
    inbox.apply_pending()  # failure 3, the first batch's second
    return first, second


def test_health_counts_the_failing_batches_and_keeps_the_worst_error(smtp_provider, two_failing):
    first, _second = two_failing
    health = callback_health(smtp_provider)
    assert health.failing_batches == 2
    assert health.failing_since == first.received_at
    assert health.failing_error == "RuntimeError: profiles table is locked (failure 3)"


def test_batches_waiting_for_a_first_try_are_not_failing(smtp_provider):
    accept(smtp_provider, "generic_v2_nested.json")
    assert PendingBatch.objects.exists()
    assert callback_health(smtp_provider).failing_batches == 0


def test_another_providers_failures_are_not_counted(make_provider, smtp_provider, two_failing):
    other = make_provider(EmailProvider.Kind.SMTP, nickname="Other relay")
    accept(other, "generic_v2_nested.json")
    assert callback_health(other).failing_batches == 0


def test_health_counts_the_waiting_batches_failing_ones_included(
    make_provider, smtp_provider, two_failing
):
    accept(smtp_provider, "generic_v2_nested.json")
    accept(make_provider(EmailProvider.Kind.SMTP, nickname="Other relay"), "generic_v2_flat.json")
    assert callback_health(smtp_provider).waiting_batches == 3


def test_the_provider_page_counts_the_batches_not_applied_yet(
    client_logged_in, smtp_provider, two_failing
):
    accept(smtp_provider, "generic_v2_nested.json")
    page = client_logged_in.get(reverse("providers:detail", args=[smtp_provider.pk]))
    html = " ".join(page.content.decode().split())
    assert "3 accepted batches of events, 2 of them failing" in html


def test_nothing_to_count_once_the_batches_are_applied(client_logged_in, smtp_provider):
    accept(smtp_provider, "generic_v2_nested.json")
    inbox.apply_pending()
    page = client_logged_in.get(reverse("providers:detail", args=[smtp_provider.pk]))
    assert 'id="waiting-batches"' not in page.content.decode()


def test_the_provider_page_warns_and_links_staff_to_the_admin(
    admin_client_logged_in, smtp_provider, two_failing
):
    page = admin_client_logged_in.get(reverse("providers:detail", args=[smtp_provider.pk]))
    html = " ".join(page.content.decode().split())
    assert "2 accepted callback batches could not be applied to profiles yet" in html
    assert "profiles table is locked (failure 3)" in html
    link = f"{CHANGELIST}?state=failing&amp;log__provider__id__exact={smtp_provider.pk}"
    assert link in html


def test_a_marketer_sees_the_warning_without_the_admin_link(
    client_logged_in, smtp_provider, two_failing
):
    page = client_logged_in.get(reverse("providers:detail", args=[smtp_provider.pk]))
    html = " ".join(page.content.decode().split())
    assert "2 accepted callback batches could not be applied" in html
    assert "An administrator can retry them at once" in html
    assert CHANGELIST not in html


def test_no_warning_when_nothing_fails(client_logged_in, smtp_provider):
    accept(smtp_provider, "generic_v2_nested.json")
    page = client_logged_in.get(reverse("providers:detail", args=[smtp_provider.pk]))
    assert 'id="failing-batches"' not in page.content.decode()


def test_the_admin_lists_failing_batches_apart_from_waiting_ones(
    admin_client_logged_in, smtp_provider, two_failing
):
    waiting = accept(smtp_provider, "generic_v2_nested.json")
    failing = admin_client_logged_in.get(CHANGELIST, {"state": "failing"})
    assert {batch.pk for batch in failing.context["cl"].result_list} == {
        log.pk for log in two_failing
    }
    fresh = admin_client_logged_in.get(CHANGELIST, {"state": "waiting"})
    assert [batch.pk for batch in fresh.context["cl"].result_list] == [waiting.pk]


def test_retry_now_makes_the_batch_due_and_asks_a_worker(
    admin_client_logged_in, smtp_provider, two_failing, monkeypatch
):
    first, second = two_failing
    published = []
    monkeypatch.setattr(inbox, "publish", lambda tasks=1: published.append(tasks))
    before = timezone.now()
    response = admin_client_logged_in.post(
        CHANGELIST, {"action": "retry_now", "_selected_action": [first.pk]}, follow=True
    )
    assert "1 batch will be retried now." in response.content.decode()
    assert published == [1]  # one batch: one task
    assert PendingBatch.objects.get(pk=first.pk).retry_at <= timezone.now()
    assert PendingBatch.objects.get(pk=second.pk).retry_at > before  # not selected: unchanged

    monkeypatch.undo()  # the cause is fixed: the real apply_events again
    assert inbox.apply_pending() == 1
    assert list(PendingBatch.objects.values_list("pk", flat=True)) == [second.pk]


def test_retrying_needs_the_change_permission(smtp_provider, two_failing):
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_pendingbatch"))
    client = Client()
    client.force_login(viewer)
    page = client.get(CHANGELIST)
    assert page.status_code == 200
    assert "retry_now" not in page.content.decode()
    first, _second = two_failing
    retry_at = PendingBatch.objects.get(pk=first.pk).retry_at
    client.post(CHANGELIST, {"action": "retry_now", "_selected_action": [first.pk]})
    assert PendingBatch.objects.get(pk=first.pk).retry_at == retry_at
