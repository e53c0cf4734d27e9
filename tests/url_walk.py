"""The project's named URLs, walked from the resolver, for tests that visit every page."""

from collections.abc import Iterator

from django.urls import URLPattern, URLResolver, get_resolver

# Open without signing in: authentication pages, the health check, the metrics (a token or an
# allow-list of their own), and the token URLs that ESPs and email recipients use.
PUBLIC_URL_NAMES = frozenset(
    {
        "login",
        "logout",
        "health",
        "metrics",
        "callbacks:receive",
        "profiles:preferences",
        "profiles:one_click_unsubscribe",
    }
)


def named_urls(patterns=None, namespace: str = "") -> Iterator[tuple[str, dict]]:
    """Every named URL outside Django admin: (namespaced name, {argument: converter})."""
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace == "admin":
                continue
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from named_urls(entry.url_patterns, inner)
        elif isinstance(entry, URLPattern) and entry.name:
            yield namespace + entry.name, dict(entry.pattern.converters)


def dashboard_urls() -> list[tuple[str, dict]]:
    """The named URLs that need a signed-in user, sorted by name."""
    return sorted(
        ((name, converters) for name, converters in named_urls() if name not in PUBLIC_URL_NAMES),
        key=lambda item: item[0],
    )
