"""Web pages of imports: the list, the upload, the column mapping with its preview, the progress and summary."""

from django.urls import path

from cuore.imports import views

app_name = "imports"

urlpatterns = [
    path("imports/", views.import_list, name="list"),
    path("imports/new/", views.import_new, name="new"),
    path("imports/<int:import_id>/", views.import_detail, name="detail"),
    path("imports/<int:import_id>/mapping/", views.import_mapping, name="mapping"),
    path("imports/<int:import_id>/start/", views.import_start, name="start"),
    path("imports/<int:import_id>/progress/", views.import_progress, name="progress"),
    path("imports/<int:import_id>/failed/", views.import_failed_rows, name="failed_rows"),
    path("imports/<int:import_id>/failed.csv", views.import_failed_csv, name="failed_csv"),
]
