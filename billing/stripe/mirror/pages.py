"""The sync's way in: pages of Stripe objects upserted in bulk, customer links filled afterwards, and objects a
complete pass did not list marked deleted."""

from datetime import datetime

from django.db import transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from billing.models import Customer
from billing.stripe import mappers
from billing.stripe.mirror.bulk_sql import upsert_rows
from billing.stripe.mirror.rows import customer_pks as customer_pks_of
from billing.stripe.mirror.types import CUSTOMER_DEPENDENTS, Obj, model_for, object_type, row_values


def upsert_objects(
    account,
    object_name: str,
    objects: list[Obj],
    *,
    seen_in_run: int | None = None,
    fetched_at: int | None = None,
    payout: str | None = None,
) -> int:
    """Writes a page of Stripe objects of one type (for prices, "price" and "plan" objects may mix),
    creating or updating each by (account, Stripe id), children included. Returns how many were written.

    `seen_in_run` stamps the rows with a sync pass (see mark_unseen_deleted). `fetched_at` (epoch seconds) is
    when the page was read from Stripe: a row that a webhook event newer than that has already updated is left
    alone, and the others are stamped with it so that an event older than the page cannot overwrite it later.
    `payout` names the payout a page of balance transactions was listed for."""
    otype = object_type(object_name)
    by_id = {obj["id"]: obj for obj in objects if isinstance(obj, dict) and obj.get("id")}
    if not by_id:
        return 0
    model = otype.model
    now = timezone.now()
    extra = {"payout_stripe_id": payout} if payout else {}
    with transaction.atomic(savepoint=False):
        page = list(by_id.values())
        customer_pks = (
            customer_pks_of(account, (mappers.ref(obj.get("customer")) for obj in page)) if otype.customer_fk else {}
        )
        rows = []
        for obj in page:
            row = row_values(otype, account.pk, obj, customer_pks=customer_pks, now=now, extra=extra)
            row["seen_in_run"] = seen_in_run
            row["last_event_created"] = fetched_at
            row["last_event_id"] = ""
            rows.append(row)
        update_fields = otype.update_fields(
            with_seen=seen_in_run is not None, with_ordering=fetched_at is not None, extra=extra
        )
        # With `fetched_at`, a row a newer webhook event has written is skipped, under the upsert's own row lock.
        written = set(upsert_rows(model, rows, update=update_fields, guard=fetched_at is not None))
        if otype.children and written:
            otype.children(
                [(account.pk, obj) for obj in page if obj["id"] in written], seen_in_run=seen_in_run, now=now
            )
    return len(written)


def link_customers(account) -> int:
    """Fills the customer foreign keys that could not be resolved when the row was written (its customer was
    not mirrored yet: resources sync in parallel). One UPDATE per table."""
    linked = 0
    for model in CUSTOMER_DEPENDENTS:
        customer_pk = Customer.objects.filter(account=account, stripe_id=OuterRef("customer_stripe_id")).values("pk")
        linked += (
            model.objects.filter(account=account, customer__isnull=True)
            .exclude(customer_stripe_id="")
            .filter(customer_stripe_id__in=Customer.objects.filter(account=account).values("stripe_id"))
            .update(customer=Subquery(customer_pk[:1]))
        )
    return linked


def mark_unseen_deleted(account, object_name: str, *, pass_id: int, since: datetime) -> int:
    """After a complete sync pass: rows of this type the pass did not list were deleted in Stripe. Marked, not
    removed. Rows created in Stripe after the pass began, or changed by a webhook event since, may simply have
    appeared behind the pass's cursor: they are left alone. Stripe's clock counts whole seconds, so the second
    the pass began in counts as "after" (a deletion then waits for the next pass rather than risk a false one)."""
    since_epoch = int(since.timestamp())
    since_second = datetime.fromtimestamp(since_epoch, tz=since.tzinfo)
    touched_by_event = Q(last_event_created__gte=since_epoch) & ~Q(last_event_id="")  # "" marks a sync's stamp
    return (
        model_for(object_name)
        .objects.filter(account=account, deleted=False)
        .exclude(seen_in_run=pass_id)
        .filter(Q(created__isnull=True) | Q(created__lt=since_second))
        .exclude(touched_by_event)
        .update(deleted=True, synced_at=timezone.now())
    )
