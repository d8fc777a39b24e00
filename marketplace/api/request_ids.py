import uuid


def client_request_id(request, body_value: str | None = None) -> str:
    """The client's id for an idempotent store write: the body's field, else the `Idempotency-Key` header, else a
    fresh one (which still makes the SDK's own retries of this request safe). billing's API has the same rule."""
    return body_value or request.headers.get("Idempotency-Key") or uuid.uuid4().hex
