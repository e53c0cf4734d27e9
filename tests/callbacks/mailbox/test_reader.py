"""The bounce corpus: each real-shaped message and what the reader makes of it."""

from pathlib import Path

import pytest

from callbacks.mailbox.reader import Verdict, read_message
from callbacks.models import EventKind

CORPUS = Path(__file__).parent / "corpus"

# file, verdict, [(recipient, kind)], meta of the returned original
EXPECTED = [
    (
        "postfix_hard.eml",
        Verdict.BOUNCE,
        [("gone@customer.test", EventKind.HARD_BOUNCE)],
        "gone@customer.test|41|7",
    ),
    (
        "postfix_delayed.eml",
        Verdict.BOUNCE,
        [("slow@customer.test", EventKind.SOFT_BOUNCE)],
        "slow@customer.test|42|7",
    ),
    (
        "exim_hard.eml",
        Verdict.BOUNCE,
        [("nobody@customer.test", EventKind.HARD_BOUNCE)],
        "nobody@customer.test|43|7",
    ),
    (
        "gmail_hard.eml",
        Verdict.BOUNCE,
        [("missing@gmail.com", EventKind.HARD_BOUNCE)],
        "missing@gmail.com|44|7",
    ),
    (
        "microsoft_hard.eml",
        Verdict.BOUNCE,
        [("someone@hotmail.test", EventKind.HARD_BOUNCE)],
        "someone@hotmail.test|45|7",
    ),
    (
        "yahoo_hard.eml",
        Verdict.BOUNCE,
        [("closed@yahoo.com", EventKind.HARD_BOUNCE)],
        "closed@yahoo.com|46|7",
    ),
    (
        "arf_complaint.eml",
        Verdict.COMPLAINT,
        [("angry@yahoo.test", EventKind.SPAM)],
        "angry@yahoo.test|47|7",
    ),
    # "permanent fatal errors" in words, but only a 452 as a code: no evidence, so soft.
    (
        "unknown_failure.eml",
        Verdict.BOUNCE,
        [("maybe@smallhost.test", EventKind.SOFT_BOUNCE)],
        "",
    ),
    ("auto_reply.eml", Verdict.AUTO_REPLY, [], ""),
    ("malformed.eml", Verdict.UNREADABLE, [], ""),
]


def test_every_corpus_message_has_an_expectation():
    assert sorted(path.name for path in CORPUS.iterdir()) == sorted(row[0] for row in EXPECTED)


@pytest.mark.parametrize(("name", "verdict", "findings", "meta"), EXPECTED, ids=lambda v: str(v))
def test_corpus_classification(name, verdict, findings, meta):
    reading = read_message((CORPUS / name).read_bytes())
    assert reading.verdict == verdict
    assert [(finding.email, finding.kind) for finding in reading.findings] == findings
    assert reading.meta == meta


def test_a_failed_dsn_without_a_permanent_status_is_soft():
    raw = (CORPUS / "postfix_hard.eml").read_bytes().replace(b"Status: 5.1.1", b"Status: 4.2.2")
    [finding] = read_message(raw).findings
    assert finding.kind == EventKind.SOFT_BOUNCE


def test_a_delivered_dsn_is_not_a_bounce():
    raw = (
        (CORPUS / "postfix_hard.eml").read_bytes().replace(b"Action: failed", b"Action: delivered")
    )
    assert read_message(raw).verdict == Verdict.NOT_A_BOUNCE


def test_an_ordinary_reply_is_not_a_bounce():
    raw = b"From: a@customer.test\r\nSubject: Re: digest\r\n\r\nThanks, see you then.\r\n"
    assert read_message(raw).verdict == Verdict.NOT_A_BOUNCE
