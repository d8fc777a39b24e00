"""The SPA's API for the account's plan, and the staff's plan API."""
