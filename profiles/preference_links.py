"""Signed, expiring links to the system preference center (and one-click unsubscribe)."""

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "profiles.preference-center"
MAX_AGE_SECONDS = 60 * 60 * 24 * 90


def make_token(email: str) -> str:
    signer = signing.TimestampSigner(salt=SALT)
    return signer.sign_object({"e": email.strip().lower()}, compress=True)


def link_max_age() -> int:
    """How long a link stays valid; settings.PREFERENCE_LINK_MAX_AGE_SECONDS overrides."""
    return getattr(settings, "PREFERENCE_LINK_MAX_AGE_SECONDS", MAX_AGE_SECONDS)


def read_token(token: str, max_age: int | None = None) -> str:
    """The email a token was made for; raises signing.BadSignature (or SignatureExpired)."""
    if max_age is None:
        max_age = link_max_age()
    return signing.TimestampSigner(salt=SALT).unsign_object(token, max_age=max_age)["e"]


def preference_center_url(email: str) -> str:
    return settings.SITE_URL + reverse("profiles:preferences", args=[make_token(email)])


def one_click_unsubscribe_url(email: str) -> str:
    return settings.SITE_URL + reverse("profiles:one_click_unsubscribe", args=[make_token(email)])
