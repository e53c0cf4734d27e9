"""`{% provider_rates_for provider as rates %}`: a provider's rates, read for all at once.

The first use on a page reads every provider's rates in one query and keeps them on the
request, so a list of providers costs no query per row.
"""

from django import template

from ..models import Thresholds
from ..rates import NO_EVENTS, ProviderRates, provider_rates, readings_for

register = template.Library()


def all_rates(request) -> tuple[dict[int, ProviderRates], Thresholds]:
    cached = getattr(request, "_deliverability_rates", None)
    if cached is None:
        thresholds = Thresholds.current()
        cached = (provider_rates(thresholds=thresholds), thresholds)
        request._deliverability_rates = cached
    return cached


@register.simple_tag(takes_context=True)
def provider_rates_for(context, provider) -> ProviderRates:
    """`provider` is an EmailProvider or its id."""
    pk = getattr(provider, "pk", provider)
    rates, thresholds = all_rates(context["request"])
    if pk not in rates:
        rates[pk] = ProviderRates(pk, readings_for(NO_EVENTS, thresholds))
    return rates[pk]
