"""Deployment checks of SITE_URL: every callback URL an ESP is given starts with it."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.http.request import validate_host


@register(Tags.security, deploy=True)
def check_site_url(app_configs, **kwargs) -> list[CheckMessage]:
    url = urlsplit(settings.SITE_URL)
    if url.scheme not in ("http", "https") or not url.hostname:
        return [
            Error(
                f"SITE_URL ({settings.SITE_URL!r}) is not an absolute http(s) URL.",
                hint="Set it to the public address, e.g. https://postdesk.example.com.",
                id="config.E001",
            )
        ]
    messages = []
    if url.scheme != "https":
        messages.append(
            Warning(
                "SITE_URL does not use HTTPS: ESPs would post callbacks, and their tokens, "
                "in the clear.",
                id="config.W001",
            )
        )
    if not validate_host(url.hostname, settings.ALLOWED_HOSTS):
        messages.append(
            Error(
                f"SITE_URL's host {url.hostname!r} is not in ALLOWED_HOSTS: every callback to "
                "it would be refused.",
                id="config.E002",
            )
        )
    return messages
