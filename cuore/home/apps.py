from django.apps import AppConfig


class HomeConfig(AppConfig):
    name = "cuore.home"
    label = "home"
    verbose_name = "Home: dashboard and global search"
