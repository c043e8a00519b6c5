"""Top-level URLs: the REST API under /api/v1/; the site's root leads to the API's interactive docs."""

from django.urls import path
from django.views.generic import RedirectView

from config.api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("", RedirectView.as_view(url="/api/v1/docs", permanent=False)),
]
