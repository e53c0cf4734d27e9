"""System checks of the callbacks app's settings."""

from django.conf import settings
from django.core.checks import Error, register

# SendGrid retries an event for up to a day after it happened; a shorter retention would let
# a retry through as a new event.
MIN_DEDUPE_DAYS = 2


@register()
def check_retention(app_configs, **kwargs) -> list[Error]:
    errors = []
    if settings.CALLBACK_DEDUPE_DAYS < MIN_DEDUPE_DAYS:
        errors.append(
            Error(
                f"CALLBACK_DEDUPE_DAYS is {settings.CALLBACK_DEDUPE_DAYS}; it must be at least "
                f"{MIN_DEDUPE_DAYS}, or an ESP's retry of an event is applied twice.",
                id="callbacks.E001",
            )
        )
    if settings.CALLBACK_LOG_DAYS < 1:
        errors.append(
            Error(
                f"CALLBACK_LOG_DAYS is {settings.CALLBACK_LOG_DAYS}; it must be at least 1.",
                id="callbacks.E002",
            )
        )
    return errors
