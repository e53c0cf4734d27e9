"""Dedupe keys are stored: an ESP's retry after an upgrade must find the key its first post
left, so these digests may never change, however the key is computed."""

import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callbacks.formats import named
from callbacks.formats.base import content_key, text
from tests.callback_strategies import json_trees

ADA = "ada@example.com"


@pytest.mark.parametrize(
    ("parts", "digest"),
    [
        (("sendgrid",), "9f4d422f361728816036982f11cb1d0b12d3d0e6cb4b9e30748e6ba47263d47c"),
        (
            ("sendgrid", "rWVYmVk90MjZJ9iohOBa3w=="),
            "51daae2c7a95348a7c16c165bc272daed7166fec80c4433879bbdcdfeb209aaf",
        ),
        (
            ("netcore", 1700000000000, "bounced", "soft_bounce", ADA, 1700000000),
            "cfc7543ee4fc3ea2c4c7cb1494e521700267927463ad09fab1bd2ad65987eeeb",
        ),
        (
            ("netcore", None, "", "ignored", "Ünï@example.com", "1700000000.5"),
            "4301c45d1d4ba5bb83a249fd51d64e93e5057c1c4d40ec5dbe61772992481b3b",
        ),
        (
            (
                "generic_v2",
                {"type": "hard_bounce", "email": ADA, "meta": "m|1|", "description": None},
            ),
            "04b29c5d6f4aed8b5cb547904bffd8faa4d0746c6c0bb71df3fe60c1857e5b3e",
        ),
        (
            ("test", "nul\x00 and \ud800 lone", 1.5, True, ["b", {"z": 1, "a": [None]}]),
            "f30b3d45a0fffcc5e5bc3a47cfd34cf329951eeb59f871594f92a02ad2f18f7f",
        ),
    ],
)
def test_content_keys_are_the_digests_already_stored(parts, digest):
    assert content_key(*parts) == digest


def spelled_out_key(fmt, *parts):
    """The key as stored: sha256 over the name, then 0x1F and each part's text, in UTF-8."""
    digest = hashlib.sha256(fmt.encode())
    for part in parts:
        digest.update(b"\x1f")
        digest.update(text(part).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


@settings(max_examples=300, deadline=None)
@given(fmt=st.sampled_from(["sendgrid", "generic_v2", "netcore"]), parts=st.lists(json_trees))
def test_a_content_key_is_the_digest_spelled_out(fmt, parts):
    assert content_key(fmt, *parts) == spelled_out_key(fmt, *parts)


META = f"{ADA}|1|c|s|"
BODIES = {
    "sendgrid": [
        {
            "email": ADA,
            "event": "delivered",
            "timestamp": 1700000000,
            "sg_event_id": "rWVYmVk90MjZJ9iohOBa3w==",
        },
        {
            "email": ADA,
            "event": "bounce",
            "timestamp": 1700000001,
            "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001",
        },
    ],
    "generic_v2": {
        "version": "v2",
        "events": {
            "failed": [
                {
                    "type": "hard_bounce",
                    "email": ADA,
                    "meta": META,
                    "description": "550 no such user",
                },
                {"type": "delivered", "email": ADA, "meta": META, "description": None},
            ]
        },
    },
    "netcore": [
        {
            "TRANSID": "1700000000000",
            "EMAIL": "Ada@Example.com",
            "EVENT": "bounced",
            "TIMESTAMP": 1700000000,
            "BOUNCE_TYPE": "SOFTBOUNCE",
        },
    ],
    "netcore_migration": [
        {
            "sg_message_id": "abc.filter",
            "email": ADA,
            "event": "bounce",
            "timestamp": 1700000000,
            "type": "blocked",
        },
    ],
}
STORED_KEYS = {
    "sendgrid": [
        "51daae2c7a95348a7c16c165bc272daed7166fec80c4433879bbdcdfeb209aaf",
        "abaa46352b7bd0d769a0273a4f3584bf61f1c5d74b638bbd604042d1f9beccf1",
    ],
    "generic_v2": [
        "d7a882c6c0584ea2436c52b3de9dccc774e887dad6933185c39dd443e2f92bc7",
        "4e429693b8cd493af309ee46a8e16bd29281bd728c41f43ace75eb6cb0a844c9",
    ],
    "netcore": ["cfc7543ee4fc3ea2c4c7cb1494e521700267927463ad09fab1bd2ad65987eeeb"],
    "netcore_migration": ["ac003b35f90f1cd8a581545e67b007a6b62228e8a6dae1447678f255783bfd26"],
}


@pytest.mark.parametrize("name", list(BODIES))
def test_a_parsed_event_has_the_key_already_stored_for_it(name):
    batch = named(name).parse(json.dumps(BODIES[name]).encode())
    assert [event.dedupe_key for event in batch] == STORED_KEYS[name]
