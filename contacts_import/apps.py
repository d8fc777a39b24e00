from django.apps import AppConfig


class ContactsImportConfig(AppConfig):
    name = "contacts_import"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Contacts and their import"

    def ready(self) -> None:
        # Billing lives beneath this app and never imports it: it offers a hook so that linking a Stripe customer
        # to a contact that does not exist in the account is refused (billing/services/customer_billing.py).
        from billing.services.customer_billing import contact_check_register
        from contacts_import.selectors.contacts import contact_exists

        contact_check_register(contact_exists)
