"""Web pages of the analytics app."""

from django.urls import path

from cuore.analytics import views

app_name = "analytics"
urlpatterns = [
    path("analytics/", views.overview, name="overview"),
    path("analytics/scores/", views.scores, name="scores"),
    path("analytics/runs/", views.runs, name="runs"),
    path("analytics/runs/start/", views.run_start, name="run_start"),
]
