"""The account's CRM contacts and their import from the account's own Stripe customers (SPEC §6, seed 002)."""
