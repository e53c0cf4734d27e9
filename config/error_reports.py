"""Error reports (Django's 500 report, what mail_admins or an error tracker sends) without
callback tokens, in the request's path and headers and in the traceback's variables."""

from typing import Any

from django.views.debug import SafeExceptionReporterFilter

from .redaction import REDACTED, redact, tokens_in


class RedactedValue:
    """A traceback variable, shown by its repr with the request's callback tokens hidden."""

    def __init__(self, value: Any, tokens: set[str]) -> None:
        self.value = value
        self.tokens = tokens

    def __repr__(self) -> str:
        # Computed when the report is rendered, which reports a repr that fails.
        text = redact(repr(self.value))
        for token in self.tokens:
            text = text.replace(token, REDACTED)
        return text


class TokenSafeExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's report filter, which also hides callback tokens."""

    def get_traceback_frame_variables(self, request, tb_frame):
        tokens = request_tokens(request)
        variables = super().get_traceback_frame_variables(request, tb_frame)
        return [(name, RedactedValue(value, tokens)) for name, value in variables]

    def get_safe_request_meta(self, request):
        meta = super().get_safe_request_meta(request)
        return {
            key: redact(value) if isinstance(value, str) else value for key, value in meta.items()
        }


def request_tokens(request: Any) -> set[str]:
    """The callback tokens a request's path held, whether or not it was redacted already."""
    path = getattr(request, "path", "")
    found = tokens_in(path) if isinstance(path, str) else set()
    return found | getattr(request, "redacted_tokens", set())
