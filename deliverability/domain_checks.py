"""SPF, DKIM and DMARC checks of a provider's From domain, with dnspython.

Each check returns a plain dict stored on `DomainCheck.results`: a `status` (pass, warn, fail,
missing, malformed, lookup_failed) plus the record and the facts the page needs to say what to
fix; the words themselves live in the template.
"""

import base64
import binascii
import ipaddress

import dns.exception
import dns.resolver
from django.conf import settings
from django.utils import timezone

from providers.models import EmailProvider

from .models import DomainCheck

# What each kind's documentation asks senders to publish. SMTP relays are judged by the relay
# host's addresses instead, since Postdesk knows the host.
SPF_INCLUDES = {
    EmailProvider.Kind.GMAIL: "_spf.google.com",
    EmailProvider.Kind.SENDGRID: "sendgrid.net",
    EmailProvider.Kind.NETCORE: "_spf.netcorecloud.com",
}
DKIM_SELECTORS = {
    EmailProvider.Kind.GMAIL: ["google"],
    EmailProvider.Kind.SENDGRID: ["s1", "s2"],
}
MAX_SPF_LOOKUPS = 10  # RFC 7208 §4.6.4
DMARC_POLICIES = {"none", "quarantine", "reject"}


class LookupFailed(Exception):
    """The resolver did not answer (timeout, SERVFAIL): nothing can be said about the record."""


def resolver() -> dns.resolver.Resolver:
    """The resolver from DNS_RESOLVER ("host" or "host:port"), else the system's."""
    address = settings.DNS_RESOLVER
    if not address:
        found = dns.resolver.Resolver()
    else:
        host, _, port = address.rpartition(":") if address.count(":") == 1 else (address, "", "")
        found = dns.resolver.Resolver(configure=False)
        found.nameservers = [host]
        found.port = int(port or 53)
    found.lifetime = settings.DNS_TIMEOUT_SECONDS
    found.cache = None
    return found


def lookup(res: dns.resolver.Resolver, name: str, rdtype: str) -> list:
    """The answer's records, or [] when the name or the type does not exist."""
    try:
        return list(res.resolve(name, rdtype, search=False))
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
        raise LookupFailed(str(exc)) from exc
    except dns.exception.DNSException as exc:  # a name no DNS can hold, read from a record
        raise ValueError(name) from exc


def txt_records(res, name: str) -> list[str]:
    return [
        b"".join(record.strings).decode("utf-8", "replace") for record in lookup(res, name, "TXT")
    ]


# --- SPF -------------------------------------------------------------------------------------
def spf_records(res, domain: str) -> list[str]:
    return [txt for txt in txt_records(res, domain) if txt.lower().split(" ")[0] == "v=spf1"]


def spf_terms(record: str) -> list[tuple[str, str, str]]:
    """(qualifier, mechanism, value) for each term; raises ValueError for an unknown one."""
    terms = []
    for term in record.split()[1:]:
        if "=" in term.split(":")[0]:  # a modifier (redirect=, exp=)
            name, _, value = term.partition("=")
            terms.append(("", name.lower() + "=", value))
            continue
        qualifier = term[0] if term[0] in "+-~?" else "+"
        body = term.lstrip("+-~?")
        name, _, value = body.partition(":")
        name = name.split("/")[0].lower()
        if name not in {"all", "include", "a", "mx", "ip4", "ip6", "exists", "ptr"}:
            raise ValueError(term)
        if name in {"ip4", "ip6"}:
            ipaddress.ip_network(value, strict=False)
        if name in {"include", "exists"} and not value:
            raise ValueError(term)
        terms.append((qualifier, name, value))
    return terms


class SpfWalk:
    """Follows includes and evaluates a record for some addresses, counting DNS lookups."""

    def __init__(self, res) -> None:
        self.res = res
        self.lookups = 0
        self.included: set[str] = set()

    def record(self, domain: str) -> str | None:
        records = spf_records(self.res, domain)
        if len(records) != 1:
            return None
        return records[0]

    def count_lookup(self) -> None:
        self.lookups += 1
        if self.lookups > MAX_SPF_LOOKUPS:
            raise ValueError("too many DNS lookups")

    def addresses(self, name: str) -> list:
        return [
            ipaddress.ip_address(r.address)
            for rdtype in ("A", "AAAA")
            for r in lookup(self.res, name, rdtype)
        ]

    def matches(self, domain: str, ips: list, record: str | None = None) -> str | None:
        """The qualifier of the first term matching any of `ips` (None: no match)."""
        record = record if record is not None else self.record(domain)
        if record is None:
            return None
        for qualifier, name, value in spf_terms(record):
            if name == "include":
                self.count_lookup()
                self.included.add(value.lower().rstrip("."))
                if self.matches(value, ips) == "+":
                    return qualifier
            elif name == "redirect=":
                self.count_lookup()
                self.included.add(value.lower().rstrip("."))
                return self.matches(value, ips)
            elif name in {"ip4", "ip6"}:
                network = ipaddress.ip_network(value, strict=False)
                if any(ip.version == network.version and ip in network for ip in ips):
                    return qualifier
            elif name == "a":
                self.count_lookup()
                if set(self.addresses(value or domain)) & set(ips):
                    return qualifier
            elif name == "mx":
                self.count_lookup()
                hosts = [str(r.exchange) for r in lookup(self.res, value or domain, "MX")]
                if any(set(self.addresses(host)) & set(ips) for host in hosts):
                    return qualifier
            elif name == "all":
                return qualifier
        return None


def check_spf(res, domain: str, provider: EmailProvider) -> dict:
    records = spf_records(res, domain)
    if not records:
        return {"status": "missing"}
    if len(records) > 1:
        return {"status": "malformed", "problem": "several", "records": records}
    record = records[0]
    walk = SpfWalk(res)
    include = SPF_INCLUDES.get(provider.kind)
    relay = include or provider.host
    result = {"record": record, "relay": relay}
    try:
        spf_terms(record)
        if include:
            walk.matches(domain, [], record)
            authorised = include in walk.included
        elif provider.host:
            ips = walk.addresses(provider.host)
            result["relay_addresses"] = [str(ip) for ip in ips]
            authorised = bool(ips) and walk.matches(domain, ips, record) == "+"
        else:
            return {**result, "status": "warn", "problem": "relay_unknown"}
    except ValueError as exc:
        return {**result, "status": "malformed", "problem": "syntax", "term": str(exc)}
    return {**result, "status": "pass" if authorised else "fail"}


# --- DKIM ------------------------------------------------------------------------------------
def dkim_tags(record: str) -> dict[str, str]:
    tags = {}
    for part in record.split(";"):
        if part.strip():
            name, equals, value = part.partition("=")
            if not equals:
                raise ValueError(part)
            tags[name.strip().lower()] = "".join(value.split())
    return tags


def check_dkim_selector(res, domain: str, selector: str) -> dict:
    name = f"{selector}._domainkey.{domain}"
    records = txt_records(res, name)
    if not records:
        return {"selector": selector, "status": "missing", "name": name}
    record = records[0]
    result = {"selector": selector, "name": name, "record": record}
    try:
        tags = dkim_tags(record)
        if tags.get("v", "DKIM1") != "DKIM1" or "p" not in tags:
            raise ValueError("no key")
        if tags["p"] == "":
            return {**result, "status": "fail", "problem": "revoked"}
        base64.b64decode(tags["p"], validate=True)
    except (ValueError, binascii.Error):
        return {**result, "status": "malformed"}
    return {**result, "status": "pass"}


def check_dkim(res, domain: str, provider: EmailProvider, selector: str) -> dict:
    selectors = [selector] if selector else DKIM_SELECTORS.get(provider.kind, [])
    if not selectors:
        return {"status": "warn", "problem": "no_selector"}
    found = [check_dkim_selector(res, domain, name) for name in selectors]
    best = next((f for f in found if f["status"] == "pass"), found[0])
    return {**best, "tried": selectors}


# --- DMARC -----------------------------------------------------------------------------------
def check_dmarc(res, domain: str) -> dict:
    records = [
        txt for txt in txt_records(res, f"_dmarc.{domain}") if txt.lower().startswith("v=dmarc1")
    ]
    if not records:
        return {"status": "missing"}
    if len(records) > 1:
        return {"status": "malformed", "problem": "several", "records": records}
    record = records[0]
    try:
        tags = dkim_tags(record)
    except ValueError:
        return {"status": "malformed", "record": record}
    policy = tags.get("p", "").lower()
    if policy not in DMARC_POLICIES:
        return {"status": "malformed", "record": record, "problem": "policy"}
    status = "warn" if policy == "none" else "pass"
    return {"status": status, "record": record, "policy": policy}


# --- the whole check -------------------------------------------------------------------------
def guarded(check, *args) -> dict:
    try:
        return check(*args)
    except LookupFailed:
        return {"status": "lookup_failed"}
    except ValueError:
        return {"status": "malformed"}


def check_domain(domain_check: DomainCheck) -> DomainCheck:
    """Run the three checks for the provider's current From domain and store the results."""
    provider = domain_check.provider
    domain = provider.from_address.rpartition("@")[2].lower()
    res = resolver()
    domain_check.domain = domain
    domain_check.results = {
        "spf": guarded(check_spf, res, domain, provider),
        "dkim": guarded(check_dkim, res, domain, provider, domain_check.dkim_selector),
        "dmarc": guarded(check_dmarc, res, domain),
    }
    domain_check.checked_at = timezone.now()
    domain_check.save()
    return domain_check


def check_provider(provider: EmailProvider) -> DomainCheck:
    domain_check, _ = DomainCheck.objects.get_or_create(provider=provider)
    domain_check.provider = provider
    return check_domain(domain_check)
