"""The only module that talks to the Stripe SDK.

Two relationships (SPEC §0), two ways to build a client:
- `StripeClient.for_connection(connection)`: the account's own Stripe (its key, or its Connect token + account);
- `StripeClient.for_platform()`: the platform's Stripe (settings.STRIPE_SECRET_KEY), which bills accounts.

Every call answers plain dicts (parsed JSON, never SDK objects) and raises only our errors (core.errors):
rejected → StripeRejected (422), unreachable / 5xx → StripeUnavailable (502), 429 → StripeRateLimited (502, with
Retry-After), refused credentials → StripeAuthFailed.
"""

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import stripe
from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from core import errors
from core.secrets import Secret

logger = logging.getLogger(__name__)

Params = dict[str, Any]


class StripeClient:
    # The plain key lives in these frames: an error report (Django's, Sentry's) shows their variables masked.
    @sensitive_variables("api_key", "key")
    def __init__(self, *, api_key: Secret | str, stripe_account: str | None = None, label: str = "account"):
        key = api_key.reveal() if isinstance(api_key, Secret) else api_key
        if not key:
            raise errors.StripeAuthFailed("No Stripe key is configured.")
        self._stripe_account = stripe_account or None
        self._label = label
        self._sdk = stripe.StripeClient(
            key,
            stripe_account=self._stripe_account,
            stripe_version=settings.STRIPE_API_VERSION,
            base_addresses={"api": settings.STRIPE_API_BASE} if settings.STRIPE_API_BASE else None,
            max_network_retries=settings.STRIPE_MAX_NETWORK_RETRIES,
            http_client=stripe.RequestsClient(timeout=settings.STRIPE_TIMEOUT_SECONDS),
        )

    def __repr__(self) -> str:
        return f"<StripeClient {self._label} stripe_account={self._stripe_account!r}>"

    # --- construction -------------------------------------------------------------------------------------
    @classmethod
    def for_connection(cls, connection) -> "StripeClient":
        """The account's own Stripe. Raises NoStripeConnection when it is not connected, SecretUnreadable (409)
        when its stored key cannot be decrypted with FIELD_ENCRYPTION_KEY."""
        if connection is None or not connection.is_usable:
            raise errors.NoStripeConnection()
        return cls(
            api_key=connection.secret_key,
            stripe_account=connection.stripe_user_id or None,
            label=f"account:{connection.account_id}",
        )

    @classmethod
    @sensitive_variables("secret_key")
    def for_credentials(cls, *, secret_key: str, stripe_user_id: str | None = None) -> "StripeClient":
        """Credentials not stored yet (checking them before they are saved)."""
        return cls(api_key=secret_key, stripe_account=stripe_user_id, label="unsaved-credentials")

    @classmethod
    def for_platform(cls) -> "StripeClient":
        return cls(api_key=settings.STRIPE_SECRET_KEY, label="platform")

    # --- generic calls ------------------------------------------------------------------------------------
    def request(self, method: str, path: str, *, idempotency_key: str | None = None, **params: Any) -> dict:
        """One call to Stripe. Writes that create or move money must pass an idempotency key."""
        options: Params = {}
        if idempotency_key:
            options["idempotency_key"] = idempotency_key
        with translate_errors(path):
            response = self._sdk.raw_request(method, path, **options, **_flatten_none(params))
        return json.loads(response.body)

    def retrieve(self, path: str, object_id: str, **params: Any) -> dict:
        return self.request("get", f"{path}/{object_id}", **params)

    def create(self, path: str, *, idempotency_key: str | None = None, **params: Any) -> dict:
        return self.request("post", path, idempotency_key=idempotency_key, **params)

    def update(self, path: str, object_id: str, *, idempotency_key: str | None = None, **params: Any) -> dict:
        return self.request("post", f"{path}/{object_id}", idempotency_key=idempotency_key, **params)

    def delete(self, path: str, object_id: str) -> dict:
        return self.request("delete", f"{path}/{object_id}")

    def list_page(self, path: str, *, limit: int = 100, starting_after: str | None = None, **params: Any):
        """One page of a list: (objects, has_more). Callers keep the cursor (the last id) themselves."""
        page = self.request("get", path, limit=limit, starting_after=starting_after, **params)
        return page.get("data", []), bool(page.get("has_more"))

    def iterate(self, path: str, *, page_size: int = 100, **params: Any) -> Iterator[dict]:
        """Every object of a list, one page in memory at a time."""
        cursor = None
        while True:
            objects, has_more = self.list_page(path, limit=page_size, starting_after=cursor, **params)
            yield from objects
            if not has_more or not objects:
                return
            cursor = objects[-1]["id"]

    # --- named calls used in several places ---------------------------------------------------------------
    def retrieve_account(self) -> dict:
        """The Stripe account behind these credentials: the cheapest call that proves they work."""
        return self.request("get", "/v1/account")

    def retrieve_event(self, event_id: str) -> dict:
        return self.retrieve("/v1/events", event_id)

    @staticmethod
    @sensitive_variables("secret", "plain_secret")
    def verify_webhook(payload: bytes, signature_header: str | None, secret: Secret | str) -> dict:
        """Checks the Stripe-Signature header (tolerance from settings) and answers the event as a dict.
        Raises InvalidInput with a message that says what was wrong."""
        plain_secret = secret.reveal() if isinstance(secret, Secret) else secret
        if not signature_header:
            raise errors.InvalidInput("Missing Stripe-Signature header.", code="webhook_signature_missing")
        try:
            stripe.WebhookSignature.verify_header(
                payload.decode("utf-8"),
                signature_header,
                plain_secret,
                settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
            )
        except stripe.SignatureVerificationError as exc:
            raise errors.InvalidInput(
                f"Stripe signature verification failed: {exc.user_message or exc}",
                code="webhook_signature_invalid",
            ) from None
        except UnicodeDecodeError:
            raise errors.InvalidInput("Webhook body is not UTF-8.", code="webhook_body_invalid") from None
        try:
            event = json.loads(payload)
        except ValueError:
            raise errors.InvalidInput("Webhook body is not valid JSON.", code="webhook_body_invalid") from None
        if not isinstance(event, dict) or not event.get("id") or not event.get("type"):
            raise errors.InvalidInput(
                "Webhook body is not a Stripe event (no id or type).", code="webhook_body_invalid"
            )
        return event


def _flatten_none(params: Params) -> Params:
    return {key: value for key, value in params.items() if value is not None}


def _stripe_message(exc: stripe.StripeError) -> str:
    return exc.user_message or str(exc) or exc.__class__.__name__


@contextmanager
def translate_errors(path: str):
    """SDK errors → our errors. The SDK has already retried what is safe to retry (network, 409, 5xx)."""
    try:
        yield
    except stripe.RateLimitError as exc:
        retry_after = _retry_after(exc)
        logger.warning("Stripe rate limited %s (retry after %s)", path, retry_after)
        raise errors.StripeRateLimited(
            f"Stripe is rate limiting requests: {_stripe_message(exc)}", retry_after=retry_after
        ) from None
    except (stripe.AuthenticationError, stripe.PermissionError) as exc:
        logger.warning("Stripe refused the credentials on %s: %s", path, exc.code or exc.__class__.__name__)
        raise errors.StripeAuthFailed(
            f"Stripe refused the credentials: {_stripe_message(exc)}",
            details={"stripe_code": exc.code} if exc.code else None,
        ) from None
    except (stripe.InvalidRequestError, stripe.CardError, stripe.IdempotencyError) as exc:
        details = {
            key: value
            for key, value in (
                ("stripe_code", exc.code),
                ("param", getattr(exc, "param", None)),
                ("http_status", exc.http_status),
            )
            if value
        }
        if exc.http_status == 404 and "Unrecognized request URL" in str(exc.user_message or ""):
            details["endpoint_missing"] = True
        raise errors.StripeRejected(f"Stripe rejected the request: {_stripe_message(exc)}", details=details) from None
    except stripe.APIConnectionError as exc:
        logger.warning("Stripe unreachable on %s: %s", path, exc.__class__.__name__)
        raise errors.StripeUnavailable(f"Stripe is unreachable: {_stripe_message(exc)}") from None
    except stripe.StripeError as exc:
        status = exc.http_status or 0
        if 400 <= status < 500:
            # A 4xx without a Stripe error body: no such route on this Stripe (an older local Stripe lacks some).
            details = {"http_status": status, "endpoint_missing": status == 404}
            raise errors.StripeRejected(
                f"Stripe rejected the request: {_stripe_message(exc)}", details=details
            ) from None
        logger.warning("Stripe failed on %s with HTTP %s", path, status)
        raise errors.StripeUnavailable(f"Stripe failed (HTTP {status or 'error'}): {_stripe_message(exc)}") from None


def _retry_after(exc: stripe.StripeError) -> float | None:
    headers = exc.headers or {}
    value = headers.get("retry-after") or headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
