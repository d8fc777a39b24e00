"""Notes the account's members keep on its customers (SPEC §4): our own records beside the mirror, never sent to
Stripe. Any member writes a note; only its author, or an owner or admin of the account, changes or deletes it."""

from accounts.models import Membership
from billing.models import CustomerNote
from core.errors import Forbidden

NOTE_MAX_LENGTH = 10_000


def note_create(*, account, customer, author, body: str) -> CustomerNote:
    return CustomerNote.objects.create(account=account, customer=customer, author=author, body=body)


def note_update(*, note: CustomerNote, membership: Membership, body: str) -> CustomerNote:
    """Raises Forbidden (403) unless `membership` is the note's author's or an owner's or admin's."""
    _check_may_change(note=note, membership=membership)
    note.body = body
    note.save(update_fields=["body", "updated_at"])
    return note


def note_delete(*, note: CustomerNote, membership: Membership) -> None:
    """Raises Forbidden (403) unless `membership` is the note's author's or an owner's or admin's."""
    _check_may_change(note=note, membership=membership)
    note.delete()


def _check_may_change(*, note: CustomerNote, membership: Membership) -> None:
    # Every member reads every note of the account, so a 403 here reveals nothing a 404 would hide.
    if membership.account_id != note.account_id:
        raise Forbidden("This note belongs to another account.")
    if note.author_id == membership.user_id or membership.role in (Membership.Role.OWNER, Membership.Role.ADMIN):
        return
    raise Forbidden("Only the note's author, or an owner or admin of the account, may change or delete it.")
