"""Web pages of the contacts app: the contact and account lists (their 360 pages live in interactions)."""

from django.urls import path

from cuore.contacts import views

app_name = "contacts"

urlpatterns = [
    path("contacts/", views.contact_list, name="list"),
    path("contacts/bulk/", views.contact_bulk, name="bulk"),
    path("accounts/", views.account_list, name="accounts"),
    path("accounts/bulk/", views.account_bulk, name="accounts_bulk"),
]
