"""The ticket page's conversation, loaded into the service app's ticket page by HTMX (namespace ``ticketconv``)."""

from django.urls import path

from cuore.interactions import ticket_views

app_name = "ticketconv"

urlpatterns = [
    path("tickets/<int:ticket_id>/conversation/", ticket_views.ticket_conversation, name="conversation"),
    path("tickets/<int:ticket_id>/reply/", ticket_views.ticket_reply, name="reply"),
]
