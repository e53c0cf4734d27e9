"""The embedded default: SQLite, a file-system broker, a local SMTP sink."""

from .base import *  # noqa: F403
from .base import VAR_DIR, env

DEBUG = env.bool("DEBUG", default=True)
# The local SMTP sink and relays on your own network are allowed here.
PROVIDER_HOSTS_ALLOW_PRIVATE = env.bool("PROVIDER_HOSTS_ALLOW_PRIVATE", default=True)

VAR_DIR.mkdir(exist_ok=True)
for folder in ("broker", "broker-processed", "broker-control", "media"):
    (VAR_DIR / folder).mkdir(exist_ok=True)
