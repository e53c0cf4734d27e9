"""Polling a real IMAP server (Dovecot on loopback) into the callback inbox."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from callbacks import inbox
from callbacks.mailbox import poller
from callbacks.mailbox.models import BounceMailbox
from callbacks.models import CallbackLog, DailyStat, PendingBatch
from profiles.models import Profile
from tests.factories import EmailProviderFactory, ProfileFactory
from tests.imap_server import IMAP_PASSWORD, IMAP_USER

from .bounces import CORPUS, bounce_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def mailbox(imap_server):
    provider = EmailProviderFactory(kind="smtp")
    box = BounceMailbox(
        provider=provider,
        host=imap_server.host,
        port=imap_server.tls_port,
        tls=BounceMailbox.Tls.IMPLICIT,
        username=IMAP_USER,
    )
    box.set_password(IMAP_PASSWORD)
    box.save()
    return box


def test_a_bounce_in_the_mailbox_reaches_the_profile_through_the_inbox(imap_server, mailbox):
    ProfileFactory(email="gone@customer.test")
    imap_server.append(bounce_for("gone@customer.test"))

    result = poller.poll_mailbox(mailbox.pk)

    assert result.messages == 1
    callback_log = CallbackLog.objects.get(provider=mailbox.provider)
    assert (callback_log.method, callback_log.payload_format) == ("IMAP", "mailbox")
    assert callback_log.pending.body  # waits in the inbox like a webhook batch
    assert inbox.apply_pending() == 1
    profile = Profile.objects.get(email="gone@customer.test")
    assert (profile.status, profile.inactive_reason) == ("inactive", "hard_bounce")
    failed = profile.timeline.get(kind="notification_failed")
    assert failed.properties["meta"] == "campaign-88"
    assert DailyStat.objects.get(provider=mailbox.provider).hard_bounce == 1
    callback_log.refresh_from_db()
    assert callback_log.kind_counts == {"hard_bounce": 1}
    mailbox.refresh_from_db()
    assert (mailbox.messages_read, mailbox.bounces_found, mailbox.complaints_found) == (1, 1, 0)
    assert mailbox.last_poll_at is not None and mailbox.last_error == ""
    assert imap_server.messages() == [(1, "\\Seen")]  # marked read, left in the folder


def test_a_complaint_an_auto_reply_and_an_unreadable_message(imap_server, mailbox):
    for name in ("arf_complaint.eml", "auto_reply.eml", "malformed.eml"):
        imap_server.append((CORPUS / name).read_bytes())

    poller.poll_mailbox(mailbox.pk)

    mailbox.refresh_from_db()
    assert (mailbox.messages_read, mailbox.complaints_found, mailbox.bounces_found) == (3, 1, 0)
    assert mailbox.unreadable_messages == 1
    # The unreadable message is left unread where it was; the others are marked read.
    assert [flags for _uid, flags in imap_server.messages()] == ["\\Seen", "\\Seen", ""]
    poller.poll_mailbox(mailbox.pk)  # nothing new: nothing is read or counted twice
    mailbox.refresh_from_db()
    assert (mailbox.messages_read, mailbox.unreadable_messages) == (3, 1)
    assert CallbackLog.objects.count() == 1


def test_a_crash_mid_poll_stores_nothing_and_the_next_poll_counts_once(
    imap_server, mailbox, monkeypatch
):
    ProfileFactory(email="gone@customer.test")
    imap_server.append(bounce_for("gone@customer.test"))
    imap_server.append(bounce_for("slow@customer.test", name="postfix_delayed.eml"))

    def crash(*args, **kwargs):
        raise RuntimeError("worker killed")

    # The batch is stored, then the poll dies before its resume point is saved.
    monkeypatch.setattr(poller, "_save_resume_point", crash)
    poller.poll_mailbox(mailbox.pk)
    assert not PendingBatch.objects.exists() and not CallbackLog.objects.exists()
    mailbox.refresh_from_db()
    assert mailbox.last_uid == 0
    assert "worker killed" in mailbox.last_error
    assert mailbox.next_poll_at > timezone.now()  # retried later, with backoff
    assert mailbox.pk not in poller.due_mailboxes()
    monkeypatch.undo()

    poller.poll_mailbox(mailbox.pk)
    poller.poll_mailbox(mailbox.pk)
    inbox.apply_pending()

    assert DailyStat.objects.get(provider=mailbox.provider).hard_bounce == 1
    assert DailyStat.objects.get(provider=mailbox.provider).soft_bounce == 1
    mailbox.refresh_from_db()
    assert (mailbox.last_uid, mailbox.messages_read, mailbox.failures) == (2, 2, 0)
    assert mailbox.last_error == ""


def test_messages_read_again_are_duplicates_not_new_events(imap_server, mailbox):
    imap_server.append(bounce_for("gone@customer.test"))
    poller.poll_mailbox(mailbox.pk)
    BounceMailbox.objects.filter(pk=mailbox.pk).update(last_uid=0)  # as if the UID was lost
    poller.poll_mailbox(mailbox.pk)
    inbox.apply_pending()

    stat = DailyStat.objects.get(provider=mailbox.provider)
    assert (stat.hard_bounce, stat.duplicates) == (1, 1)


def test_processed_messages_can_be_moved_or_deleted(imap_server, mailbox):
    mailbox.processed_action = BounceMailbox.Processed.MOVE
    mailbox.move_to_folder = "Processed"
    mailbox.save()
    imap_server.append(b"Subject: other\r\n\r\nx\r\n", folder="Processed")  # makes the folder
    imap_server.append(bounce_for("gone@customer.test"))
    poller.poll_mailbox(mailbox.pk)
    assert imap_server.messages() == []
    assert len(imap_server.messages("Processed")) == 2

    mailbox.processed_action = BounceMailbox.Processed.DELETE
    mailbox.save()
    imap_server.append(bounce_for("other@customer.test"))
    poller.poll_mailbox(mailbox.pk)
    assert imap_server.messages() == []


def test_a_mailbox_that_cannot_be_reached_records_the_error_and_backs_off(mailbox, closed_port):
    BounceMailbox.objects.filter(pk=mailbox.pk).update(port=closed_port)
    poller.poll_mailbox(mailbox.pk)
    poller.poll_mailbox(mailbox.pk)  # asked directly ("Poll now"): tried again
    mailbox.refresh_from_db()
    assert mailbox.failures == 2
    assert "Could not connect" in mailbox.last_error
    assert mailbox.next_poll_at > timezone.now() + timedelta(seconds=100)  # 60 s, then 120 s
    assert IMAP_PASSWORD not in mailbox.last_error


def test_a_wrong_password_is_reported_without_the_password(mailbox):
    mailbox.set_password("wrong-password-123")
    mailbox.save()
    poller.poll_mailbox(mailbox.pk)
    mailbox.refresh_from_db()
    assert "AUTHENTICATIONFAILED" in mailbox.last_error or "failed" in mailbox.last_error.lower()
    assert "wrong-password-123" not in mailbox.last_error


@pytest.mark.django_db(transaction=True)
def test_one_poll_per_mailbox_at_a_time(imap_server, mailbox):
    imap_server.append(bounce_for("gone@customer.test"))
    held, release = threading.Event(), threading.Event()

    def hold_the_mailbox():
        with transaction.atomic():
            BounceMailbox.objects.select_for_update().get(pk=mailbox.pk)
            held.set()
            release.wait(10)
        connection.close()

    holder = threading.Thread(target=hold_the_mailbox)
    holder.start()
    held.wait(10)
    try:
        assert poller.poll_mailbox(mailbox.pk) is None  # another poll holds it: skipped
    finally:
        release.set()
        holder.join()
    assert not CallbackLog.objects.exists()
    assert poller.poll_mailbox(mailbox.pk).messages == 1


@pytest.mark.django_db(transaction=True)
def test_the_imap_io_runs_outside_any_transaction_under_a_lease(imap_server, mailbox, monkeypatch):
    imap_server.append(bounce_for("gone@customer.test"))
    fetch_new, seen = poller._fetch_new, {}

    def fetch_and_look(client, last_uid):
        seen["in_transaction"] = connection.in_atomic_block
        seen["second_poll"] = poller.poll_mailbox(mailbox.pk)  # e.g. "Poll now" meanwhile
        # A callback write to the mailbox row is not held up by the poll.
        BounceMailbox.objects.filter(pk=mailbox.pk).update(enabled=True)
        return fetch_new(client, last_uid)

    monkeypatch.setattr(poller, "_fetch_new", fetch_and_look)
    assert poller.poll_mailbox(mailbox.pk).messages == 1
    assert seen == {"in_transaction": False, "second_poll": None}
    mailbox.refresh_from_db()
    assert (mailbox.last_uid, mailbox.lease_expires_at) == (1, None)


def test_a_lease_left_by_a_dead_poll_expires(imap_server, mailbox):
    imap_server.append(bounce_for("gone@customer.test"))
    BounceMailbox.objects.filter(pk=mailbox.pk).update(
        lease_expires_at=timezone.now() + timedelta(minutes=5)
    )
    assert poller.poll_mailbox(mailbox.pk) is None
    BounceMailbox.objects.filter(pk=mailbox.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert poller.poll_mailbox(mailbox.pk).messages == 1
