"""Field validators shared by the provider forms."""

import ipaddress
import re

from django.conf import settings
from django.core.exceptions import ValidationError

from providers import network

_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def validate_hostname(value: str) -> None:
    """A bare host name or IP address, as an SMTP client connects to it."""
    if not value:
        return
    if any(ch.isspace() for ch in value):
        raise ValidationError("A host name cannot contain spaces.", code="host_spaces")
    if "://" in value or "/" in value:
        raise ValidationError(
            "Enter only the host name (for example smtp.example.com), without smtp:// or a path.",
            code="host_scheme",
        )
    bare = value.removeprefix("[").removesuffix("]")
    try:
        ipaddress.ip_address(bare)
    except ValueError:
        _validate_host_name_syntax(value)
    if not settings.PROVIDER_HOSTS_ALLOW_PRIVATE:
        _refuse_internal_addresses(bare)


def _refuse_internal_addresses(host: str) -> None:
    try:
        network.check_host(host)
    except network.ForbiddenHost as exc:
        raise ValidationError(str(exc), code="host_internal") from exc
    except OSError as exc:
        raise ValidationError(
            "Postdesk could not look up this host name. Check the spelling.",
            code="host_unresolvable",
        ) from exc


def _validate_host_name_syntax(value: str) -> None:
    if ":" in value:
        raise ValidationError(
            "Enter the port in the Port field, not after the host name.", code="host_port"
        )
    name = value.removesuffix(".")
    if len(name) > 253:
        raise ValidationError("A host name is at most 253 characters long.", code="host_length")
    labels = name.split(".")
    for label in labels:
        if not _HOST_LABEL.match(label):
            raise ValidationError(
                "“%(value)s” is not a valid host name: each part between dots uses only "
                "letters, digits and hyphens, and cannot start or end with a hyphen.",
                code="host_label",
                params={"value": value},
            )
    if labels[-1].isdigit():
        raise ValidationError(
            "“%(value)s” is neither a valid IP address nor a host name.",
            code="host_numeric",
            params={"value": value},
        )
