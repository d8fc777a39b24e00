"""The staff's admin for plans, versions and account subscriptions."""
