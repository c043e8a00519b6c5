from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "cuore.orders"
    label = "orders"
    verbose_name = "Orders"
