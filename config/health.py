"""Liveness of the two things every request and task depends on, and whether callbacks keep up.

The inbox lag is how long the oldest due callback batch has waited for a worker
(`callbacks.inbox.inbox_lag_seconds`); past `HEALTH_INBOX_LAG_SECONDS` the check answers 503,
saying so, as it does when the database or the broker is unreachable.
"""

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from callbacks.inbox import inbox_lag_seconds

from .celery_app import app as celery_app


def database_reachable() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        return False


def broker_reachable() -> bool:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)
        return True
    except Exception:
        return False


def inbox_lag() -> dict:
    """The inbox lag in whole seconds, and whether it is within the threshold."""
    lag = inbox_lag_seconds()
    return {
        "inbox_lag_seconds": int(lag),
        "inbox": "ok" if lag <= settings.HEALTH_INBOX_LAG_SECONDS else "lagging",
    }


@never_cache
@require_GET
def health(request):
    checks = {"database": database_reachable(), "broker": broker_reachable()}
    body = {name: "ok" if ok else "unreachable" for name, ok in checks.items()}
    if checks["database"]:
        body.update(inbox_lag())
    healthy = all(checks.values()) and body.get("inbox") == "ok"
    body = {"status": "ok" if healthy else "unavailable", **body}
    return JsonResponse(body, status=200 if healthy else 503)
