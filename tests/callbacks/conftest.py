import base64
import json
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client

from callbacks import inbox
from providers.forms.postmark import WEBHOOK_USERNAME, new_webhook_password
from providers.models import EmailProvider
from tests.aws import moto_ses, sns  # noqa: F401  (fixtures)
from tests.factories import EmailProviderFactory
from tests.servers import tls_ca  # noqa: F401  (fixture)

PAYLOADS = Path(__file__).parent / "payloads"


def payload(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


def payload_json(name: str):
    return json.loads(payload(name))


def webhook_credentials(provider: EmailProvider) -> dict:
    """The request headers that authenticate a callback for kinds that require them
    (Postmark: the generated basic-auth login and secret header); none for the others."""
    if provider.kind != EmailProvider.Kind.POSTMARK:
        return {}
    if not provider.webhook_secret:
        provider.set_webhook_secret(new_webhook_password())
        provider.save(update_fields=["webhook_secret_encrypted"])
    login = base64.b64encode(f"{WEBHOOK_USERNAME}:{provider.webhook_secret}".encode()).decode()
    return {
        "HTTP_AUTHORIZATION": f"Basic {login}",
        "HTTP_X_POSTDESK_WEBHOOK_SECRET": provider.webhook_secret,
    }


def post(client: Client, provider: EmailProvider, body, **extra):
    """POST to the callback URL, then do a worker's part: apply what the inbox accepted."""
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
    response = client.post(
        provider.callback_path, data=body, content_type="application/json", **extra
    )
    inbox.apply_pending()
    return response


requires_postgres = pytest.mark.skipif(
    "connection.vendor != 'postgresql'", reason="needs PostgreSQL (DATABASE_URL)"
)


@pytest.fixture
def make_provider(db):
    def make(kind=EmailProvider.Kind.SMTP, **kwargs):
        return EmailProviderFactory(kind=kind, **kwargs)

    return make


@pytest.fixture
def smtp_provider(make_provider):
    return make_provider(EmailProvider.Kind.SMTP, nickname="Generic SMTP")


@pytest.fixture
def on_postgres():
    return connection.vendor == "postgresql"
