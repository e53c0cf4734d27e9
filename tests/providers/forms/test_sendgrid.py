"""The SendGrid form and its verification key."""

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.core.exceptions import ValidationError

from providers.forms.sendgrid import SendGridProviderForm, validate_sendgrid_verification_key


def _public_key_b64(private_key) -> str:
    der = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def test_sendgrid_verification_key_must_be_a_p256_public_key():
    validate_sendgrid_verification_key(_public_key_b64(ec.generate_private_key(ec.SECP256R1())))
    for bad in (
        "not base64!",
        base64.b64encode(b"random bytes").decode(),
        _public_key_b64(ec.generate_private_key(ec.SECP384R1())),
        _public_key_b64(rsa.generate_private_key(public_exponent=65537, key_size=1024)),
    ):
        with pytest.raises(ValidationError):
            validate_sendgrid_verification_key(bad)


@pytest.mark.django_db
def test_sendgrid_form_accepts_a_pasted_key_with_line_breaks():
    key = _public_key_b64(ec.generate_private_key(ec.SECP256R1()))
    form = SendGridProviderForm(
        {
            "nickname": "SG",
            "secret": "SG.abc.def",
            "from_address": "a@example.com",
            "preference_center": "none",
            "webhook_verification_key": key[:40] + "\n" + key[40:],
        }
    )
    assert form.is_valid(), form.errors
    assert form.save().webhook_verification_key == key
