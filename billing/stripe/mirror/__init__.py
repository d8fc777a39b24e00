"""The one way Stripe data gets into the mirror (the account's own Stripe, SPEC §0): pages in bulk for the
sync, single objects for webhooks. Nothing here calls Stripe.

Public API:
- `OBJECT_NAMES`, `is_mirrored(object_name)`, `model_for(object_name)`;
- `upsert_objects(account, object_name, objects, *, seen_in_run=None, fetched_at=None, payout=None) -> int`;
- `apply_event_objects(items) -> the items applied` (webhook events' objects, one event's or a batch's), and
  `apply_event_object(account, obj, *, event_id, event_created, deleted=False) -> bool` for one;
- `mark_unseen_deleted(account, object_name, *, pass_id, since) -> int`;
- `link_customers(account) -> int`.

Query budget: a page costs a constant number of queries whatever its size (customer ids resolved once per
page, one INSERT ... ON CONFLICT DO UPDATE per table, split only by SQLite's parameter limit).
"""

# The package: types.py (what is mirrored, and how a row is built), rows.py (row-value lookups and locks),
# pages.py (the sync's bulk upserts), events.py (webhook events' objects). Callers use the names below.
from billing.stripe.mirror.events import EventObject, apply_event_object, apply_event_objects
from billing.stripe.mirror.pages import link_customers, mark_unseen_deleted, upsert_objects
from billing.stripe.mirror.types import (
    OBJECT_NAMES,
    ObjectType,
    UnsupportedObject,
    is_mirrored,
    is_newer,
    model_for,
    object_type,
)

__all__ = [
    "OBJECT_NAMES",
    "EventObject",
    "ObjectType",
    "UnsupportedObject",
    "apply_event_object",
    "apply_event_objects",
    "is_mirrored",
    "is_newer",
    "link_customers",
    "mark_unseen_deleted",
    "model_for",
    "object_type",
    "upsert_objects",
]
