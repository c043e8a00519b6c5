"""The home of the web application: the dashboard and the global search (names without a namespace)."""

from django.urls import path
from django.views.generic import RedirectView

urlpatterns = [
    # Until the dashboard is in place, home is the contact list.
    path("", RedirectView.as_view(pattern_name="contacts:list", permanent=False), name="home"),
]
