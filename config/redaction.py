"""Keep callback tokens out of logs.

A callback URL, `/callbacks/<token>/`, is the ESP's only credential. Request lines and paths
are written by Django's request log (`django.request`), the development server
(`django.server`) and gunicorn's access and error logs, so each of those passes its records
through `RedactCallbackTokens` (settings.LOGGING, gunicorn.conf.py). Error reports use
`config.error_reports`. No Django import here: gunicorn's master loads this module too.
"""

import copy
import logging
import re
from typing import Any

REDACTED = "[redacted]"
# Any path segment after /callbacks/ except the dashboard's own pages there.
CALLBACK_TOKEN = re.compile(r"(/callbacks/)(?!(?:stats|policy|providers)/)([^/?#\s\"'<>]+)")
PATH_BEARING_META = ("PATH_INFO", "REQUEST_URI", "RAW_URI", "HTTP_REFERER")


def redact(text: str) -> str:
    """`text` with every callback token replaced by "[redacted]"."""
    return CALLBACK_TOKEN.sub(rf"\g<1>{REDACTED}", text)


def tokens_in(text: str) -> set[str]:
    """The callback tokens that `text` holds."""
    return {match.group(2) for match in CALLBACK_TOKEN.finditer(text)} - {REDACTED}


def redacted_request(request: Any) -> Any:
    """A copy of a Django request whose path and path-bearing headers hold no token.

    The copy remembers the tokens it hid (`redacted_tokens`), so an error report built from it
    can hide them wherever else they show, such as the view's arguments.
    """
    path = getattr(request, "path", None)
    if not isinstance(path, str) or not isinstance(getattr(request, "META", None), dict):
        return request
    safe = copy.copy(request)
    safe.redacted_tokens = tokens_in(path) | getattr(request, "redacted_tokens", set())
    safe.path = redact(path)
    safe.path_info = redact(request.path_info)
    safe.META = {
        key: redact(value) if key in PATH_BEARING_META and isinstance(value, str) else value
        for key, value in request.META.items()
    }
    return safe


class RedactCallbackTokens(logging.Filter):
    """Rewrite a log record's message, request and traceback text without callback tokens."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if CALLBACK_TOKEN.search(message):
            record.msg, record.args = redact(message), ()
        if hasattr(record, "request"):
            record.request = redacted_request(record.request)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
