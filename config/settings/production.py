"""Production: refuses to start without its secrets."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env

# SITE_URL: every callback URL given to an ESP, and every link in an email, starts with it.
REQUIRED = ("SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS", "FIELD_ENCRYPTION_KEYS", "SITE_URL")
missing = [name for name in REQUIRED if not env.str(name, default="")]
if missing:
    raise ImproperlyConfigured(
        f"Production settings need these environment variables: {', '.join(missing)}"
    )

DEBUG = False

# --- Transport security -------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# HSTS preloading is a commitment for the whole domain: the operator opts in with
# SECURE_HSTS_PRELOAD=true, so the check that nags about it is silenced.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]

# --- Provider hosts -------------------------------------------------------------
# SMTP hosts and ESP API bases must be globally routable here (providers.network); set
# PROVIDER_HOSTS_ALLOW_PRIVATE=true only for a relay on your own network.
PROVIDER_HOSTS_ALLOW_PRIVATE = env.bool("PROVIDER_HOSTS_ALLOW_PRIVATE", default=False)

# --- Static files ---------------------------------------------------------------
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
