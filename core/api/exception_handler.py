"""One error shape for the whole API: {"error": {"code", "message", "details"}}."""

import logging

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import AppError

logger = logging.getLogger(__name__)


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
        return None  # a real bug: let Django log it and answer 500
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
