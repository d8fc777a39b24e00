"""System checks: catch a bad encryption key at start-up rather than at the first secret written."""

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security)
def field_encryption_key_is_valid(app_configs, **kwargs):
    from core.secrets import fernet_from_settings, field_encryption_keys

    try:
        fernet_from_settings(settings.FIELD_ENCRYPTION_KEY)
    except ValueError as exc:
        return [
            checks.Error(
                str(exc),
                id="core.E001",
                hint="Generate one with Fernet.generate_key(); to rotate, put the new key first: NEW,OLD.",
            )
        ]
    keys = field_encryption_keys(settings.FIELD_ENCRYPTION_KEY)
    if len(set(keys)) != len(keys):
        # Harmless for decryption, but a sign the rotation was done by hand wrongly (NEW,NEW instead of NEW,OLD).
        return [checks.Warning("FIELD_ENCRYPTION_KEY lists the same key twice.", id="core.W001")]
    return []
