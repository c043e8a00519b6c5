from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "cuore.core"
    label = "core"
    verbose_name = "Cuore core"
