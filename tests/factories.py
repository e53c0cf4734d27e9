from datetime import datetime

import factory
from django.contrib.auth import get_user_model

from callbacks.formats.base import CallbackEvent, content_key
from callbacks.models import EventKind
from profiles.models import Profile
from providers.crypto import encrypt
from providers.forms.gmail import GMAIL_PRESET
from providers.models import EmailProvider


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("correct-horse-battery")


class EmailProviderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EmailProvider
        skip_postgeneration_save = True

    nickname = factory.Sequence(lambda n: f"Provider {n}")
    kind = EmailProvider.Kind.SMTP
    host = "smtp.example.com"
    port = 587
    scheme = EmailProvider.Scheme.STARTTLS
    username = "mailer"
    from_name = "Postdesk"
    from_address = "news@example.com"

    class Params:
        # EmailProviderFactory(gmail=True) and so on: the fields each kind really has.
        gmail = factory.Trait(
            kind=EmailProvider.Kind.GMAIL,
            **GMAIL_PRESET,
            username="sender@gmail.com",
        )
        sendgrid = factory.Trait(
            kind=EmailProvider.Kind.SENDGRID, host="", port=None, scheme="", username=""
        )
        netcore = factory.Trait(
            kind=EmailProvider.Kind.NETCORE, host="", port=None, scheme="", username=""
        )
        postmark = factory.Trait(
            kind=EmailProvider.Kind.POSTMARK, host="", port=None, scheme="", username=""
        )
        ses = factory.Trait(
            kind=EmailProvider.Kind.SES,
            host="",
            port=None,
            scheme="",
            username="",
            region="us-east-1",
            access_key_id="AKIAIOSFODNN7EXAMPLE",
        )
        mailgun = factory.Trait(
            kind=EmailProvider.Kind.MAILGUN,
            host="",
            port=None,
            scheme="",
            username="",
            sending_domain="mg.example.com",
            region="us",
            webhook_secret_encrypted=factory.LazyFunction(lambda: encrypt("mailgun-signing-key")),
        )

    @factory.post_generation
    def secret(obj, create, extracted, **kwargs):  # noqa: N805
        obj.set_secret(extracted or "s3cret-password")
        if create:
            obj.save(
                update_fields=[
                    "secret_encrypted",
                    "secret_last4",
                    "secret_changed_at",
                    "secret_destination",
                ]
            )


class ProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Profile

    email = factory.Sequence(lambda n: f"person{n}@example.org")
    name = factory.Sequence(lambda n: f"Person {n}")


def delivered_event(name: str, at: datetime | None) -> CallbackEvent:
    """A parsed delivery for name@example.com at `at`, keyed on `name` alone."""
    return CallbackEvent(
        email=f"{name}@example.com",
        kind=EventKind.DELIVERED,
        occurred_at=at,
        dedupe_key=content_key("test", name),
    )
