from django.apps import AppConfig


class ContactsImportConfig(AppConfig):
    name = "contacts_import"
    default_auto_field = "django.db.models.BigAutoField"
