"""Top-level URLs: the REST API under /api/v1/."""

from django.urls import path

from config.api import api

urlpatterns = [
    path("api/v1/", api.urls),
]
