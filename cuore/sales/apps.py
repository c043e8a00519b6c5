from django.apps import AppConfig


class SalesConfig(AppConfig):
    name = "cuore.sales"
    label = "sales"
    verbose_name = "Sales"
