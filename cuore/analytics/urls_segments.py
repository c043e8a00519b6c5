"""Web pages of segments and alert rules (included at the root from ``config/urls.py``)."""

from django.urls import path

from cuore.analytics import views_segments as views

app_name = "segments"

urlpatterns = [
    path("analytics/segments/", views.segment_list, name="list"),
    path("analytics/segments/new/", views.segment_new, name="new"),
    path("analytics/segments/condition/", views.segment_condition, name="condition"),
    path("analytics/segments/preview/", views.segment_preview, name="preview"),
    path("analytics/segments/<int:segment_id>/", views.segment_detail, name="detail"),
    path("analytics/segments/<int:segment_id>/edit/", views.segment_edit, name="edit"),
    path("analytics/segments/<int:segment_id>/delete/", views.segment_delete, name="delete"),
    path("analytics/segments/<int:segment_id>/members/", views.segment_members, name="members"),
    path("analytics/alert-rules/", views.alert_rules, name="alert_rules"),
    path("analytics/alert-rules/<int:rule_id>/", views.alert_rule_update, name="alert_rule_update"),
]
