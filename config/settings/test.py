"""Tests: PostgreSQL and Redis when DATABASE_URL / CELERY_BROKER_URL are set."""

import os

from .base import *  # noqa: F403
from .base import BASE_DIR

SECRET_KEY = "test-secret-key"
# Tests sign in with Client.login (no request); the rate-limit test turns axes back on.
AXES_ENABLED = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if "CELERY_BROKER_URL" not in os.environ:
    CELERY_BROKER_URL = "memory://"
CELERY_BROKER_TRANSPORT_OPTIONS = {}
MEDIA_ROOT = BASE_DIR / "var" / "test-media"
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# The test servers listen on loopback; the SSRF tests turn this off.
PROVIDER_HOSTS_ALLOW_PRIVATE = True
FIELD_ENCRYPTION_KEYS = ["dGVzdC1rZXktMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDA="]
# Never the machine's resolver: a port where nothing answers, unless a test starts its own.
DNS_RESOLVER = "127.0.0.1:9"
DNS_TIMEOUT_SECONDS = 1.0
