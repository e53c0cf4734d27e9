"""The provider page's callback panel and the delete page read `callbacks.health` through these.

Usage (``templates/callbacks/_provider_callbacks_panel.html``)::

    {% load callback_tags %}
    {% callback_health provider as health %}
    {% recent_callback_logs provider 10 as logs %}
"""

from django import template

from .. import health

register = template.Library()

register.simple_tag(health.callback_health, name="callback_health")
register.simple_tag(health.recent_logs, name="recent_callback_logs")
register.simple_tag(health.waiting_batches, name="waiting_callback_batches")
