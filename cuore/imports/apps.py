from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "cuore.imports"
    label = "imports"
    verbose_name = "Imports"
