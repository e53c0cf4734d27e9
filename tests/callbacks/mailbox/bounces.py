"""Bounces from the corpus, re-addressed for a test."""

import re
from pathlib import Path

CORPUS = Path(__file__).parent / "corpus"


def bounce_for(email: str, *, meta: str = "campaign-88", name: str = "postfix_hard.eml") -> bytes:
    """The corpus message `name` (Postfix, 5.1.1) bouncing `email`, its original sent with
    `meta`, and a Message-ID of its own."""
    raw = (CORPUS / name).read_bytes().replace(b"gone@customer.test", email.encode())
    raw = re.sub(rb"X-Postdesk-Meta: [^\n]*", b"X-Postdesk-Meta: " + meta.encode(), raw)
    token = re.sub(r"\W", ".", email).encode()
    return raw.replace(b"@mx.postdesk.test>", b"." + token + b"@mx.postdesk.test>", 1)
