from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "cuore.identity"
    label = "identity"
    verbose_name = "Identity"
