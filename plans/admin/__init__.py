"""The staff's admin for our billing of accounts; importing the modules registers their pages."""

from plans.admin import plans, staff_records, subscriptions  # noqa: F401
