"""Middleware of the web tier."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers


def no_store_for_private_pages(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """Signed-in pages (CSV exports included) and the whole admin: `Cache-Control: no-store`,
    so neither a shared proxy nor the browser's history keeps a copy."""

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        if request.user.is_authenticated or is_admin_page(request):
            add_never_cache_headers(response)
        return response

    return middleware


def is_admin_page(request: HttpRequest) -> bool:
    match = getattr(request, "resolver_match", None)
    return match is not None and "admin" in match.namespaces
