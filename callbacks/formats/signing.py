"""The time window of a signed callback, shared by the formats whose ESP signs a timestamp."""

from datetime import UTC, datetime, timedelta

from .base import SignatureError


def signed_at_within(
    timestamp: str,
    max_age: timedelta,
    max_skew: timedelta,
    now: datetime | None = None,
    error: type[SignatureError] = SignatureError,
) -> datetime:
    """When the request says it was signed; `error` unless within `max_age` before now and
    `max_skew` after it (clocks disagree a little; a signature from the future, not much)."""
    now = now or datetime.now(UTC)
    try:
        signed_at = datetime.fromtimestamp(int(timestamp), tz=UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise error("The signature timestamp is not a Unix time") from exc
    if signed_at < now - max_age or signed_at > now + max_skew:
        raise error("The signature timestamp is outside the accepted window")
    return signed_at
