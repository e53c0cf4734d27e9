from django.urls import path

from . import receive, stats_views, views

app_name = "callbacks"

urlpatterns = [
    path("stats/", stats_views.stats, name="stats"),
    path("policy/", views.soft_bounce_policy, name="policy"),
    path("providers/<int:pk>/sample/", views.send_sample, name="sample"),
    path("providers/<int:pk>/log/", views.callback_log, name="log"),
    path("<str:token>/", receive.receive, name="receive"),
]
