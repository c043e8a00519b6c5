from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "cuore.analytics"
    label = "analytics"
    verbose_name = "Analytics"
