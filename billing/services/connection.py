"""Writes about an account's own Stripe connection (SPEC §2): connect, disconnect, re-sync.

Credentials are checked against Stripe before anything is stored, outside any transaction (no database lock is
held across a network call). The secrets go straight into encrypted columns and are never logged or returned.
"""

import logging

from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from billing.models import StripeConnection, SyncRun
from billing.stripe import sync
from billing.stripe.client import StripeClient
from billing.webhooks.verification import signing_secret_forget
from core import errors
from core.secrets import Secret

logger = logging.getLogger(__name__)

SECRET_KEY_PREFIXES = ("sk_test_", "sk_live_", "rk_test_", "rk_live_")


# Plain credentials live in these frames: error reports show their variables masked.
@sensitive_variables("value")
def _check_key(value: str, field: str) -> str:
    value = (value or "").strip()
    if value.startswith(("pk_test_", "pk_live_")):
        raise errors.InvalidInput(
            f"{field}: that is a publishable key. Use the secret key (sk_...) or a restricted key (rk_...).",
            code="stripe_key_invalid",
        )
    if not value.startswith(SECRET_KEY_PREFIXES):
        raise errors.InvalidInput(
            f"{field}: not a Stripe secret key (it should start with sk_test_, sk_live_, rk_test_ or rk_live_).",
            code="stripe_key_invalid",
        )
    return value


@sensitive_variables("secret_key", "access_token")
def _credentials(*, secret_key, access_token, stripe_user_id) -> tuple[str, str, str]:
    """(auth mode, key, connected account id or "") from either form of the request."""
    if secret_key and (access_token or stripe_user_id):
        raise errors.InvalidInput(
            "Send either secret_key, or access_token with stripe_user_id (Stripe Connect), not both.",
            code="stripe_credentials_ambiguous",
        )
    if secret_key:
        return StripeConnection.AuthMode.SECRET_KEY, _check_key(secret_key, "secret_key"), ""
    if not (access_token and stripe_user_id):
        raise errors.InvalidInput(
            "Send secret_key, or access_token with stripe_user_id (Stripe Connect).", code="stripe_credentials_missing"
        )
    stripe_user_id = stripe_user_id.strip()
    if not stripe_user_id.startswith("acct_"):
        raise errors.InvalidInput("stripe_user_id: a Stripe account id starts with acct_.", code="stripe_key_invalid")
    return StripeConnection.AuthMode.CONNECT, _check_key(access_token, "access_token"), stripe_user_id


@sensitive_variables("key")
def _verified_account(key: str, stripe_user_id: str) -> dict:
    """The Stripe account behind the credentials. Refused credentials are the caller's mistake (400); Stripe
    being down is not (StripeUnavailable, 502, propagates)."""
    try:
        return StripeClient.for_credentials(secret_key=key, stripe_user_id=stripe_user_id or None).retrieve_account()
    except errors.StripeAuthFailed as exc:
        raise errors.InvalidInput(
            f"Stripe refused these credentials ({exc.message.removeprefix('Stripe refused the credentials: ')}). "
            "Check the key, or connect again through Stripe Connect.",
            code="stripe_credentials_refused",
        ) from None
    except errors.StripeRejected as exc:
        raise errors.InvalidInput(
            f"Stripe did not accept these credentials: {exc.message}", code="stripe_credentials_refused"
        ) from None


@sensitive_variables("secret_key", "access_token", "webhook_secret", "key")
def connection_connect(
    *,
    account,
    user,
    secret_key: str | None = None,
    access_token: str | None = None,
    stripe_user_id: str | None = None,
    webhook_secret: str | None = None,
) -> tuple[StripeConnection, bool]:
    """Connects (or reconnects) the account's Stripe and starts the initial sync. Returns (connection, created).

    Nothing is stored unless Stripe accepts the credentials. Reconnecting replaces them and stops a running sync
    (the new one resumes its cursors when the Stripe account is the same). The webhook secret is replaced when
    given, kept when the Stripe account is unchanged, and dropped when it changed.
    Raises InvalidInput (400) for malformed or refused credentials, StripeUnavailable (502)."""
    mode, key, connected_account = _credentials(
        secret_key=secret_key, access_token=access_token, stripe_user_id=stripe_user_id
    )
    if webhook_secret is not None:
        webhook_secret = webhook_secret.strip()
        if webhook_secret and not webhook_secret.startswith("whsec_"):
            raise errors.InvalidInput(
                "webhook_secret: a Stripe signing secret starts with whsec_.", code="webhook_secret_invalid"
            )
    stripe_account = _verified_account(key, connected_account)
    stripe_account_id = str(stripe_account.get("id") or connected_account)

    with transaction.atomic():
        connection = StripeConnection.objects.select_for_update().filter(account=account).first()
        created = connection is None
        same_account = not created and connection.stripe_account_id == stripe_account_id
        if created:
            connection = StripeConnection(account=account)
        else:
            sync.sync_runs_cancel(account=account, reason="Superseded: Stripe was connected again.")
        connection.auth_mode = mode
        connection.secret_key = Secret(key)
        connection.stripe_user_id = connected_account
        if webhook_secret:
            connection.webhook_secret = Secret(webhook_secret)
        elif not same_account:
            connection.webhook_secret = None
        if not same_account:
            connection.initialized = False
            connection.last_synced_at = None
        connection.stripe_account_id = stripe_account_id
        connection.livemode = "_live_" in key
        connection.status = StripeConnection.Status.SYNCING
        connection.status_reason = ""
        connection.connected_by = user
        connection.save()
        transaction.on_commit(lambda: signing_secret_forget(account_id=account.pk))
        kind = SyncRun.Kind.RESYNC if connection.initialized else SyncRun.Kind.INITIAL
        sync.sync_start(account=account, user=user, kind=kind, resume=same_account)
    logger.info("Stripe connected (%s, %s, livemode=%s)", mode, stripe_account_id, connection.livemode)
    return connection, created


def connection_disconnect(*, account, user=None) -> None:
    """Disconnects: secrets wiped, status `disconnected`, a running sync stopped. The mirror is kept.
    Disconnecting twice is harmless."""
    with transaction.atomic():
        connection = StripeConnection.objects.select_for_update().filter(account=account).first()
        if connection is None:
            return
        sync.sync_runs_cancel(account=account, reason="Stopped: Stripe was disconnected.")
        connection.secret_key = None
        connection.webhook_secret = None
        connection.status = StripeConnection.Status.DISCONNECTED
        connection.status_reason = f"Disconnected by {user.get_username()}." if user else "Disconnected."
        connection.save()
        transaction.on_commit(lambda: signing_secret_forget(account_id=account.pk))
    logger.info("Stripe disconnected")


def connection_resync(*, account, user) -> SyncRun:
    """POST /sync/: a new run over every resource. Raises NoStripeConnection or Conflict `sync_already_running`
    (409)."""
    return sync.sync_start(account=account, user=user, kind=SyncRun.Kind.RESYNC)
