import os

from celery import Celery
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("postdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Periodic work, run by `celery beat` (Procfile: beat; Procfile.dev: worker -B).
app.conf.beat_schedule = {
    # A worker that died mid-send leaves its test email in "sending": fail it as stale.
    "sweep-stale-test-emails": {
        "task": "providers.tasks.sweep_stale_test_emails",
        "schedule": 60.0,
    },
    # Callback batches whose task message was lost (broker down when they were accepted).
    "sweep-callback-inbox": {
        "task": "callbacks.tasks.apply_pending_callbacks",
        "schedule": 60.0,
    },
    # De-duplication keys and callback logs: the coming days' partitions, and those past
    # their retention (callbacks.retention).
    "prune-callback-history": {
        "task": "callbacks.tasks.prune_callback_history",
        "schedule": 3600.0,
    },
    # Timeline deliveries: the coming days' partitions, and those past TIMELINE_DELIVERED_DAYS.
    "prune-timeline-deliveries": {
        "task": "profiles.tasks.prune_timeline_deliveries",
        "schedule": 3600.0,
    },
    # Profile exports are kept for a day (profiles.exporting).
    "prune-profile-exports": {"task": "profiles.tasks.prune_old_exports", "schedule": 3600.0},
    # Bounce mailboxes over IMAP (callbacks.mailbox.poller).
    "poll-bounce-mailboxes": {
        "task": "callbacks.tasks.poll_bounce_mailboxes",
        "schedule": float(settings.BOUNCE_MAILBOX_POLL_SECONDS),
    },
    # Rates against the deliverability thresholds; new alerts are emailed to staff.
    "check-deliverability-thresholds": {
        "task": "deliverability.tasks.check_thresholds",
        "schedule": 60.0,
    },
    "check-sending-domains": {
        "task": "deliverability.tasks.check_sending_domains",
        "schedule": 86400.0,
    },
}
