"""Reads of the notes the account's members keep on its customers (SPEC §4): always the token's account, the
customer's Stripe id and the author read by joins (no query per note)."""

from datetime import UTC, datetime

from billing.models import CustomerNote
from core.errors import NotFound

# The export's columns, in order: (header, the value's path from the note).
EXPORT_COLUMNS = (
    ("note_id", "id"),
    ("created_at", "created_at"),
    ("updated_at", "updated_at"),
    ("customer_id", "customer__stripe_id"),
    ("customer_email", "customer__email"),
    ("customer_name", "customer__name"),
    ("author", None),  # the author's name, else username (below)
    ("author_email", "author__email"),
    ("body", "body"),
)
_AUTHOR = ("author__first_name", "author__last_name", "author__username")
EXPORT_CHUNK_ROWS = 2000


def note_list(*, account, customer):
    """The customer's notes (the customer already found in the account), with what a note shows."""
    return CustomerNote.objects.for_account(account).filter(customer=customer).select_related("customer", "author")


def note_get(*, account, customer, note_id) -> CustomerNote:
    note = note_list(account=account, customer=customer).filter(pk=note_id).first()
    if note is None:
        raise NotFound(f"No note {note_id} on customer {customer.stripe_id}.")
    return note


def note_export_header() -> list[str]:
    return [header for header, _ in EXPORT_COLUMNS]


def note_export_rows(
    *,
    account,
    customer_stripe_id: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
):
    """The account's notes as export rows, oldest first, streamed from the database `EXPORT_CHUNK_ROWS` at a
    time (a server-side cursor on PostgreSQL, `fetchmany` on SQLite): never all rows in memory. Lazy: the query
    runs at the first row. Notes on customers since deleted in Stripe are included (they are the team's history)."""
    notes = CustomerNote.objects.for_account(account)
    if customer_stripe_id:
        notes = notes.filter(customer__stripe_id=customer_stripe_id)
    if created_after is not None:
        notes = notes.filter(created_at__gte=created_after)
    if created_before is not None:
        notes = notes.filter(created_at__lt=created_before)
    paths = [path for _, path in EXPORT_COLUMNS if path is not None] + list(_AUTHOR)
    values = notes.order_by("created_at", "id").values_list(*paths).iterator(chunk_size=EXPORT_CHUNK_ROWS)
    for note_id, created, updated, cus_id, cus_email, cus_name, author_email, body, first, last, username in values:
        author = f"{first or ''} {last or ''}".strip() or username or ""
        yield (note_id, _iso(created), _iso(updated), cus_id, cus_email, cus_name, author, author_email or "", body)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
