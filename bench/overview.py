"""Revenue overview query time at 1,000,000 charges (issue 11, item 9). Prints ONE JSON line.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test python bench/overview.py     # a fresh `bench_overview`
    DATABASE_URL=... python bench/overview.py --charges 100000 --runs 20               # quicker
    DATABASE_URL=... python bench/overview.py --reuse                                  # measure the last seed again

What it seeds, in the database only (the overview reads the mirror, never Stripe), with INSERT ... SELECT over
generate_series, so 1M rows take about a minute, not hours through an API:
- --accounts accounts (100) of unequal size: account i's share of the charges is proportional to 1/(i+1)^0.8,
  so the largest holds ~12 % of them and the median ~0.5 % (businesses differ; the largest is measured apart);
- --charges charges (1,000,000) over the last --days days (730), in time order across accounts, as a live mirror
  fills its table (an account's rows are scattered over the table's pages, not clustered); 60 % usd, 25 % eur,
  10 % gbp, 5 % jpy; 92 % succeeded, 7 % failed, 1 % uncaptured; 90 % with one of the account's customers;
- refunds of 6 % of the charges (a few days later; full or partial; 90 % succeeded, 5 % pending, 5 % failed),
  disputes on 0.6 % (won, lost, needs_response, under_review, inquiries), and customers (one per five charges);
- each row's `data` is Stripe's own example object of its type (tests/fixtures/stripe), as wide as real rows.
Then VACUUM ANALYZE, as autovacuum would have done on a table that grew over two years.

What it measures, per window (30, 90 and 365 days, ending today, in UTC, Europe/Berlin or America/New_York at
random), --runs times each over accounts drawn at random (uniformly among the 100), then --runs times on the
largest account: the selector alone (`revenue_overview`, the five queries and the Python adding up their rows)
and the whole HTTP request through Django's test client (JWT authentication, membership check, validation, the
selector, JSON rendering). p50 / p95 / p99 in milliseconds. The data sits in the OS page cache (one warm-up pass
first): the figures are for a warm server, not for the first request after a restart.
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATABASE = "bench_overview"
WINDOWS = (30, 90, 365)
ZONES = ("UTC", "Europe/Berlin", "America/New_York")
CURRENCIES = (("usd", 0.60), ("eur", 0.25), ("gbp", 0.10), ("jpy", 0.05))


def prepare_database(reuse: bool) -> None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("bench/overview.py measures PostgreSQL: set DATABASE_URL=postgres://... (its server gets a fresh "
                 f"`{DATABASE}` database)")  # fmt: skip
    import psycopg

    if not reuse:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
            admin.execute(f"CREATE DATABASE {DATABASE}")
    os.environ["DATABASE_URL"] = urlunsplit(urlsplit(url)._replace(path=f"/{DATABASE}"))


def setup_django() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_project.settings")
    os.environ.setdefault("BILLING_DEV_DEFAULTS", "1")  # a local bench: the development secrets will do
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    django.setup()


# --- seeding -----------------------------------------------------------------------------------------------------
def _column_defaults(model, given: set[str]) -> list[tuple[str, str]]:
    """The columns the seed does not set, each with its field's default as an SQL literal."""
    defaults = []
    for field in model._meta.concrete_fields:
        if field.column in given or field.primary_key:
            continue
        value = field.get_default()
        if value is None:
            literal = "NULL"
        elif isinstance(value, bool):
            literal = "true" if value else "false"
        elif isinstance(value, int):
            literal = str(value)
        elif isinstance(value, dict | list):
            literal = "'" + json.dumps(value).replace("'", "''") + "'::jsonb"
        else:
            literal = "'" + str(value).replace("'", "''") + "'"
        defaults.append((field.column, literal))
    return defaults


def _connection():
    from django.db import connection

    return connection


def insert_select(cursor, model, expressions: dict[str, str], source: str, params: list) -> int:
    """INSERT INTO model's table (expressions' columns + every other column at its default) SELECT ... source."""
    defaults = _column_defaults(model, set(expressions))
    qn = _connection().ops.quote_name
    columns = [*expressions, *(column for column, _ in defaults)]
    select = [*expressions.values(), *(literal for _, literal in defaults)]
    sql = (
        f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(qn(c) for c in columns)}) "
        f"SELECT {', '.join(select)} {source}"
    )
    cursor.execute(sql, params)
    return cursor.rowcount


def example(kind: str) -> str:
    resources = json.loads((ROOT / "tests/fixtures/stripe/fixtures3_subset.json").read_text())["resources"]
    return json.dumps(resources[kind])


def seed(args) -> dict:
    from django.db import connection, transaction

    from accounts.models import Account, Membership
    from billing.models import Charge, Customer, Dispute, Refund

    started = time.perf_counter()
    weights = [1 / (i + 1) ** 0.8 for i in range(args.accounts)]
    total = sum(weights)
    shares = [w / total for w in weights]
    accounts = Account.objects.bulk_create([Account(name=f"Bench {i}") for i in range(args.accounts)])
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.bulk_create([get_user_model()(username=f"bench{i}") for i in range(args.accounts)])
    Membership.objects.bulk_create(
        [Membership(user=u, account=a, role="owner") for u, a in zip(users, accounts, strict=True)]
    )
    # Account i gets charge n when random() falls in its slice of [0, 1): width_bucket over the cumulative shares.
    bounds, running = [], 0.0
    for share in shares[:-1]:
        running += share
        bounds.append(running)
    customers_per_account = [max(1, round(args.charges * share / 5)) for share in shares]
    ids = [str(a.pk) for a in accounts]
    currency_bounds, running = [], 0.0
    for _, share in CURRENCIES[:-1]:
        running += share
        currency_bounds.append(running)
    currencies = [c for c, _ in CURRENCIES]
    span = f"{args.days} days"
    counts = {}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = off")
        # One row per account: its uuid, its customer count, by index (1-based, as width_bucket answers).
        cursor.execute(
            "CREATE TEMP TABLE bench_accounts AS SELECT ord AS n, id::uuid AS id, customers "
            "FROM unnest(%s::text[], %s::int[]) WITH ORDINALITY AS t(id, customers, ord)",
            [ids, customers_per_account],
        )
        cursor.execute("CREATE UNIQUE INDEX ON bench_accounts (n)")
        counts["customers"] = insert_select(
            cursor,
            Customer,
            {
                "account_id": "a.id",
                "stripe_id": "'cus_' || a.n || '_' || c.k",
                "email": "'c' || c.k || '@bench.example'",
                "created": "now() - %s::interval * 1.2 * random()",
                "data": "%s::jsonb",
            },
            "FROM bench_accounts a, generate_series(0, a.customers - 1) AS c(k)",
            [span, example("customer")],
        )
        counts["charges"] = insert_select(
            cursor,
            Charge,
            {
                "account_id": "a.id",
                "stripe_id": "'ch_' || g.n",
                "created": "now() - %s::interval + (g.n::float8 / %s) * %s::interval",
                "currency": "(%s::text[])[width_bucket(g.r2, %s::float8[]) + 1]",
                "amount": "CASE WHEN g.r2 > 0.95 THEN 100 ELSE 1 END * (500 + floor(g.r3 * 20000)::bigint)",
                "amount_captured": "CASE WHEN g.r1 < 0.92 THEN 1 ELSE 0 END * "
                "CASE WHEN g.r2 > 0.95 THEN 100 ELSE 1 END * (500 + floor(g.r3 * 20000)::bigint)",
                "status": "CASE WHEN g.r1 < 0.93 THEN 'succeeded' ELSE 'failed' END",
                "paid": "g.r1 < 0.93",
                "captured": "g.r1 < 0.92",
                "customer_stripe_id": "CASE WHEN g.r4 < 0.9 THEN 'cus_' || a.n || '_' || "
                "floor(g.r4 / 0.9 * a.customers)::int ELSE '' END",
                "data": "%s::jsonb",
            },
            "FROM (SELECT n, random() AS r0, random() AS r1, random() AS r2, random() AS r3, random() AS r4 "
            "      FROM generate_series(1, %s) n) g "
            "JOIN bench_accounts a ON a.n = width_bucket(g.r0, %s::float8[]) + 1 ORDER BY g.n",
            [span, args.charges, span, currencies, currency_bounds, example("charge"), args.charges, bounds],
        )
        counts["refunds"] = insert_select(
            cursor,
            Refund,
            {
                "account_id": "c.account_id",
                "stripe_id": "'re_' || c.id",
                "charge_stripe_id": "c.stripe_id",
                "currency": "c.currency",
                "amount": "CASE WHEN random() < 0.6 THEN c.amount ELSE c.amount / 3 END",
                "status": "(ARRAY['succeeded', 'pending', 'failed'])"
                "[width_bucket(random(), ARRAY[0.9, 0.95]::float8[]) + 1]",
                "created": "least(now(), c.created + random() * interval '10 days')",
                "data": "%s::jsonb",
            },
            "FROM billing_charge c WHERE c.status = 'succeeded' AND c.captured AND random() < 0.065 ORDER BY c.created",
            [example("refund")],
        )
        counts["disputes"] = insert_select(
            cursor,
            Dispute,
            {
                "account_id": "c.account_id",
                "stripe_id": "'dp_' || c.id",
                "charge_stripe_id": "c.stripe_id",
                "currency": "c.currency",
                "amount": "c.amount",
                "status": "(ARRAY['won', 'lost', 'needs_response', 'under_review', 'warning_closed'])"
                "[width_bucket(random(), ARRAY[0.4, 0.75, 0.85, 0.95]::float8[]) + 1]",
                "reason": "'fraudulent'",
                "created": "least(now(), c.created + random() * interval '30 days')",
                "data": "%s::jsonb",
            },
            "FROM billing_charge c WHERE c.status = 'succeeded' AND c.captured AND random() < 0.0065 "
            "ORDER BY c.created",
            [example("dispute")],
        )
    with connection.cursor() as cursor:
        for model in (Customer, Charge, Refund, Dispute):
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
        cursor.execute("SELECT pg_size_pretty(pg_total_relation_size('billing_charge'))")
        counts["charge_table_size"] = cursor.fetchone()[0]
    largest = Charge.objects.filter(account=accounts[0]).count()
    return {"seconds": round(time.perf_counter() - started, 1), **counts, "largest_account_charges": largest}


# --- measuring ---------------------------------------------------------------------------------------------------
def percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)

    def at(p):
        return round(ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))], 1)

    return {"p50": round(statistics.median(ordered), 1), "p95": at(95), "p99": at(99), "max": round(ordered[-1], 1)}


def measure(args) -> dict:
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from rest_framework.test import APIClient

    from accounts.api.auth import tokens_for
    from accounts.models import Membership
    from billing.selectors.overview import Window, revenue_overview

    memberships = list(Membership.objects.select_related("account", "user").order_by("account__name"))
    by_name = {m.account.name: m for m in memberships}
    largest = by_name["Bench 0"]
    clients = {}
    for membership in memberships:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens_for(membership)['access']}")
        clients[membership.account_id] = client
    rng = random.Random(args.seed)

    def one(membership, days: int, via_http: bool) -> float:
        zone = rng.choice(ZONES)
        end = datetime.now(ZoneInfo(zone)).date()
        window = Window(end - timedelta(days=days - 1), end, ZoneInfo(zone))
        started = time.perf_counter()
        if via_http:
            response = clients[membership.account_id].get(
                "/api/v1/billing/overview/",
                {"start_date": window.start.isoformat(), "end_date": end.isoformat(), "tz": zone},
            )
            assert response.status_code == 200, response.content[:500]
        else:
            revenue_overview(account=membership.account, window=window)
        return (time.perf_counter() - started) * 1000

    for membership in memberships:  # warm-up: every account's rows through the page cache once
        one(membership, 365, via_http=False)
    results = {}
    for days in WINDOWS:
        row = {}
        for via_http, name in ((False, "selector"), (True, "http")):
            row[f"random_accounts_{name}_ms"] = percentiles(
                [one(rng.choice(memberships), days, via_http) for _ in range(args.runs)]
            )
            row[f"largest_account_{name}_ms"] = percentiles([one(largest, days, via_http) for _ in range(args.runs)])
        results[f"{days}_days"] = row
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--charges", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--days", type=int, default=730, help="the charges are spread over this many days")
    parser.add_argument("--runs", type=int, default=50, help="requests per window and kind")
    parser.add_argument("--seed", type=int, default=11, help="the random choice of accounts and time zones")
    parser.add_argument("--reuse", action="store_true", help=f"measure the existing `{DATABASE}` again")
    args = parser.parse_args(argv)

    prepare_database(args.reuse)
    setup_django()
    from django.core.management import call_command

    seeding = "reused"
    if not args.reuse:
        call_command("migrate", verbosity=0)
        seeding = seed(args)
    load_before = os.getloadavg()[0]
    results = measure(args)
    # Other work on the machine shows in the figures: the 1-minute load average before and after measuring.
    load = {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2), "cpus": os.cpu_count()}
    line = {"bench": "overview", "database": "postgresql", "seeding": seeding, "load_average": load, **results}
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
