"""The home of the web application: the dashboard and the global search (names without a namespace)."""

from django.urls import path

from cuore.home import views

urlpatterns = [
    path("", views.dashboard, name="home"),
    path("search/", views.search, name="search"),
]
