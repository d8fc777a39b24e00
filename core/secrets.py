"""Secrets at rest: Fernet-encrypted in the database, wrapped in `Secret` in memory so that a repr, a log line
or a serializer can never show the value by accident. Only the Stripe client calls `reveal()`.

FIELD_ENCRYPTION_KEY is a comma-separated list of Fernet keys, newest first (`MultiFernet`): values are encrypted
with the first and decrypted with any, so a new key is added in front, `manage.py rotate_field_encryption_key`
re-encrypts every stored secret with it, and only then is the old key removed.

A stored value that no key decrypts does not make its row unreadable: it loads as an `UnreadableSecret`, which
raises `SecretUnreadable` (409) when used and is written back unchanged when its row is saved. One account's bad
secret then fails that account's own work with a clear reason, never a batch or a page that lists others.
"""

import base64
import binascii
import functools
from dataclasses import dataclass
from dataclasses import field as dc_field

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import connections, models, router, transaction

from core import errors


def field_encryption_keys(value: str | bytes | None) -> list[str]:
    """The keys of a FIELD_ENCRYPTION_KEY value, newest first (blank entries ignored)."""
    if isinstance(value, bytes):
        value = value.decode()
    return [key.strip() for key in (value or "").split(",") if key.strip()]


@functools.lru_cache(maxsize=8)
def _multi_fernet(value: str) -> MultiFernet:
    keys = field_encryption_keys(value)
    if not keys:
        raise ValueError("FIELD_ENCRYPTION_KEY is not set.")
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key.encode()))
        except (ValueError, TypeError, binascii.Error):
            # Never the key itself in the message: it ends up in logs and `manage.py check` output.
            raise ValueError(
                f"FIELD_ENCRYPTION_KEY: key {position} of {len(keys)} is not a Fernet key "
                "(32 url-safe base64-encoded bytes; several keys are separated by commas, newest first)."
            ) from None
    return MultiFernet(fernets)


def fernet_from_settings(key: str | bytes | None) -> MultiFernet:
    """The keys of a FIELD_ENCRYPTION_KEY value: encrypts with the first, decrypts with any.
    Raises ValueError, saying which key is malformed (by position, never by value)."""
    if isinstance(key, bytes):
        key = key.decode()
    return _multi_fernet(key or "")


def field_fernet() -> MultiFernet:
    return fernet_from_settings(settings.FIELD_ENCRYPTION_KEY)


def looks_encrypted(value: str) -> bool:
    """Whether `value` has the shape of a Fernet token (version byte 0x80, timestamp, IV, whole AES blocks, HMAC).
    Stripe credentials (sk_..., rk_..., whsec_...) never do."""
    try:
        raw = base64.urlsafe_b64decode(value.encode("ascii"))
    except (ValueError, UnicodeEncodeError, binascii.Error):
        return False
    return len(raw) >= 73 and raw[0] == 0x80 and (len(raw) - 57) % 16 == 0


class SecretUnreadable(errors.Conflict):
    code = "secret_unreadable"


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
        return type(other) is type(self) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self):
        raise TypeError("Secrets are not serialisable.")


class UnreadableSecret(Secret):
    """A stored secret that no key of FIELD_ENCRYPTION_KEY decrypts (a key was removed before the rotation
    re-encrypted it, or the row came from another deployment). It holds the ciphertext, so saving its row or
    dumping it keeps the stored value as it was; using it raises SecretUnreadable."""

    __slots__ = ("label",)

    def __init__(self, ciphertext: str, label: str = "secret"):
        super().__init__(ciphertext)
        self.label = label

    @property
    def ciphertext(self) -> str:
        return self._value

    def reveal(self) -> str:
        raise SecretUnreadable(
            f"The stored {self.label} cannot be decrypted with FIELD_ENCRYPTION_KEY (was a key removed before "
            "`manage.py rotate_field_encryption_key` re-encrypted it?). Store it again to use it.",
            details={"secret": self.label},
        )

    @property
    def last4(self) -> str:
        return "????"

    def __repr__(self) -> str:
        return "UnreadableSecret('********')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return True  # a value is stored: the connection is not "without a key", its key is unusable


class EncryptedSecretField(models.TextField):
    """Stores a `Secret` as Fernet ciphertext. Not searchable, by design.

    `dumpdata` writes the ciphertext (never the plain value, never a mask that would restore as a wrong secret);
    `loaddata` recognises a Fernet token and decrypts it, so a fixture backup restores while one of its keys is
    still in FIELD_ENCRYPTION_KEY."""

    def _label(self) -> str:
        return f"{self.model._meta.verbose_name} {self.verbose_name}" if hasattr(self, "model") else self.name

    def _decrypt(self, ciphertext: str) -> Secret:
        try:
            return Secret(field_fernet().decrypt(ciphertext.encode()).decode())
        except InvalidToken:
            return UnreadableSecret(ciphertext, self._label())

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return None
        return self._decrypt(value)

    def to_python(self, value):
        if value is None or isinstance(value, Secret):
            return value
        value = str(value)
        # A ciphertext comes from a fixture (dumpdata); anything else is a plain value being set.
        return self._decrypt(value) if looks_encrypted(value) else Secret(value)

    def get_prep_value(self, value):
        if value is None or value == "":
            return None
        if isinstance(value, UnreadableSecret):
            return value.ciphertext  # kept as stored: a later key list may read it again
        plain = value.reveal() if isinstance(value, Secret) else str(value)
        return field_fernet().encrypt(plain.encode()).decode()

    def value_to_string(self, obj):
        # dumpdata: the ciphertext, under the current first key.
        return self.get_prep_value(self.value_from_object(obj))


# --- rotation -----------------------------------------------------------------------------------------------


@dataclass
class RotationResult:
    fields: list[str] = dc_field(default_factory=list)  # "app_label.Model.field"
    rotated: int = 0  # re-encrypted with the newest key
    current: int = 0  # already under the newest key: left alone
    changed_meanwhile: int = 0  # written by someone else between our read and our write: left to that writer
    unreadable: list[str] = dc_field(default_factory=list)  # "app_label.Model.field pk=…", left as stored


def encrypted_fields() -> list[tuple[type[models.Model], EncryptedSecretField]]:
    """Every EncryptedSecretField of every installed model (through the app registry, so an app added later is
    covered without being named here)."""
    from django.apps import apps

    return [
        (model, field)
        for model in apps.get_models()
        if model._meta.managed and not model._meta.proxy
        for field in model._meta.concrete_fields
        if isinstance(field, EncryptedSecretField)
    ]


def secrets_rotate(*, batch_size: int = 500) -> RotationResult:
    """Re-encrypts every stored secret with the first key of FIELD_ENCRYPTION_KEY, `batch_size` rows per
    transaction, reading and writing the ciphertext only (no `Secret` is built). Idempotent: a value already
    under the newest key is left alone. A value no key decrypts is reported and left as it is, never a reason
    to stop. Every process must already run with the new key list, or one with the old list could write a
    secret under the old key after its row was rotated."""
    keys = field_encryption_keys(settings.FIELD_ENCRYPTION_KEY)
    every_key, newest = field_fernet(), Fernet(keys[0].encode())
    result = RotationResult()
    for model, field in encrypted_fields():
        result.fields.append(f"{model._meta.label}.{field.name}")
        last_pk = None
        while True:
            rows = _rotate_batch(model, field, after=last_pk, size=batch_size, keys=(newest, every_key), result=result)
            if len(rows) < batch_size:
                break
            last_pk = rows[-1][0]
    return result


def _rotate_batch(model, field, *, after, size: int, keys: tuple[Fernet, MultiFernet], result: RotationResult):
    """One batch of rows past `after` (by primary key), in one transaction; answers the rows it read."""
    newest, every_key = keys
    conn = connections[router.db_for_write(model)]
    quote = conn.ops.quote_name
    table, column, pk_column = quote(model._meta.db_table), quote(field.column), quote(model._meta.pk.column)
    past = f"AND {pk_column} > %s " if after is not None else ""
    with transaction.atomic(using=conn.alias), conn.cursor() as cursor:
        cursor.execute(
            f"SELECT {pk_column}, {column} FROM {table} WHERE {column} IS NOT NULL AND {column} <> '' "
            f"{past}ORDER BY {pk_column} LIMIT %s",
            ([after] if after is not None else []) + [size],
        )
        rows = cursor.fetchall()
        for pk, ciphertext in rows:
            token = ciphertext.encode()
            try:
                newest.decrypt(token)
                result.current += 1
                continue
            except InvalidToken:
                pass
            try:
                rotated = every_key.rotate(token).decode()
            except InvalidToken:
                result.unreadable.append(f"{model._meta.label}.{field.name} pk={pk}")
                continue
            # Only if nobody wrote the value meanwhile: a fresh write is under the newest key already.
            cursor.execute(
                f"UPDATE {table} SET {column} = %s WHERE {pk_column} = %s AND {column} = %s",
                [rotated, pk, ciphertext],
            )
            if cursor.rowcount:
                result.rotated += 1
            else:
                result.changed_meanwhile += 1
    return rows
