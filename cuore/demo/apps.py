from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "cuore.demo"
    label = "demo"
    verbose_name = "Demo"
