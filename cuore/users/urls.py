from django.urls import path

from cuore.users import views

app_name = "users"

urlpatterns = [
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("language/", views.set_language, name="language"),
    path("views/save/", views.saved_view_save, name="view_save"),
    path("views/<int:view_id>/delete/", views.saved_view_delete, name="view_delete"),
]
