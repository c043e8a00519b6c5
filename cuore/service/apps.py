from django.apps import AppConfig


class ServiceConfig(AppConfig):
    name = "cuore.service"
    label = "service"
    verbose_name = "Service"
