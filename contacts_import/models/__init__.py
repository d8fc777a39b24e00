from contacts_import.models.contact import Contact
from contacts_import.models.import_job import ImportJob

__all__ = ["Contact", "ImportJob"]
