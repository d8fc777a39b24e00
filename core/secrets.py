"""Secrets at rest: Fernet-encrypted in the database, wrapped in `Secret` in memory so that a repr, a log line
or a serializer can never show the value by accident. Only the Stripe client calls `reveal()`."""

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import models


def fernet_from_settings(key: str | None) -> Fernet:
    if not key:
        raise ValueError("FIELD_ENCRYPTION_KEY is not set.")
    try:
        return Fernet(key.encode() if isinstance(key, str) else key)
    except (ValueError, TypeError) as exc:
        raise ValueError("FIELD_ENCRYPTION_KEY must be 32 url-safe base64-encoded bytes (a Fernet key).") from exc


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    @property
    def last4(self) -> str:
        return self._value[-4:]

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self):
        raise TypeError("Secrets are not serialisable.")


class EncryptedSecretField(models.TextField):
    """Stores a `Secret` as Fernet ciphertext. Not searchable, by design."""

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return None
        try:
            plain = fernet_from_settings(settings.FIELD_ENCRYPTION_KEY).decrypt(value.encode()).decode()
        except InvalidToken as exc:
            raise ValueError(
                f"Cannot decrypt {self.model.__name__}.{self.name}: FIELD_ENCRYPTION_KEY changed?"
            ) from exc
        return Secret(plain)

    def to_python(self, value):
        if value is None or isinstance(value, Secret):
            return value
        return Secret(str(value))

    def get_prep_value(self, value):
        if value is None or value == "":
            return None
        plain = value.reveal() if isinstance(value, Secret) else str(value)
        return fernet_from_settings(settings.FIELD_ENCRYPTION_KEY).encrypt(plain.encode()).decode()

    def value_to_string(self, obj):
        # dumpdata and friends: never the plain value.
        return "********"
