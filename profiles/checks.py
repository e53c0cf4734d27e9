"""System checks of the profiles app's settings."""

from django.conf import settings
from django.core.checks import Error, register


@register()
def check_timeline_retention(app_configs, **kwargs) -> list[Error]:
    if settings.TIMELINE_DELIVERED_DAYS < 1:
        return [
            Error(
                f"TIMELINE_DELIVERED_DAYS is {settings.TIMELINE_DELIVERED_DAYS}; it must be at "
                "least 1.",
                id="profiles.E001",
            )
        ]
    return []
