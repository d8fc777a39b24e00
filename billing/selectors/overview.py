"""The account's revenue overview (issue 11, item 7; SPEC §4): what its own Stripe earned in a window of calendar
days, against the window of the same length just before, per currency, with a daily series. Added up by the
database from the mirror (never asked of Stripe), in five queries whatever the window or the data.

What counts (the API schema and docs/overview.md say the same):
- a **payment** is a charge with status `succeeded` that was captured (an uncaptured authorisation is not
  revenue yet); its amount is `amount_captured`, on the day the charge was created;
- a **refund** is a refund with status `succeeded` or `pending` (as Stripe's dashboard counts it: a pending refund
  has left the balance), on the day the refund was created, whatever the day of its charge;
- a **dispute** is one opened in the window (its `created`), inquiries (`warning_*` statuses) excluded: they move
  no money. Its amount is what was disputed; `lost_amount` is the amount of those among them now `lost`, counted on
  the day the dispute was opened (the mirror keeps no date of the loss);
- **net volume** = gross volume − refunded amount − lost disputed amount, before Stripe's fees;
- a **new customer** is a customer created in the window (a customer has no currency of its own, so this figure
  is not per currency); one deleted since still counts (the figures are history);
- a **paying customer** is a distinct customer with a counted payment in that currency (payments without a
  customer count in the volumes, not here); the **average revenue per paying customer** is the gross volume of
  those customers' payments divided by their number, rounded to the minor unit (half up), null when none paid.
Rows the mirror marks deleted still count, for the same reason as deleted customers.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Case, Count, Q, Sum, When
from django.db.models.functions import TruncDate

from billing.models import Charge, Customer, Dispute, Refund

MAX_DAYS = 366
DEFAULT_DAYS = 30
# Far enough either way for any Stripe account, near enough that a window and the one before it stay inside
# what Python's datetime can hold in any time zone.
MIN_DATE = date(1970, 1, 1)
MAX_DATE = date(9998, 12, 31)

REFUND_STATUSES = ("succeeded", "pending")
DISPUTE_LOST = "lost"
DISPUTE_INQUIRY_PREFIX = "warning_"

# Per currency, per day: the figures the daily series shows (and the windows' totals add up).
DAILY_FIELDS = (
    "gross_volume",
    "net_volume",
    "successful_payments",
    "refunds_count",
    "refunds_amount",
    "disputes_count",
    "disputes_amount",
    "disputes_lost_amount",
)


@dataclass(frozen=True)
class Window:
    """Calendar days `start`..`end` (both included) in time zone `tz`."""

    start: date
    end: date
    tz: ZoneInfo

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def previous(self) -> "Window":
        return Window(self.start - timedelta(days=self.days), self.start - timedelta(days=1), self.tz)

    def starts_at(self) -> datetime:
        """The first instant of the first day. A midnight that a DST change skips resolves (PEP 495, fold=0) to
        the first instant that exists that day, so it is still that day's first instant."""
        return datetime.combine(self.start, time(), tzinfo=self.tz).astimezone(UTC)

    def ends_before(self) -> datetime:
        """The first instant after the last day."""
        return datetime.combine(self.end + timedelta(days=1), time(), tzinfo=self.tz).astimezone(UTC)

    def dates(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range(self.days)]


def overview_window(*, start: date | None, end: date | None, tz: ZoneInfo, today: date | None = None) -> Window:
    """The window asked for, with the defaults: `end` today in `tz`, `start` the 30 days up to `end`. Checking
    it (order, length, bounds) is the caller's job, so that it can name the field (see window_errors)."""
    if end is None:
        end = today or datetime.now(tz).date()
    if start is None:
        start = end - timedelta(days=DEFAULT_DAYS - 1)
    return Window(start, end, tz)


def window_errors(window: Window, *, end_given: bool = True) -> dict[str, str]:
    """What is wrong with a window, per query parameter; empty when it may be computed. A wrong order or length
    blames `end_date` when the caller gave it, else `start_date` (the end was today by default)."""
    errors = {}
    for name, value in (("start_date", window.start), ("end_date", window.end)):
        if not MIN_DATE <= value <= MAX_DATE:
            errors[name] = f"Must be between {MIN_DATE.isoformat()} and {MAX_DATE.isoformat()}."
    if errors:
        return errors
    if window.end < window.start:
        if end_given:
            errors["end_date"] = f"Must not be before start_date ({window.start.isoformat()})."
        else:
            errors["start_date"] = f"Must not be after end_date (by default today, {window.end.isoformat()})."
    elif window.days > MAX_DAYS:
        name = "end_date" if end_given else "start_date"
        errors[name] = (
            f"The window is {window.days} days long; at most {MAX_DAYS} (start_date and end_date both included"
            + ("" if end_given else f"; end_date is by default today, {window.end.isoformat()}")
            + ")."
        )
    return errors


# --- the queries: one per table, plus one for distinct paying customers ---------------------------------------
# Stands for "every account" where a selector takes the account: staff's product-wide figures only (the admin's
# index). A sentinel, not None, so that a missing account can never widen an account's own overview.
ALL_ACCOUNTS = object()


def _span(model, *, account, window: Window):
    """The model's rows of the account created in the window or the one before it, each with its local day."""
    rows = model.objects.filter(created__gte=window.previous.starts_at(), created__lt=window.ends_before())
    if account is not ALL_ACCOUNTS:
        rows = rows.filter(account=account)
    return rows.annotate(day=TruncDate("created", tzinfo=window.tz)).order_by()


def _payments(queryset):
    return queryset.filter(status="succeeded", captured=True)


def _charges_by_day(*, account, window):
    return (
        _payments(_span(Charge, account=account, window=window))
        .values("currency", "day")
        .annotate(gross_volume=Sum("amount_captured"), successful_payments=Count("*"))
    )


def _refunds_by_day(*, account, window):
    return (
        _span(Refund, account=account, window=window)
        .filter(status__in=REFUND_STATUSES)
        .values("currency", "day")
        .annotate(refunds_amount=Sum("amount"), refunds_count=Count("*"))
    )


def _disputes_by_day(*, account, window):
    return (
        _span(Dispute, account=account, window=window)
        .exclude(status__startswith=DISPUTE_INQUIRY_PREFIX)
        .values("currency", "day")
        .annotate(
            disputes_amount=Sum("amount"),
            disputes_count=Count("*"),
            disputes_lost_amount=Sum("amount", filter=Q(status=DISPUTE_LOST)),
        )
    )


def _paying_customers(*, account, window) -> dict[tuple[str, bool], tuple[int, int]]:
    """(currency, in the current window?) -> (distinct paying customers, what they paid). Grouped per customer
    first, then counted: PostgreSQL sorts for COUNT(DISTINCT ...), which spilled to disk on a large account,
    where two hash aggregates do not."""
    per_customer = (
        _payments(_span(Charge, account=account, window=window))
        .exclude(customer_stripe_id="")
        .annotate(in_window=Case(When(day__gte=window.start, then=True), default=False))
        .values("currency", "in_window", "customer_stripe_id")
        .annotate(paid=Sum("amount_captured"))
    )
    sql, params = per_customer.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT currency, in_window, COUNT(*), SUM(paid) FROM ({sql}) per_customer GROUP BY currency, in_window",
            params,
        )
        return {(currency, bool(in_window)): (count, int(paid)) for currency, in_window, count, paid in cursor}


def _new_customers_by_day(*, account, window):
    return _span(Customer, account=account, window=window).values("day").annotate(new_customers=Count("*"))


# --- the figures --------------------------------------------------------------------------------------------
def metric(value: int | None, previous: int | None) -> dict:
    """A figure, the previous window's, and the change: absolute, and in percent of the previous one's size
    (rounded to 0.1, half up; null when the previous figure is 0 or either is null)."""
    if value is None or previous is None:
        return {"value": value, "previous": previous, "change": None, "change_percent": None}
    change = value - previous
    percent = None
    if previous:
        percent = float((Decimal(change * 100) / abs(previous)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))
    return {"value": value, "previous": previous, "change": change, "change_percent": percent}


def _average(amount: int, customers: int) -> int | None:
    if not customers:
        return None
    return int((Decimal(amount) / customers).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def _zero_day() -> dict:
    return dict.fromkeys(DAILY_FIELDS, 0)


def revenue_overview(*, account, window: Window) -> dict:
    """The overview of `window` for the account, compared with `window.previous`. Five queries; the Python below
    adds up per-day rows (at most 2 x 366 per currency), never charges."""
    days = _daily_figures(account=account, window=window)
    paying = _paying_customers(account=account, window=window)
    new_customers = {row["day"]: row["new_customers"] for row in _new_customers_by_day(account=account, window=window)}

    dates = window.dates()
    currencies = [
        _currency_overview(currency, by_day, paying, window=window, dates=dates) for currency, by_day in days.items()
    ]
    currencies.sort(key=lambda c: (-c["gross_volume"]["value"], c["currency"]))
    previous = window.previous
    return {
        "window": {"start_date": window.start, "end_date": window.end, "days": window.days, "tz": window.tz.key},
        "previous_window": {"start_date": previous.start, "end_date": previous.end},
        "new_customers": metric(
            sum(n for day, n in new_customers.items() if day >= window.start),
            sum(n for day, n in new_customers.items() if day < window.start),
        ),
        "currencies": currencies,
        "daily": [{"date": day, "new_customers": new_customers.get(day, 0)} for day in dates],
    }


def _daily_figures(*, account, window: Window) -> dict[str, dict[date, dict]]:
    """currency -> day -> the additive figures (net volume included), over the window and the one before."""
    days: dict[str, dict[date, dict]] = defaultdict(lambda: defaultdict(_zero_day))
    for rows in (
        _charges_by_day(account=account, window=window),
        _refunds_by_day(account=account, window=window),
        _disputes_by_day(account=account, window=window),
    ):
        for row in rows:
            figures = days[row.pop("currency")][row.pop("day")]
            for name, value in row.items():
                figures[name] += value or 0
    for by_day in days.values():
        for figures in by_day.values():
            figures["net_volume"] = (
                figures["gross_volume"] - figures["refunds_amount"] - figures["disputes_lost_amount"]
            )
    return days


def product_volume(*, window: Window) -> list[dict]:
    """Gross and net volume per day of the window across every account's mirror (the staff's admin index), per
    currency, the largest gross volume first: `[{"currency", "gross_volume", "net_volume", "daily": [{"date",
    "gross_volume", "net_volume"}]}]`. The same definitions as an account's overview; three queries."""
    dates = window.dates()
    volumes = []
    for currency, by_day in _daily_figures(account=ALL_ACCOUNTS, window=window).items():
        daily = [
            {"date": day, "gross_volume": by_day[day]["gross_volume"], "net_volume": by_day[day]["net_volume"]}
            if day in by_day
            else {"date": day, "gross_volume": 0, "net_volume": 0}
            for day in dates
        ]
        gross = sum(d["gross_volume"] for d in daily)
        net = sum(d["net_volume"] for d in daily)
        if gross or net:
            volumes.append({"currency": currency, "gross_volume": gross, "net_volume": net, "daily": daily})
    volumes.sort(key=lambda v: (-v["gross_volume"], v["currency"]))
    return volumes


def _currency_overview(currency: str, by_day: dict[date, dict], paying: dict, *, window: Window, dates) -> dict:
    current, previous = _zero_day(), _zero_day()
    for day, figures in by_day.items():
        totals = current if day >= window.start else previous
        for name in DAILY_FIELDS:
            totals[name] += figures[name]
    now_customers, now_paid = paying.get((currency, True), (0, 0))
    then_customers, then_paid = paying.get((currency, False), (0, 0))

    def figure(name):
        return metric(current[name], previous[name])

    return {
        "currency": currency,
        "gross_volume": figure("gross_volume"),
        "net_volume": figure("net_volume"),
        "successful_payments": figure("successful_payments"),
        "refunds": {"count": figure("refunds_count"), "amount": figure("refunds_amount")},
        "disputes": {
            "count": figure("disputes_count"),
            "amount": figure("disputes_amount"),
            "lost_amount": figure("disputes_lost_amount"),
        },
        "paying_customers": metric(now_customers, then_customers),
        "average_revenue_per_paying_customer": metric(
            _average(now_paid, now_customers), _average(then_paid, then_customers)
        ),
        "daily": [{"date": day, **(by_day[day] if day in by_day else _zero_day())} for day in dates],
    }
