"""Web pages of the interactions app."""

from django.urls import path  # noqa: F401

app_name = "customer"

urlpatterns: list = []
