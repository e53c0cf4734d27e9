"""Migration 0010: installations get the documented default, "never", unless an admin chose."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from callbacks.models import SoftBouncePolicy

BEFORE = [("callbacks", "0009_pending_body")]
AFTER = [("callbacks", "0010_soft_bounce_policy_never_by_default")]


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
@pytest.mark.parametrize(
    ("threshold", "window_days", "kept"),
    [(3, 14, False), (5, 14, True), (3, 30, True), (None, 14, True)],
)
def test_the_automatic_default_is_forgotten_and_a_chosen_policy_kept(threshold, window_days, kept):
    old_apps = migrate(BEFORE)
    try:
        old_apps.get_model("callbacks", "SoftBouncePolicy").objects.create(
            pk=1, threshold=threshold, window_days=window_days
        )
    finally:
        migrate(AFTER)
    policy = SoftBouncePolicy.current()
    assert policy.is_chosen is kept
    if kept:
        assert (policy.threshold, policy.window_days) == (threshold, window_days)
    else:
        assert policy.threshold is None
