import logging
import pickle
from io import StringIO

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import CommandError, call_command
from django.db import connection
from django.views.debug import ExceptionReporter

from billing.models import StripeConnection
from billing.services.connection import connection_connect
from core import errors
from core.checks import field_encryption_key_is_valid
from core.secrets import Secret, SecretUnreadable, UnreadableSecret, secrets_rotate
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

KEY = "sk_test_51SecretValueThatMustNeverLeak0000"


@pytest.fixture
def stored(account):
    return StripeConnection.objects.create(
        account=account, auth_mode="secret_key", secret_key=KEY, webhook_secret="whsec_never_shown_123"
    )


def test_secret_is_encrypted_at_rest(stored):
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret_key, webhook_secret FROM billing_stripeconnection WHERE id = %s", [stored.pk])
        raw_key, raw_webhook = cursor.fetchone()
    assert KEY not in raw_key and "whsec_never_shown" not in raw_webhook
    reloaded = StripeConnection.objects.get(pk=stored.pk)
    assert reloaded.secret_key.reveal() == KEY
    assert reloaded.webhook_secret.reveal() == "whsec_never_shown_123"


def test_secret_never_shows_in_repr_str_or_pickle(stored):
    reloaded = StripeConnection.objects.get(pk=stored.pk)
    assert KEY not in repr(reloaded.secret_key)
    assert KEY not in f"{reloaded.secret_key}"
    assert KEY not in repr(reloaded.__dict__)
    with pytest.raises(TypeError):
        pickle.dumps(Secret(KEY))


def test_secret_never_in_logs_when_used(stored, caplog, settings):
    from billing.stripe.client import StripeClient

    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens: the call fails and logs
    settings.STRIPE_MAX_NETWORK_RETRIES = 1  # the SDK logs its retry too
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="stripe")  # the SDK's own request lines (WARNING in settings)
    client = StripeClient.for_connection(StripeConnection.objects.get(pk=stored.pk))
    with pytest.raises(Exception):  # noqa: B017 - the error type is tested in test_stripe_client
        client.retrieve_account()

    # Only the lines the code under test wrote: ours (the client's warning) and the SDK's.
    ours = [r for r in caplog.records if r.name == "billing.stripe.client"]
    sdk = [r for r in caplog.records if r.name.startswith("stripe")]
    assert any("Stripe unreachable on /v1/account" in r.getMessage() for r in ours)
    assert sdk, "the SDK logged nothing: the test no longer looks at its lines"
    assert all(KEY not in r.getMessage() and KEY not in str(r.args) for r in caplog.records)
    assert KEY not in caplog.text
    assert KEY not in repr(client)


def test_admin_change_page_never_shows_the_secret(stored, admin_client):
    page = admin_client.get(f"/admin/billing/stripeconnection/{stored.pk}/change/")
    assert page.status_code == 200
    assert KEY not in page.content.decode()
    assert "whsec_never_shown" not in page.content.decode()


# --- key lists and rotation --------------------------------------------------------------------------------------

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()
LOST_KEY = Fernet.generate_key().decode()


def raw_columns(pk) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret_key, webhook_secret FROM billing_stripeconnection WHERE id = %s", [pk])
        return cursor.fetchone()


def connections_under(settings, key: str, count: int, *, webhook_secret: str | None = "whsec_rotated"):
    settings.FIELD_ENCRYPTION_KEY = key
    return [
        StripeConnection.objects.create(
            account=AccountFactory(), auth_mode="secret_key", secret_key=f"{KEY}{n}", webhook_secret=webhook_secret
        )
        for n in range(count)
    ]


def test_a_key_list_encrypts_with_the_first_and_decrypts_with_any(settings):
    (old,) = connections_under(settings, OLD_KEY, 1)
    settings.FIELD_ENCRYPTION_KEY = f" {NEW_KEY} , {OLD_KEY} "  # spaces around the commas are forgiven
    assert StripeConnection.objects.get(pk=old.pk).secret_key.reveal() == f"{KEY}0"

    old.webhook_secret = Secret("whsec_written_after")
    old.save()
    _, raw_webhook = raw_columns(old.pk)
    assert Fernet(NEW_KEY.encode()).decrypt(raw_webhook.encode()) == b"whsec_written_after"
    with pytest.raises(InvalidToken):
        Fernet(OLD_KEY.encode()).decrypt(raw_webhook.encode())


def test_a_malformed_key_is_named_by_position_never_by_value(settings):
    settings.FIELD_ENCRYPTION_KEY = f"{NEW_KEY},not-a-fernet-key-at-all"
    (error,) = field_encryption_key_is_valid(None)
    assert error.id == "core.E001" and "key 2 of 2" in error.msg and "not-a-fernet-key" not in error.msg

    settings.FIELD_ENCRYPTION_KEY = f"{NEW_KEY},{NEW_KEY}"
    assert [w.id for w in field_encryption_key_is_valid(None)] == ["core.W001"]
    settings.FIELD_ENCRYPTION_KEY = f"{NEW_KEY},{OLD_KEY}"
    assert field_encryption_key_is_valid(None) == []


def test_rotation_re_encrypts_every_secret_in_batches_so_the_old_key_can_go(settings):
    rows = connections_under(settings, OLD_KEY, 4)
    rows.append(connections_under(settings, OLD_KEY, 1, webhook_secret=None)[0])  # a NULL stays NULL
    before = {row.pk: raw_columns(row.pk) for row in rows}
    plain = {row.pk: (str(row.secret_key), row.webhook_secret) for row in rows}  # as created: plain strings

    settings.FIELD_ENCRYPTION_KEY = f"{NEW_KEY},{OLD_KEY}"
    out = StringIO()
    call_command("rotate_field_encryption_key", "--batch-size", "2", stdout=out)
    assert "Re-encrypted 9 secret(s)" in out.getvalue() and "billing.StripeConnection.secret_key" in out.getvalue()

    settings.FIELD_ENCRYPTION_KEY = NEW_KEY  # the old key removed
    for row in rows:
        secret_key, webhook_secret = raw_columns(row.pk)
        assert secret_key != before[row.pk][0]
        assert webhook_secret is None or webhook_secret != before[row.pk][1]
        reloaded = StripeConnection.objects.get(pk=row.pk)
        assert (reloaded.secret_key.reveal(), reloaded.webhook_secret and reloaded.webhook_secret.reveal()) == plain[
            row.pk
        ]

    again = secrets_rotate(batch_size=2)  # idempotent: everything is under the newest key already
    assert (again.rotated, again.current, again.unreadable) == (0, 9, [])


def test_rotation_reports_what_no_key_reads_and_rotates_the_rest(settings):
    (lost,) = connections_under(settings, LOST_KEY, 1)
    (kept,) = connections_under(settings, OLD_KEY, 1)
    lost_raw = raw_columns(lost.pk)

    settings.FIELD_ENCRYPTION_KEY = f"{NEW_KEY},{OLD_KEY}"
    err = StringIO()
    with pytest.raises(CommandError, match="2 secret"):
        call_command("rotate_field_encryption_key", stdout=StringIO(), stderr=err)
    assert f"billing.StripeConnection.secret_key pk={lost.pk}" in err.getvalue()
    assert raw_columns(lost.pk) == lost_raw  # left as stored: restoring LOST_KEY would still read it
    settings.FIELD_ENCRYPTION_KEY = NEW_KEY
    assert StripeConnection.objects.get(pk=kept.pk).secret_key.reveal() == f"{KEY}0"


def test_an_unreadable_secret_loads_fails_when_used_and_is_saved_unchanged(settings, account):
    (lost,) = connections_under(settings, LOST_KEY, 1)
    raw = raw_columns(lost.pk)
    settings.FIELD_ENCRYPTION_KEY = NEW_KEY

    reloaded = StripeConnection.objects.get(pk=lost.pk)  # the row loads: listing, admin, status still work
    assert isinstance(reloaded.secret_key, UnreadableSecret) and reloaded.is_usable
    with pytest.raises(SecretUnreadable) as caught:
        reloaded.secret_key.reveal()
    assert caught.value.status == 409 and "cannot be decrypted" in caught.value.message
    assert KEY not in repr(reloaded.secret_key)

    reloaded.status_reason = "touched"
    reloaded.save()
    assert raw_columns(lost.pk) == raw
    settings.FIELD_ENCRYPTION_KEY = f"{NEW_KEY},{LOST_KEY}"  # the key comes back: so does the secret
    assert StripeConnection.objects.get(pk=lost.pk).secret_key.reveal() == f"{KEY}0"


def test_dumpdata_keeps_secrets_encrypted_and_loaddata_restores_them(stored, tmp_path, settings):
    backup = tmp_path / "connections.json"
    call_command("dumpdata", "billing.StripeConnection", output=str(backup), stdout=StringIO())
    text = backup.read_text()
    assert KEY not in text and "whsec_never_shown" not in text and "********" not in text

    StripeConnection.objects.all().delete()
    settings.FIELD_ENCRYPTION_KEY = f"{NEW_KEY},{settings.FIELD_ENCRYPTION_KEY}"  # rotated since the backup
    call_command("loaddata", str(backup), stdout=StringIO())

    restored = StripeConnection.objects.get(pk=stored.pk)
    assert restored.secret_key.reveal() == KEY
    assert restored.webhook_secret.reveal() == "whsec_never_shown_123"
    secret_key, _ = raw_columns(stored.pk)
    assert Fernet(NEW_KEY.encode()).decrypt(secret_key.encode()).decode() == KEY  # saved under the newest key


def test_value_to_string_is_the_ciphertext(stored):
    field = StripeConnection._meta.get_field("secret_key")
    value = field.value_to_string(StripeConnection.objects.get(pk=stored.pk))
    assert value != KEY and field.to_python(value).reveal() == KEY
    assert field.to_python(KEY).reveal() == KEY  # a plain value is taken as plain, not as a ciphertext


def test_error_reports_mask_the_plain_key(account, user, stripe_server, stripe_api_base, settings):
    """Django's error report (what a 500 mail or Sentry shows) lists each frame's variables: the frames that hold
    a plain key show it masked (@sensitive_variables)."""
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    stripe_server.fail_next("/v1/account", 500)
    try:
        connection_connect(account=account, user=user, secret_key=KEY, webhook_secret="whsec_never_shown_123")
    except errors.StripeUnavailable as exc:
        # From the service's frame down: this test's own frame holds the key, as the caller of a service does.
        reporter = ExceptionReporter(None, type(exc), exc, exc.__traceback__.tb_next)
    else:
        pytest.fail("the local Stripe answered 500: connecting must fail")
    frames = {frame["function"]: dict(frame["vars"]) for frame in reporter.get_traceback_frames()}
    assert frames["_verified_account"]["key"] == frames["connection_connect"]["secret_key"] == "********************"
    assert frames["connection_connect"]["webhook_secret"] == "********************"
    report = reporter.get_traceback_html()  # what a 500 mail carries
    assert "connection_connect" in report and KEY not in report and "whsec_never_shown" not in report
