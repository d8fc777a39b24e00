"""Stripe-shaped error answers.

Two ways out, because of where the code runs: inside a handler, raise localstripe's `UserError` (its
error_middleware renders it); in our middlewares, which run outside localstripe's, return `error_response`.
"""

from localstripe.errors import UserError, json_response


def error_response(
    status: int,
    message: str,
    *,
    type_: str = "invalid_request_error",
    code: str | None = None,
    headers: dict[str, str] | None = None,
):
    error = {"type": type_, "message": message}
    if code is not None:
        error["code"] = code
    return json_response({"error": error}, status=status, headers=headers)


def invalid_request(message: str, *, code: str | None = None, param: str | None = None, status: int = 400) -> UserError:
    contents = {}
    if code is not None:
        contents["code"] = code
    if param is not None:
        contents["param"] = param
    return UserError(status, message, contents)


def unknown_parameter(name: str) -> UserError:
    return invalid_request(f"Received unknown parameter: {name}", code="parameter_unknown", param=name)


def missing_parameter(name: str) -> UserError:
    return invalid_request(f"Missing required param: {name}.", code="parameter_missing", param=name)


def no_such(object_name: str, object_id: str) -> UserError:
    return invalid_request(f"No such {object_name}: '{object_id}'", code="resource_missing", param="id", status=404)
