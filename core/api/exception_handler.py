"""One error shape for the whole API: {"error": {"code", "message", "details"}}."""

import logging

from django.core.exceptions import PermissionDenied
from django.core.signals import got_request_exception
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from core.errors import AppError

logger = logging.getLogger(__name__)

SERVER_ERROR_MESSAGE = "Something went wrong on our side. It has been logged; try again later."


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        for field, value in detail.items():
            message = _first_message(value)
            return message if field in ("non_field_errors", "detail") else f"{field}: {message}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def exception_handler(exc, context):
    if isinstance(exc, AppError):
        if exc.status >= 500:
            logger.warning("%s: %s", exc.code, exc.message)
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.status)
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = drf.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return _server_error(exc, context)
    if isinstance(exc, drf.ValidationError):
        body = error_body("validation_error", _first_message(exc.detail), {"fields": exc.detail})
    else:
        detail = exc.detail if isinstance(exc, drf.APIException) else str(exc)
        code = exc.get_codes() if isinstance(exc, drf.APIException) else "error"
        if isinstance(code, dict) and isinstance(detail, dict):
            # SimpleJWT's errors carry their code inside the detail ({"detail", "code"}): token_not_valid, ...
            code = str(detail.get("code") or "error")
        code = code if isinstance(code, str) else "error"
        body = error_body(code, _first_message(detail))
    response.data = body
    return response


def _server_error(exc, context) -> Response:
    """A bug. The caller gets the error shape, never Django's HTML page (with DEBUG on, the debug page shows
    settings and code to whoever triggered it); the traceback goes to the log, and to whatever listens for
    Django's `got_request_exception` (error trackers; the test client re-raises it in tests)."""
    request = context.get("request")
    logger.error(
        "Unhandled %s on %s",
        exc.__class__.__name__,
        getattr(request, "path", "?"),
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    got_request_exception.send(sender=None, request=getattr(request, "_request", request))
    set_rollback()
    return Response(error_body("server_error", SERVER_ERROR_MESSAGE), status=500)
