from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "cuore.users"
    label = "users"
    verbose_name = "Users"
