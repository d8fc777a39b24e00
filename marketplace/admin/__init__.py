from marketplace.admin import balance, store  # noqa: F401
