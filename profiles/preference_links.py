"""Signed, expiring links to the system preference center (and one-click unsubscribe).

A link made for a test email carries a test mark inside the signed value: the pages it leads
to say it was a test and change nothing (seed 003: the unsubscribe link does not work in test
emails).
"""

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "profiles.preference-center"


@dataclass(frozen=True)
class PreferenceLink:
    email: str
    is_test: bool = False


def make_token(email: str, *, test: bool = False) -> str:
    value = {"e": email.strip().lower()}
    if test:
        value["t"] = 1
    return signing.TimestampSigner(salt=SALT).sign_object(value, compress=True)


def link_max_age() -> int:
    """How long a link stays valid (settings.PREFERENCE_LINK_MAX_AGE_SECONDS)."""
    return settings.PREFERENCE_LINK_MAX_AGE_SECONDS


def read_link(token: str, max_age: int | None = None) -> PreferenceLink:
    """What a token was made for; raises signing.BadSignature (or SignatureExpired)."""
    if max_age is None:
        max_age = link_max_age()
    value = signing.TimestampSigner(salt=SALT).unsign_object(token, max_age=max_age)
    return PreferenceLink(email=value["e"], is_test=bool(value.get("t")))


def read_token(token: str, max_age: int | None = None) -> str:
    """The email a token was made for; raises signing.BadSignature (or SignatureExpired)."""
    return read_link(token, max_age).email


def preference_center_url(email: str, *, test: bool = False) -> str:
    token = make_token(email, test=test)
    return settings.SITE_URL + reverse("profiles:preferences", args=[token])


def one_click_unsubscribe_url(email: str, *, test: bool = False) -> str:
    token = make_token(email, test=test)
    return settings.SITE_URL + reverse("profiles:one_click_unsubscribe", args=[token])
