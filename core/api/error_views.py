"""Django's error views, answering the one error shape instead of HTML: `handler400/403/404/500` in the URL
configuration (used with DEBUG off), and `api_not_found`, the last `/api/` pattern, so an unknown API path is a
JSON 404 even with DEBUG on (Django's debug 404 page lists every URL pattern)."""

from django.http import JsonResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt

from core.api.exception_handler import SERVER_ERROR_MESSAGE, error_body


def _error(status: int, code: str, message: str, details: dict | None = None) -> JsonResponse:
    return JsonResponse(error_body(code, message, details), status=status)


def bad_request(request, exception=None):
    return _error(400, "bad_request", "The request could not be understood.")


def permission_denied(request, exception=None):
    return _error(403, "permission_denied", "You do not have permission to perform this action.")


def not_found(request, exception=None):
    return _error(404, "not_found", "No such address.", {"path": request.path})


def server_error(request):
    return _error(500, "server_error", SERVER_ERROR_MESSAGE)


# It changes nothing, so it needs no CSRF token: without this, a DELETE or PATCH to a malformed API path got the
# CSRF middleware's HTML 403 rather than this JSON 404.
@csrf_exempt
def api_not_found(request, *args, **kwargs):
    """An `/api/` path that matches no API pattern. CommonMiddleware's APPEND_SLASH redirect never happens for
    `/api/` (this pattern matches first), so a missing trailing slash is named in the message instead."""
    message = "No API operation at this address."
    if not request.path.endswith("/"):
        try:
            match = resolve(request.path + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not api_not_found:
            message += f" Did you mean {request.path}/ (with a trailing slash)?"
    return _error(404, "not_found", message, {"path": request.path})
