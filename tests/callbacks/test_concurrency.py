"""Concurrent deliveries on PostgreSQL: retries racing each other and batches for one profile,
accepted together and applied by as many workers at once."""

import json
import threading
import time

import pytest
from django.db import connection, connections
from django.test import Client

from callbacks import inbox
from callbacks.models import DailyStat, PendingBatch, ReceivedEvent
from profiles.models import Profile, TimelineEvent
from providers.models import EmailProvider
from tests.factories import EmailProviderFactory

from .conftest import payload

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="row locks need PostgreSQL (DATABASE_URL)"
    ),
]

THREADS = 6


def run_concurrently(bodies, provider):
    """POST every body at once, then let as many workers apply the inbox at once.

    Returns the answers' status codes once every worker is done.
    """
    statuses = in_threads(
        [lambda body=body: post_only(provider, body).status_code for body in bodies]
    )
    in_threads([inbox.apply_pending] * len(bodies))
    assert not PendingBatch.objects.exists()
    return statuses


def post_only(provider, body):
    return Client().post(provider.callback_path, data=body, content_type="application/json")


def in_threads(calls):
    """Run each call in its own thread, released together; their results in call order."""
    barrier = threading.Barrier(len(calls))
    results, errors = [None] * len(calls), []

    def run(index, call):
        try:
            barrier.wait()
            results[index] = call()
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=item) for item in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a thread is still waiting"
    assert not errors
    return results


def snapshot(provider):
    return (
        list(
            Profile.objects.order_by("email").values_list(
                "email", "status", "inactive_reason", "soft_bounce_count"
            )
        ),
        TimelineEvent.objects.count(),
        list(
            DailyStat.objects.filter(provider=provider)
            .order_by("date")
            .values_list(
                "date",
                "delivered",
                "soft_bounce",
                "hard_bounce",
                "dropped",
                "invalid",
                "spam",
                "unsubscribed",
                "ignored",
            )
        ),
    )


def test_the_same_batch_delivered_concurrently_applies_once():
    provider = EmailProviderFactory(kind=EmailProvider.Kind.SENDGRID)
    body = payload("sendgrid_events.json")
    statuses = run_concurrently([body] * THREADS, provider)
    assert statuses == [200] * THREADS
    concurrent = snapshot(provider)
    assert ReceivedEvent.objects.count() == 14
    assert sum(DailyStat.objects.values_list("duplicates", flat=True)) == 14 * (THREADS - 1)

    # The same state as one delivery to a fresh provider.
    Profile.objects.all().delete()
    other = EmailProviderFactory(kind=EmailProvider.Kind.SENDGRID)
    post_only(other, body)
    inbox.apply_pending()
    assert snapshot(other)[0] == concurrent[0]
    assert snapshot(other)[1] == concurrent[1]
    # (The concurrent run also has today's row holding only its duplicates.)
    counted = [row[1:] for row in concurrent[2] if any(row[1:])]
    assert [row[1:] for row in snapshot(other)[2]] == counted


def test_concurrent_batches_for_the_same_profiles_lose_no_update():
    provider = EmailProviderFactory(kind=EmailProvider.Kind.SENDGRID)
    from callbacks.models import SoftBouncePolicy

    SoftBouncePolicy.objects.update_or_create(pk=1, defaults={"threshold": None})
    emails = [f"shared{i}@example.com" for i in range(20)]
    a_minute_ago = int(time.time()) - 60  # soft bounces count only within the window
    bodies = []
    for t in range(THREADS):
        events = [
            {
                "event": "bounce",
                "type": "blocked",
                "email": email,
                "timestamp": a_minute_ago + t,
                "sg_event_id": f"t{t}-{email}",
            }
            # Each thread lists the addresses in its own order.
            for email in (emails if t % 2 else list(reversed(emails)))
        ]
        bodies.append(json.dumps(events).encode())
    statuses = run_concurrently(bodies, provider)
    assert statuses == [200] * THREADS
    counts = set(Profile.objects.values_list("soft_bounce_count", flat=True))
    assert counts == {THREADS}
    assert Profile.objects.count() == 20
    assert DailyStat.objects.get(provider=provider).soft_bounce == 20 * THREADS
    assert TimelineEvent.objects.count() == 20 * THREADS


def test_a_delivery_does_not_wait_for_a_profile_another_transaction_holds():
    """Deliveries change no profile, so the batch reads it without taking its row lock."""
    provider = EmailProviderFactory(kind=EmailProvider.Kind.SENDGRID)
    profile = Profile.objects.create(email="busy@example.com")
    body = json.dumps(
        [{"event": "delivered", "email": "busy@example.com", "timestamp": 1700000000}]
    ).encode()
    holder = connections.create_connection("default")
    try:
        holder.set_autocommit(False)
        with holder.cursor() as cursor:
            # An edit of the profile in progress (an import, say) holds its row lock.
            cursor.execute("UPDATE profiles_profile SET name = 'Busy' WHERE id = %s", [profile.pk])
            statuses = run_concurrently([body], provider)
        holder.rollback()
    finally:
        holder.close()
    assert statuses == [200]
    assert TimelineEvent.objects.filter(profile=profile).count() == 1


def test_batches_changing_the_profiles_the_other_only_delivers_to_do_not_deadlock():
    """Each batch locks the profiles it changes while the other writes timeline rows for them."""
    provider = EmailProviderFactory(kind=EmailProvider.Kind.SENDGRID)
    left = [f"left{i}@example.com" for i in range(30)]
    right = [f"right{i}@example.com" for i in range(30)]
    Profile.objects.bulk_create(Profile(email=email) for email in left + right)

    def body(bounced, delivered, tag):
        events = [
            {"event": "bounce", "type": "bounce", "email": e, "sg_event_id": f"{tag}b{e}"}
            for e in bounced
        ] + [{"event": "delivered", "email": e, "sg_event_id": f"{tag}d{e}"} for e in delivered]
        return json.dumps(events).encode()

    bodies = [body(left, right, f"{t}L") if t % 2 else body(right, left, f"{t}R") for t in range(4)]
    statuses = run_concurrently(bodies, provider)
    assert statuses == [200] * 4
    assert not Profile.objects.filter(status=Profile.Status.ACTIVE).exists()
    # Every event, and one Channel Unsubscribed per address: raised by its first hard bounce.
    assert TimelineEvent.objects.count() == 4 * 60 + 60
    unsubscribed = TimelineEvent.objects.filter(kind=TimelineEvent.Kind.CHANNEL_UNSUBSCRIBED)
    assert sorted(unsubscribed.values_list("profile__email", flat=True)) == sorted(left + right)
