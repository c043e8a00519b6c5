"""Web pages of identity resolution: the duplicate review queue, merges and splits, sources."""

from django.urls import path

from cuore.identity import views

app_name = "identity"

urlpatterns = [
    path("identity/review/", views.review_queue, name="review"),
    path("identity/review/<int:item_id>/", views.review_item, name="review_item"),
    path("identity/review/<int:item_id>/accept/", views.review_accept, name="review_accept"),
    path("identity/review/<int:item_id>/reject/", views.review_reject, name="review_reject"),
    path("identity/merges/", views.merges, name="merges"),
    path("identity/merges/<int:event_id>/undo/", views.merge_undo, name="merge_undo"),
    path("identity/sources/", views.sources, name="sources"),
    path("identity/sources/<int:source_id>/", views.source_update, name="source_update"),
    path("identity/records/<int:record_id>/split/", views.record_split, name="record_split"),
    path("identity/contacts/<int:contact_id>/merge/", views.contact_merge, name="contact_merge"),
]
