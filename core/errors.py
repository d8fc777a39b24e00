"""The one family of application errors. Each carries an HTTP status and a stable code the SPA can rely on;
core/api/exception_handler.py renders them as {"error": {"code", "message", "details"}}."""

from typing import Any


class AppError(Exception):
    status = 400
    code = "bad_request"
    default_message = "The request could not be processed."

    def __init__(self, message: str | None = None, *, code: str | None = None, details: dict | None = None):
        self.message = message or self.default_message
        if code:
            self.code = code
        self.details: dict[str, Any] = details or {}
        super().__init__(self.message)


class InvalidInput(AppError):
    status = 400
    code = "invalid"


class Forbidden(AppError):
    status = 403
    code = "forbidden"
    default_message = "You do not have permission to perform this action."


class NotFound(AppError):
    status = 404
    code = "not_found"
    default_message = "Not found."


class Unprocessable(AppError):
    """Well-formed, but the state of things refuses it (a refund larger than what is left on the charge)."""

    status = 422
    code = "unprocessable"


class Conflict(AppError):
    status = 409
    code = "conflict"


class NoStripeConnection(Conflict):
    code = "stripe_not_connected"
    default_message = (
        "This account has no Stripe connection. Connect Stripe first (POST /api/v1/billing/stripe-connection/)."
    )


class StripeError(AppError):
    """Base of everything that went wrong talking to Stripe."""

    status = 502
    code = "stripe_error"


class StripeRejected(StripeError):
    """Stripe understood the request and refused it (invalid request, card declined, ...)."""

    status = 422
    code = "stripe_rejected"


class StripeAuthFailed(StripeError):
    """The key was refused by Stripe: revoked, expired, wrong or lacking permission."""

    status = 409
    code = "stripe_auth_failed"
    default_message = "Stripe refused the stored credentials (revoked or expired key). Reconnect Stripe."


class StripeUnavailable(StripeError):
    """Stripe could not be reached or failed (timeout, 5xx). Safe to retry later."""

    status = 502
    code = "stripe_unavailable"
    default_message = "Stripe is unreachable or failing right now. Try again later."


class StripeRateLimited(StripeUnavailable):
    code = "stripe_rate_limited"
    default_message = "Stripe is rate limiting requests. Try again later."

    def __init__(self, message: str | None = None, *, retry_after: float | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
