"""Settings shared by every environment; every knob comes from the environment."""

import ipaddress
import os
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF, UNSAFE_INLINE

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

# --- Core ---------------------------------------------------------------
SECRET_KEY = env("SECRET_KEY", default="local-insecure-secret-key-change-me")
# Each environment's module decides (local: from DEBUG, on by default).
DEBUG = False
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Recipients on the public preference center get their own page; everyone else Django's.
CSRF_FAILURE_VIEW = "profiles.preference_views.csrf_failure"
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",
    "csp",
    "crispy_forms",
    "crispy_bootstrap5",
    "config",
    "profiles",
    "providers",
    "callbacks",
    "deliverability",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "config.middleware.no_store_for_private_pages",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "deliverability.context_processors.open_alerts",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'postdesk.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default shares one file between the web server and the worker.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Behind a transaction-mode pooler (PgBouncer) server-side cursors must be off.
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env.bool(
        "DISABLE_SERVER_SIDE_CURSORS", default=False
    )
    # The callback workers' bulk statements (`common.bulk_sql.bound_cursor`) are prepared on
    # their fifth run, so PostgreSQL plans each once per connection, not once per batch.
    # PgBouncer older than 1.21 in transaction mode cannot keep prepared statements: off there.
    if env.bool(
        "PREPARED_STATEMENTS", default=not DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"]
    ):
        DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 5
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth ---------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "providers:list"
LOGOUT_REDIRECT_URL = "login"

# Sign-in attempts are rate-limited per username and address (django-axes).
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_SENSITIVE_PARAMETERS = ["password"]

# --- Security headers ---------------------------------------------------------
# No inline script anywhere: page behaviour lives in static/js.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Internationalisation -------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=VAR_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = env.path("MEDIA_ROOT", default=VAR_DIR / "media")

# --- Forms (crispy-forms) ----------------------------------------------------------------
CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Celery (config.celery_app) --------------------------------------------------
# The default broker is kombu's filesystem transport: it needs no server, and a
# real worker started beside the web server consumes from the same folder.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
# A broker that accepts the connection and then never answers must not hold a request
# (publishing runs in the request that queues the task) for longer than these.
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=3.0)
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(VAR_DIR / "broker"),
        "data_folder_out": str(VAR_DIR / "broker"),
        "processed_folder": str(VAR_DIR / "broker-processed"),
        "control_folder": str(VAR_DIR / "broker-control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
        "socket_timeout": env.float("CELERY_BROKER_SOCKET_TIMEOUT", default=5.0),
        "socket_connect_timeout": CELERY_BROKER_CONNECTION_TIMEOUT,
    }
)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TIMEZONE = TIME_ZONE
# Processes per worker (Celery's default: one per CPU).
CELERY_WORKER_CONCURRENCY = env.int("CELERY_WORKER_CONCURRENCY", default=os.cpu_count() or 1)
# The local SMTP sink of the embedded default (config's smtp_sink and bootstrap_demo).
DEMO_SMTP_PORT = env.int("DEMO_SMTP_PORT", default=1025)

# --- Providers ------------------------------------------------------------------
# Fernet keys for provider secrets, newest first; older keys still decrypt so keys can be
# rotated (providers.crypto).
FIELD_ENCRYPTION_KEYS = env.list(
    "FIELD_ENCRYPTION_KEYS", default=["bG9jYWwtZGV2LWtleS1ub3QtZm9yLXByb2R1Y3Rpb24="]
)
SMTP_TIMEOUT_SECONDS = env.float("SMTP_TIMEOUT_SECONDS", default=15.0)
# An extra CA to trust for SMTP TLS (a private relay's own CA); verification always stays on.
SMTP_CA_FILE = env("SMTP_CA_FILE", default="")
ESP_HTTP_TIMEOUT_SECONDS = env.float("ESP_HTTP_TIMEOUT_SECONDS", default=15.0)
SENDGRID_API_URL = env("SENDGRID_API_URL", default="https://api.sendgrid.com")
POSTMARK_API_URL = env("POSTMARK_API_URL", default="https://api.postmarkapp.com")
MAILGUN_API_URL = env("MAILGUN_API_URL", default="https://api.mailgun.net")
MAILGUN_EU_API_URL = env("MAILGUN_EU_API_URL", default="https://api.eu.mailgun.net")
NETCORE_API_URL = env("NETCORE_API_URL", default="https://emailapi.netcorecloud.net")
# Amazon SES: blank = boto3's regional endpoint; SNS signing certificates only from these hosts.
SES_ENDPOINT_URL = env("SES_ENDPOINT_URL", default="")
SNS_CERT_HOSTS = env.list(
    "SNS_CERT_HOSTS", default=[r"^sns\.[a-zA-Z0-9\-]{3,}\.amazonaws\.com(\.cn)?$"]
)
# SMTP hosts and ESP API bases must be globally routable (providers.network) unless this is
# on; each environment's module decides (local: on, for the SMTP sink; production: off).
PROVIDER_HOSTS_ALLOW_PRIVATE = False
# A test email still "sending" after this long lost its worker: the sweeper marks it failed.
TEST_EMAIL_STALE_AFTER_SECONDS = env.float("TEST_EMAIL_STALE_AFTER_SECONDS", default=120.0)
# A test email still "queued" this long after it was due lost its task message: it is queued
# once more, and failed if it waits that long again.
TEST_EMAIL_QUEUE_TIMEOUT_SECONDS = env.float("TEST_EMAIL_QUEUE_TIMEOUT_SECONDS", default=30.0)

# --- Callbacks ------------------------------------------------------------------
# Large enough for a 5,000-event SendGrid batch twice over (SendGrid batches by size, not count).
CALLBACK_MAX_BODY_BYTES = env.int("CALLBACK_MAX_BODY_BYTES", default=10 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = CALLBACK_MAX_BODY_BYTES
# How long callback history is kept (callbacks.retention): de-duplication keys must outlive
# the ESPs' retries (SendGrid's last up to a day), so fewer than 2 days is refused.
CALLBACK_DEDUPE_DAYS = env.int("CALLBACK_DEDUPE_DAYS", default=7)
CALLBACK_LOG_DAYS = env.int("CALLBACK_LOG_DAYS", default=30)
# Delivered events stay on profile timelines this many days (profiles.retention); failures,
# complaints and unsubscribes stay as long as the profile.
TIMELINE_DELIVERED_DAYS = env.int("TIMELINE_DELIVERED_DAYS", default=90)
# How many tasks an idle callback inbox queues when batches arrive: as many as should apply
# them at once, so every worker process takes part in draining a flood (callbacks.inbox).
CALLBACK_WAKE_TASKS = env.int("CALLBACK_WAKE_TASKS", default=CELERY_WORKER_CONCURRENCY)
# How often Celery beat reads the bounce mailboxes (callbacks.mailbox), in seconds.
BOUNCE_MAILBOX_POLL_SECONDS = env.int("BOUNCE_MAILBOX_POLL_SECONDS", default=300)
# Network timeout of each IMAP step (connect, login, search, fetch) of a bounce mailbox poll.
BOUNCE_MAILBOX_TIMEOUT_SECONDS = env.int("BOUNCE_MAILBOX_TIMEOUT_SECONDS", default=30)

# --- Profiles -------------------------------------------------------------------
PROFILE_IMPORT_MAX_BYTES = env.int("PROFILE_IMPORT_MAX_BYTES", default=20 * 1024 * 1024)
PREFERENCE_LINK_MAX_AGE_SECONDS = env.int(
    "PREFERENCE_LINK_MAX_AGE_SECONDS", default=60 * 60 * 24 * 90
)

# --- Operations (config.metrics, config.health) ----------------------------------------
# /metrics answers a scraper with this bearer token or from these addresses (addresses or
# networks); with neither set it is off (404).
METRICS_TOKEN = env("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = [
    ipaddress.ip_network(entry, strict=False)
    for entry in env.list("METRICS_ALLOWED_IPS", default=[])
]
# /health/ answers 503 once a due callback batch has waited this long for a worker.
HEALTH_INBOX_LAG_SECONDS = env.float("HEALTH_INBOX_LAG_SECONDS", default=300.0)

# --- Logging -----------------------------------------------------------------
# Callback URLs hold the provider's secret token: every record that may carry a request path
# is redacted (config.redaction); gunicorn's own logs are redacted by gunicorn.conf.py.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_callback_tokens": {"()": "config.redaction.RedactCallbackTokens"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_callback_tokens"],
        },
        "django.server": {"class": "logging.StreamHandler", "formatter": "django.server"},
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        "flufl.bounce": {"level": "WARNING"},  # names each detector it runs at INFO
        "django.request": {"filters": ["redact_callback_tokens"]},
        "django.server": {
            "handlers": ["django.server"],
            "level": "INFO",
            "propagate": False,
            "filters": ["redact_callback_tokens"],
        },
    },
}
DEFAULT_EXCEPTION_REPORTER_FILTER = "config.error_reports.TokenSafeExceptionReporterFilter"

# --- Deliverability ---------------------------------------------------------------
# The DNS server for the sending-domain checks ("host" or "host:port"); empty: the system's.
DNS_RESOLVER = env("DNS_RESOLVER", default="")
DNS_TIMEOUT_SECONDS = env.float("DNS_TIMEOUT_SECONDS", default=5.0)
