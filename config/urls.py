"""Top-level URLs: the web application's sections, sign-in, and the REST API under /api/v1/."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from config.api import api
from cuore.users.views import LoginView

urlpatterns = [
    path("api/v1/", api.urls),
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("me/", include("cuore.users.urls")),
    path("", include("cuore.home.urls")),
    path("", include("cuore.interactions.urls")),
    path("", include("cuore.interactions.ticket_urls")),
    path("", include("cuore.contacts.urls")),
    path("", include("cuore.sales.urls")),
    path("", include("cuore.service.urls")),
    path("", include("cuore.orders.urls")),
    path("", include("cuore.analytics.urls")),
    path("", include("cuore.analytics.urls_segments")),
    path("", include("cuore.imports.urls")),
    path("", include("cuore.identity.urls")),
]
