"""Web pages of the service app: the ticket queue, the ticket page and the knowledge base."""

from django.urls import path

from cuore.service import views

app_name = "service"

urlpatterns = [
    path("tickets/", views.ticket_queue, name="queue"),
    path("tickets/<int:ticket_id>/", views.ticket_detail, name="ticket"),
    path("tickets/<int:ticket_id>/header/", views.ticket_header, name="ticket_header"),
    path("tickets/<int:ticket_id>/status/", views.ticket_status, name="ticket_status"),
    path("tickets/<int:ticket_id>/assign/", views.ticket_assign, name="ticket_assign"),
    path("tickets/<int:ticket_id>/update/", views.ticket_update, name="ticket_update"),
    path("kb/", views.article_list, name="articles"),
    path("kb/search/", views.article_picker, name="article_search"),
    path("kb/new/", views.article_create, name="article_create"),
    path("kb/<int:article_id>/", views.article_detail, name="article"),
    path("kb/<int:article_id>/edit/", views.article_edit, name="article_edit"),
    path("kb/<int:article_id>/publish/", views.article_publish, name="article_publish"),
    path("kb/<int:article_id>/unpublish/", views.article_unpublish, name="article_unpublish"),
]
