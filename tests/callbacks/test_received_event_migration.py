"""Migration 0007 converts the stored de-duplication keys to the binary form services use."""

from datetime import UTC

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from callbacks import dedupe, services
from callbacks.models import ReceivedEvent
from providers.models import EmailProvider
from tests.callbacks.test_services import sg

BEFORE = [("callbacks", "0006_pending_events_uncompressed")]
AFTER = [("callbacks", "0007_received_event_binary_key")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def back_to_latest():
    """Leave the schema as every other test expects it, whatever this test did."""
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("back_to_latest")
def test_keys_stored_before_the_upgrade_still_recognise_replays(make_provider):
    provider = make_provider(EmailProvider.Kind.SENDGRID)
    timed, untimed = sg(("delivered", "a@example.com", 0), ("bounce", "b@example.com", 5))
    untimed.occurred_at = None
    old_apps = migrate(BEFORE)
    try:
        old_model = old_apps.get_model("callbacks", "ReceivedEvent")
        stamp = timed.occurred_at.astimezone(UTC).strftime("%Y%m%d%H%M%S")
        old_model.objects.create(provider_id=provider.pk, event_key=f"{stamp}~{timed.dedupe_key}")
        old_model.objects.create(provider_id=provider.pk, event_key=f"~{untimed.dedupe_key}")
    finally:
        migrate(AFTER)
    stored = {bytes(key) for key in ReceivedEvent.objects.values_list("event_key", flat=True)}
    assert stored == {dedupe.stored_key(timed), dedupe.stored_key(untimed)}
    assert services.apply_events(provider, [timed, untimed]).duplicates == 2
