from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "cuore.contacts"
    label = "contacts"
    verbose_name = "Contacts"
