from django.urls import path

from . import stats_views, views

app_name = "callbacks"

urlpatterns = [
    path("stats/", stats_views.stats, name="stats"),
    path("policy/", views.soft_bounce_policy, name="policy"),
    path("<str:token>/", views.receive, name="receive"),
]
