"""What intake accepts as a Stripe event (SPEC §3): the envelope's fields, and a payload PostgreSQL's `jsonb` stores.

A connected account signs its own deliveries (it owns its signing secret), so a body that verifies may still be
anything JSON allows, and more (Python's parser takes NaN, a leading byte order mark, unpaired surrogates).
Intake writes a batch of deliveries of many accounts with one statement (billing/webhooks/intake.py), so whatever
the database would refuse must be refused here, for that delivery alone, with a 400 and a code that says why.
Pure: no ORM, no settings.
"""

import codecs
import math
import re

from core import errors

# Stripe's events nest about ten levels deep, with expansions; 64 leaves room and bounds the walk below.
MAX_DEPTH = 64
# `created` is unix seconds; outside 1970 .. 2100-01-01 it is no event's date (and 10**20 overflows the column).
CREATED_MIN, CREATED_MAX = 0, 4_102_444_800
# The columns' lengths: a longer id would be cut and then collide with another event's.
ID_MAX, TYPE_MAX = 255, 100

CODE = "webhook_body_invalid"


def event_fields(*, payload: bytes, event: dict) -> dict:
    """The stored columns of a verified delivery's event (`payload` is its body as it arrived, `event` that body
    parsed). Raises InvalidInput(code="webhook_body_invalid", details={"reason": ...}) for anything the envelope
    or the database would not take."""
    if payload.startswith(codecs.BOM_UTF8):
        _refuse("bom", "Webhook body starts with a byte order mark, which is not JSON.")
    if not isinstance(event, dict):
        _refuse("not_an_object", "Webhook body is not a JSON object.")
    _check_json(payload, event)
    event_id, event_type = event.get("id"), event.get("type")
    if not isinstance(event_id, str) or not event_id or len(event_id) > ID_MAX:
        _refuse("id", f"Webhook event `id` must be a non-empty string of at most {ID_MAX} characters.")
    if not isinstance(event_type, str) or not event_type or len(event_type) > TYPE_MAX:
        _refuse("type", f"Webhook event `type` must be a non-empty string of at most {TYPE_MAX} characters.")
    created = event.get("created")
    if not isinstance(created, int) or isinstance(created, bool) or not CREATED_MIN <= created <= CREATED_MAX:
        _refuse(
            "created",
            f"Webhook event `created` must be an integer (unix seconds) from {CREATED_MIN} to {CREATED_MAX}.",
        )
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        _refuse("data_object", "Webhook event `data.object` must be an object.")
    connected = event.get("account")
    if connected is not None and (not isinstance(connected, str) or not connected):
        _refuse("account", "Webhook event `account` must be a Stripe account id (a string).")
    return {
        "stripe_event_id": event_id,
        "type": event_type,
        "api_version": str(event.get("api_version") or "")[:40],
        "livemode": bool(event.get("livemode")),
        "created": created,
        "object_id": str(obj.get("id") or "")[:255],
        "object_type": str(obj.get("object") or "")[:60],
        "payload": event,
    }


def too_deep() -> errors.InvalidInput:
    """The refusal of a body too deep for the JSON parser itself (RecursionError)."""
    return _invalid("too_deep", f"Webhook body nests deeper than {MAX_DEPTH} levels.")


def _check_json(payload: bytes, event: dict) -> None:
    """What `jsonb` refuses and Python accepts: NaN and Infinity, \\u0000 in a string or a key, an unpaired
    surrogate; and a nesting deeper than MAX_DEPTH. The text rules are looked for in the raw body first: both can
    only arrive as `\\u` escapes (the body is UTF-8, where a surrogate cannot be encoded and a raw NUL is not
    JSON), so most bodies skip the walk over their strings."""
    _check_containers(event, 1)
    if _ESCAPES.search(payload):
        _check_strings(event)


# `\u0000` or a surrogate escape (`\ud800`-`\udfff`), possibly preceded by an escaped backslash (then harmless,
# which the walk over the strings sorts out).
_ESCAPES = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
_NOT_FINITE = (math.inf, -math.inf)


def _check_containers(node, depth: int) -> None:
    # Recursion is bounded by MAX_DEPTH; the parser already refused what its own recursion limit could not take.
    if depth > MAX_DEPTH:
        raise too_deep()
    for child in node.values() if type(node) is dict else node:
        kind = type(child)
        if kind is dict or kind is list:
            _check_containers(child, depth + 1)
        elif kind is float and (child != child or child in _NOT_FINITE):
            _refuse("non_finite_number", "Webhook body holds NaN or Infinity, which is not JSON.")


def _check_strings(value) -> None:
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, child in node.items():
                _check_text(key)
                stack.append(child)
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, str):
            _check_text(node)


def _check_text(text: str) -> None:
    if "\x00" in text:
        _refuse("nul", "Webhook body holds a \\u0000 character, which cannot be stored.")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            _refuse("unpaired_surrogate", "Webhook body holds an unpaired surrogate (\\ud800-\\udfff).")


def _invalid(reason: str, message: str) -> errors.InvalidInput:
    return errors.InvalidInput(message, code=CODE, details={"reason": reason})


def _refuse(reason: str, message: str):
    raise _invalid(reason, message)
