from django.apps import AppConfig


class InteractionsConfig(AppConfig):
    name = "cuore.interactions"
    label = "interactions"
    verbose_name = "Interactions"
