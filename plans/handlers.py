"""The platform's webhook handlers (Relationship.PLATFORM): our billing of accounts."""
