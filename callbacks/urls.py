from django.urls import path

from . import receive, stats_views, views
from .mailbox import views as mailbox_views

app_name = "callbacks"

urlpatterns = [
    path("stats/", stats_views.stats, name="stats"),
    path("policy/", views.soft_bounce_policy, name="policy"),
    path("providers/<int:pk>/sample/", views.send_sample, name="sample"),
    path("providers/<int:pk>/log/", views.callback_log, name="log"),
    path("providers/<int:pk>/mailbox/", mailbox_views.mailbox_settings, name="mailbox"),
    path("providers/<int:pk>/mailbox/poll/", mailbox_views.mailbox_poll_now, name="mailbox_poll"),
    path("<str:token>/", receive.receive, name="receive"),
]
