"""Bodies an ESP posts again byte for byte: known to be duplicates without reading them.

An ESP retries a whole request it got no 2xx for and sends the same bytes again. Once a body
has been applied, each event of a copy of it is a duplicate (`dedupe`), so the worker only has
to count them: it need not parse the copy and look up its events' keys one by one. The log of
a request applied in full keeps its body's digest (`CallbackLog.body_digest`); a batch whose
body matches a log of the same provider received within CALLBACK_DEDUPE_DAYS before it is
such a copy. The window starts at the first copy's receipt, as its events' keys do (a copy
counted as duplicates keeps no digest, so it never stretches the window). A copy whose first
is still waiting in the inbox, or older, is applied in full.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from django.conf import settings

from common.bulk_sql import adapter, bound_cursor, table_name
from providers.models import EmailProvider

from .models import CallbackLog


def digest(body: bytes) -> bytes:
    """What tells bodies apart: the first sixteen bytes of their SHA-256."""
    return hashlib.sha256(body).digest()[:16]


def was_applied(provider: EmailProvider, body_digest: bytes, received_at: datetime) -> bool:
    """Whether a body with `body_digest` was applied for `provider` in the dedupe window."""
    since = received_at - timedelta(days=settings.CALLBACK_DEDUPE_DAYS)
    sql = (
        f"SELECT 1 FROM {table_name(CallbackLog)} "  # noqa: S608
        "WHERE provider_id = %s AND body_digest = %s AND received_at >= %s LIMIT 1"
    )
    with bound_cursor() as cursor:
        cursor.execute(sql, [provider.pk, body_digest, adapter()(since)])
        return cursor.fetchone() is not None
