"""SPF, DKIM and DMARC checks against a real DNS server on loopback (dnslib), never the
machine's resolver: pass, fail, missing and malformed records."""

import base64

import pytest
from django.urls import reverse

from deliverability.domain_checks import check_provider
from deliverability.models import DomainCheck
from deliverability.tasks import check_sending_domains
from tests.factories import EmailProviderFactory

pytestmark = pytest.mark.django_db

KEY = base64.b64encode(bytes(range(162))).decode()  # the shape of a 1024-bit key


def results(provider) -> dict:
    return check_provider(provider).results


def smtp_provider(**kwargs):
    return EmailProviderFactory(host="relay.example.net", from_address="news@example.com", **kwargs)


# --- SPF -------------------------------------------------------------------------------------
def test_spf_passes_when_record_authorises_the_smtp_relay(dns_zone):
    dns_zone(
        """
        example.com. 60 IN TXT "google-site-verification=abc"
        example.com. 60 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
        relay.example.net. 60 IN A 192.0.2.10
        """
    )
    spf = results(smtp_provider())["spf"]
    assert spf["status"] == "pass"
    assert spf["relay_addresses"] == ["192.0.2.10"]


def test_spf_fails_when_relay_is_not_authorised(dns_zone):
    dns_zone(
        """
        example.com. 60 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
        relay.example.net. 60 IN A 198.51.100.7
        """
    )
    assert results(smtp_provider())["spf"]["status"] == "fail"


def test_spf_passes_for_the_relay_through_a_mechanism(dns_zone):
    dns_zone(
        """
        example.com. 60 IN TXT "v=spf1 mx include:_spf.example.com ~all"
        _spf.example.com. 60 IN TXT "v=spf1 a:relay.example.net -all"
        relay.example.net. 60 IN A 192.0.2.10
        """
    )
    assert results(smtp_provider())["spf"]["status"] == "pass"


def test_spf_for_sendgrid_needs_its_documented_include(dns_zone):
    dns_zone(
        """
        example.com. 60 IN TXT "v=spf1 include:_spf.example.com ~all"
        _spf.example.com. 60 IN TXT "v=spf1 include:sendgrid.net -all"
        sendgrid.net. 60 IN TXT "v=spf1 ip4:167.89.0.0/17 -all"
        other.example.org. 60 IN TXT "v=spf1 include:_spf.google.com -all"
        """
    )
    sendgrid = EmailProviderFactory(sendgrid=True, from_address="news@example.com")
    assert results(sendgrid)["spf"]["status"] == "pass"
    gmail = EmailProviderFactory(gmail=True, from_address="me@example.com")
    assert results(gmail)["spf"] == {
        "status": "fail",
        "record": "v=spf1 include:_spf.example.com ~all",
        "relay": "_spf.google.com",
    }


def test_spf_missing(dns_zone):
    dns_zone('example.com. 60 IN TXT "just some text"')
    assert results(smtp_provider())["spf"] == {"status": "missing"}


@pytest.mark.parametrize(
    "records",
    [
        ['"v=spf1 ip4:192.0.2.0/24 -all"', '"v=spf1 include:sendgrid.net -all"'],
        ['"v=spf1 ip4:192.0.2.300 -all"'],
        ['"v=spf1 frobnicate:example.com -all"'],
        ['"v=spf1 include: -all"'],
        ['"v=spf1 a:relay..example.net -all"'],
    ],
    ids=["two records", "bad address", "unknown mechanism", "empty include", "bad name"],
)
def test_spf_malformed(dns_zone, records):
    zone = [f"example.com. 60 IN TXT {record}" for record in records]
    dns_zone("\n".join([*zone, "relay.example.net. 60 IN A 192.0.2.10"]))
    assert results(smtp_provider())["spf"]["status"] == "malformed"


# --- DKIM ------------------------------------------------------------------------------------
def test_dkim_passes_with_an_esp_documented_selector(dns_zone):
    dns_zone(f'google._domainkey.example.com. 60 IN TXT "v=DKIM1; k=rsa; p={KEY}"')
    dkim = results(EmailProviderFactory(gmail=True, from_address="me@example.com"))["dkim"]
    assert dkim["status"] == "pass" and dkim["selector"] == "google"


def test_dkim_tries_each_documented_selector(dns_zone):
    dns_zone(f's2._domainkey.example.com. 60 IN TXT "k=rsa; p={KEY}"')
    dkim = results(EmailProviderFactory(sendgrid=True, from_address="n@example.com"))["dkim"]
    assert dkim["status"] == "pass" and dkim["selector"] == "s2" and dkim["tried"] == ["s1", "s2"]


@pytest.mark.parametrize(
    ("record", "status"),
    [
        (None, "missing"),
        ('"v=DKIM1; k=rsa; p="', "fail"),
        ('"v=DKIM1; k=rsa; p=not*base64!"', "malformed"),
        ('"v=DKIM1; k=rsa"', "malformed"),
    ],
    ids=["missing", "revoked", "bad key", "no key"],
)
def test_dkim_user_selector(dns_zone, record, status):
    zone = 'example.com. 60 IN TXT "v=spf1 -all"'
    if record:
        zone += f"\nmail2024._domainkey.example.com. 60 IN TXT {record}"
    dns_zone(zone)
    provider = smtp_provider()
    DomainCheck.objects.create(provider=provider, dkim_selector="mail2024")
    dkim = results(provider)["dkim"]
    assert dkim["status"] == status
    assert dkim["name"] == "mail2024._domainkey.example.com"


def test_dkim_without_any_selector_asks_for_one(dns_zone):
    dns_zone('example.com. 60 IN TXT "v=spf1 -all"')
    assert results(smtp_provider())["dkim"] == {"status": "warn", "problem": "no_selector"}


# --- DMARC -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("record", "status", "policy"),
    [
        ('"v=DMARC1; p=reject; rua=mailto:d@example.com"', "pass", "reject"),
        ('"v=DMARC1; p=none"', "warn", "none"),
        (None, "missing", None),
        ('"v=DMARC1; p=maybe"', "malformed", None),
        ('"v=DMARC1; rua"', "malformed", None),
    ],
)
def test_dmarc(dns_zone, record, status, policy):
    zone = 'example.com. 60 IN TXT "v=spf1 -all"'
    if record:
        zone += f"\n_dmarc.example.com. 60 IN TXT {record}"
    dns_zone(zone)
    dmarc = results(smtp_provider())["dmarc"]
    assert dmarc["status"] == status
    assert dmarc.get("policy") == policy


def test_unreachable_resolver_says_lookup_failed():
    # settings.test points DNS_RESOLVER at a loopback port where nothing answers.
    checked = results(smtp_provider())
    assert {check["status"] for check in checked.values()} <= {"lookup_failed", "warn"}
    assert checked["spf"]["status"] == "lookup_failed"


# --- page, button, daily re-check ------------------------------------------------------------
ZONE = f"""
example.com. 60 IN TXT "v=spf1 ip4:198.51.100.0/24 -all"
relay.example.net. 60 IN A 192.0.2.10
sel1._domainkey.example.com. 60 IN TXT "v=DKIM1; p={KEY}"
"""


def test_check_now_button_stores_results_and_page_says_what_to_fix(client_logged_in, dns_zone):
    dns_zone(ZONE)
    provider = smtp_provider()
    detail = reverse("providers:detail", args=[provider.pk])
    assert "have not been checked yet" in client_logged_in.get(detail).content.decode()
    response = client_logged_in.post(
        reverse("deliverability:check_domain", args=[provider.pk]), {"dkim_selector": " Sel1 "}
    )
    assert response.status_code == 302 and response.url == detail
    page = client_logged_in.get(detail).content.decode()
    assert 'data-check="spf" data-status="fail"' in page
    assert "does not authorise relay.example.net (192.0.2.10)" in page
    assert 'data-check="dkim" data-status="pass"' in page
    assert 'data-check="dmarc" data-status="missing"' in page
    assert "v=DMARC1; p=none; rua=mailto:dmarc@example.com" in page
    assert DomainCheck.objects.get(provider=provider).dkim_selector == "sel1"


def test_check_now_refuses_bad_selector_and_get(client_logged_in):
    provider = smtp_provider()
    url = reverse("deliverability:check_domain", args=[provider.pk])
    assert client_logged_in.get(url).status_code == 405
    response = client_logged_in.post(url, {"dkim_selector": "bad selector/../"}, follow=True)
    assert response.status_code == 200
    assert "letters, digits, hyphens and dots only" in response.content.decode()
    assert not DomainCheck.objects.exclude(checked_at=None).exists()


def test_daily_task_checks_every_provider(dns_zone):
    dns_zone(ZONE)
    providers = [smtp_provider(), EmailProviderFactory(sendgrid=True, from_address="a@example.com")]
    assert check_sending_domains() == 2
    assert DomainCheck.objects.filter(provider__in=providers).exclude(checked_at=None).count() == 2
