"""The public callback endpoint.

`receive` stays thin: method, token, body size; then `process_callback` verifies and checks
the body through the provider kind's formats (`callbacks.formats`), hands it to the inbox
(`callbacks.inbox`: a worker parses and applies it), shapes the answer of seed 003 and keeps a
`CallbackLog`. Responses carry ``_has_been_logged`` so Django's request logger never writes the
path — the path holds the provider's secret token.
"""

import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from config.redaction import redacted_request
from providers.models import EmailProvider

from . import inbox, services
from .formats import BatchReport, MalformedPayload, SignatureError, formats_for
from .models import CallbackLog

logger = logging.getLogger(__name__)

BODY_EXCERPT_CHARS = 2000
ALLOWED_METHODS = ("POST", "HEAD")

SUCCESS_BODY = {"status": "success", "message": "Callback processed successfully"}


def error_body(status: int, message: str) -> dict:
    return {"status": "error", "message": message, "error_code": status}


@dataclass
class Outcome:
    """The answer to one callback request, and what the log keeps of it."""

    status: int
    body: dict
    payload_format: str = ""
    events_total: int = 0
    processed: int = 0
    failed: int = 0
    duplicates: int = 0
    ignored: int = 0
    kind_counts: dict = field(default_factory=dict)
    error: str = ""

    def response(self) -> JsonResponse:
        return _json(self.status, self.body)

    def count(self, result: services.ApplyResult) -> None:
        """Add what applying the events did (samples, applied while answering)."""
        self.duplicates = result.duplicates
        self.ignored = result.ignored
        self.kind_counts = dict(result.counts)


def _json(status: int, body: dict) -> JsonResponse:
    response = JsonResponse(body, status=status)
    response._has_been_logged = True  # keep the tokenised path out of django.request's log
    return response


@csrf_exempt
def receive(request, token):
    """The callback endpoint: any failure of ours is answered with seed 003's JSON error body,
    never Django's HTML page, and is logged without the path (it holds the token)."""
    try:
        return _receive(request, token)
    except Exception:
        # The request goes with the record, for error reports, with its token redacted.
        logger.exception("Callback endpoint failed", extra={"request": redacted_request(request)})
        return _json(500, error_body(500, "Server error"))


def _receive(request, token: str) -> HttpResponse:
    if request.method not in ALLOWED_METHODS:
        response = _json(405, error_body(405, "Method not allowed"))
        response["Allow"] = ", ".join(ALLOWED_METHODS)
        return response
    provider = EmailProvider.objects.by_callback_token(token)
    if provider is None:
        return _json(404, error_body(404, "Not found"))
    if request.method == "HEAD":
        # ESPs (Netcore) probe the URL before saving it.
        _record(provider, "HEAD", b"", Outcome(200, {}))
        response = HttpResponse(status=200)
        response._has_been_logged = True
        return response
    if _is_chunked(request) and not request.META.get("wsgi.input_terminated"):
        outcome = Outcome(411, error_body(411, "Length required"), error="Length required")
        _record(provider, "POST", b"", outcome)
        return outcome.response()
    body = _read_body(request)
    if body is None:
        outcome = Outcome(413, error_body(413, "Payload too large"), error="Payload too large")
        _record(provider, "POST", b"", outcome)
        return outcome.response()
    return process_callback(provider, body, request.headers).response()


def _is_chunked(request) -> bool:
    return "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()


def _read_body(request) -> bytes | None:
    """The raw body, or None when it is larger than CALLBACK_MAX_BODY_BYTES.

    A chunked body has no Content-Length: it is read from the server's decoded input (gunicorn
    decodes chunks and marks the input terminated), at most one byte past the limit.
    """
    limit = settings.CALLBACK_MAX_BODY_BYTES
    if _is_chunked(request):
        body = request.META["wsgi.input"].read(limit + 1)
        return body if len(body) <= limit else None
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    try:
        body = request.body
    except RequestDataTooBig:
        return None
    return body if len(body) <= limit else None


def process_callback(
    provider: EmailProvider, body: bytes, headers, *, is_sample: bool = False
) -> Outcome:
    """Verify and check one callback body, queue it in the inbox, log it, answer.

    A sample (`is_sample`) skips the signature — we post it ourselves — and is parsed and
    applied at once inside a transaction that is rolled back, so it exercises the real path and
    changes no profile.
    """
    try:
        outcome, report = _verify_and_check(provider, body, headers, is_sample)
        if report and report.readable and not is_sample:
            inbox.accept(_log_entry(provider, "POST", body, outcome), body)
            return outcome
        if report and report.readable:
            with transaction.atomic():
                events = formats_for(provider).parse(body)
                outcome.count(services.apply_events(provider, events))
                transaction.set_rollback(True)
    except Exception:  # our own fault: the ESP will retry a 500
        logger.exception("Callback for provider %s failed", provider.pk)
        outcome = Outcome(500, error_body(500, "Server error"), error="Server error")
    _record(provider, "POST", body, outcome, is_sample=is_sample)
    return outcome


def _verify_and_check(provider, body, headers, is_sample) -> tuple[Outcome, BatchReport | None]:
    """The answer, and what the body holds (None when the request is refused)."""
    kind_formats = formats_for(provider)
    if not is_sample:
        try:
            for fmt in kind_formats.formats:
                fmt.verify(provider, body, headers)
        except SignatureError as exc:
            status = getattr(exc, "status", 403)  # what the ESP expects (Mailgun: 406)
            return Outcome(status, error_body(status, "Invalid signature"), error=str(exc)), None
    try:
        report = kind_formats.check(body)
    except MalformedPayload as exc:
        return Outcome(400, error_body(400, str(exc)), error=str(exc)), None
    return _shape(report), report


def _shape(report: BatchReport) -> Outcome:
    failed = len(report.errors)
    outcome = Outcome(
        200,
        SUCCESS_BODY,
        payload_format=report.payload_format,
        events_total=report.total,
        processed=report.readable,
        failed=failed,
    )
    if failed:
        outcome.body = {
            "status": "partial_success",
            "processed": outcome.processed,
            "failed": failed,
            "errors": [{"event_index": e.index, "error": e.error} for e in report.errors],
        }
        outcome.error = "; ".join(f"#{e.index}: {e.error}" for e in report.errors[:5])
    return outcome


def loggable_excerpt(body: bytes) -> str:
    """The start of the body as text PostgreSQL can store (its text type refuses NUL)."""
    return body[:BODY_EXCERPT_CHARS].decode("utf-8", "replace").replace("\x00", "\ufffd")


def _log_entry(
    provider: EmailProvider, method: str, body: bytes, outcome: Outcome, *, is_sample=False
) -> CallbackLog:
    """The request's callback log entry, unsaved; applied now unless it waits in the inbox."""
    return CallbackLog(
        provider=provider,
        method=method,
        payload_format=outcome.payload_format,
        status_code=outcome.status,
        events_total=outcome.events_total,
        processed=outcome.processed,
        failed=outcome.failed,
        duplicates=outcome.duplicates,
        ignored=outcome.ignored,
        kind_counts=outcome.kind_counts,
        error=outcome.error[:1000],
        body_excerpt=loggable_excerpt(body),
        is_sample=is_sample,
        applied_at=timezone.now(),
    )


def _record(
    provider: EmailProvider, method: str, body: bytes, outcome: Outcome, *, is_sample=False
) -> None:
    """Keep the request in the provider's callback log; a failure here never fails the ESP."""
    try:
        _log_entry(provider, method, body, outcome, is_sample=is_sample).save()
    except Exception:
        logger.exception("Could not log a callback for provider %s", provider.pk)
