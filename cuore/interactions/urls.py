"""Web pages of the interactions app: the customer 360 of contacts and accounts."""

from django.urls import path

from cuore.interactions import views

app_name = "customer"

urlpatterns = [
    path("contacts/<int:contact_id>/", views.contact_detail, name="contact"),
    path("contacts/<int:contact_id>/timeline/", views.contact_timeline, name="timeline"),
    path("contacts/<int:contact_id>/log/", views.contact_log, name="log"),
    path("contacts/<int:contact_id>/profile/", views.contact_profile, name="profile"),
    path("contacts/<int:contact_id>/profile/edit/", views.contact_profile_edit, name="profile_edit"),
    path("accounts/<int:account_id>/", views.account_detail, name="account"),
    path("accounts/<int:account_id>/timeline/", views.account_timeline, name="account_timeline"),
    path("accounts/<int:account_id>/log/", views.account_log, name="account_log"),
]
