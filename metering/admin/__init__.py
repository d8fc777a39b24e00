"""The staff's admin for metering: usage weeks and ledgers read-only; an adjustment form on a balance writes a
ledger entry (through the service, never by editing a row)."""

from metering.admin import extras, usage  # noqa: F401
