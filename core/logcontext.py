"""Log context: every line carries the account and the request or task id (see LOGGING in settings). Django's
requests (the middleware below), the ASGI webhook intake and Celery tasks (billing_project/celery.py) all set it
here, with one rule for the request id."""

import logging
import uuid
from contextvars import ContextVar

account_id_var: ContextVar[str] = ContextVar("account_id", default="-")
request_id_var: ContextVar[str] = ContextVar("request_id", default="-")


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.account_id = account_id_var.get()
        record.request_id = request_id_var.get()
        return True


def request_id_from(incoming: str | None) -> str:
    """The caller's X-Request-ID when it is a printable one (cut to 64 characters), else a new id."""
    return incoming[:64] if incoming and incoming.isprintable() else uuid.uuid4().hex


def bind_account(account_id) -> None:
    account_id_var.set(str(account_id) if account_id else "-")


class RequestContextMiddleware:
    """Gives each request an id (or keeps the caller's X-Request-ID) and echoes it in the response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request_id_from(request.headers.get("X-Request-ID"))
        token_req = request_id_var.set(request_id)
        token_acc = account_id_var.set("-")
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token_req)
            account_id_var.reset(token_acc)
        response["X-Request-ID"] = request_id
        return response
