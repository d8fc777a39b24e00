"""Stripe objects to feed the mirror: Stripe's own examples of today's API (fixtures3.json, a subset) and what
localstripe answers (older API shape), both captured as files so these tests need no server."""

import copy
import json
from pathlib import Path

_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "stripe"
_TODAY = json.loads((_DIR / "fixtures3_subset.json").read_text())["resources"]
_LOCALSTRIPE = json.loads((_DIR / "localstripe_objects.json").read_text())["resources"]


def today(object_name: str, /, **changes) -> dict:
    """A fresh copy of Stripe's example `object_name` object, with `changes` applied at the top level."""
    obj = copy.deepcopy(_TODAY[object_name])
    obj.update(changes)
    return obj


def localstripe(object_name: str, /, **changes) -> dict:
    obj = copy.deepcopy(_LOCALSTRIPE[object_name])
    obj.update(changes)
    return obj
