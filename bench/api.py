"""List pages of the SPA's billing API at scale (issue 11, item 9): customers and charges of one account holding
100,000 of each (beside 99 other accounts' rows), through the whole Django stack in this process (JWT auth, the
membership check, filters, the keyset page, serialisation; Django's test client, no network). Prints one JSON line.

    python bench/api.py                                                    # SQLite (a fresh file)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test python bench/api.py   # a fresh `bench_api` database
    python bench/api.py --customers 20000 --walk 200                       # quicker

Cases: the first page; every page of a walk through `next` links (page 1 to `--walk`, 100 rows a page: the
1000th page of 100,000 customers is the last), reported as p95 over the walk and the mean of its first and last
ten pages ("flat"); filtered (currency, status, created range); searched (part of an email). Queries per request
are counted with `connection.execute_wrapper`.
"""

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CURRENCIES = ("usd", "eur", "gbp")
START = datetime(2024, 1, 1, tzinfo=UTC)


def prepare_database() -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        path = Path(tempfile.mkdtemp(prefix="bench-api-")) / "bench.sqlite3"
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
        return "sqlite"
    import psycopg

    parts = urlsplit(url)
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS bench_api WITH (FORCE)")
        admin.execute("CREATE DATABASE bench_api")
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path="/bench_api"))
    return "postgresql"


def setup_django():
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_project.settings")
    os.environ.setdefault("BILLING_DEV_DEFAULTS", "1")  # a local bench: the development secrets will do
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed(account, others, *, customers: int, charges: int, other_rows: int) -> float:
    """Bulk rows (the API reads the mirror; how they got there does not matter here). Answers seconds spent."""
    from django.db import connection

    from billing.models import Charge, Customer

    started = time.perf_counter()
    rng = random.Random(7)
    batch = 5000

    def customer_rows(owner, count, prefix):
        for i in range(count):
            yield Customer(
                account=owner,
                stripe_id=f"cus_{prefix}{i:07d}",
                email=f"user{i}@{'example' if i % 3 else 'sample'}.com",
                name=f"Customer {i}",
                currency=CURRENCIES[i % 3],
                created=START + timedelta(seconds=i * 300),
                data={"metadata": {}},
            )

    def charge_rows(owner, count, prefix):
        for i in range(count):
            yield Charge(
                account=owner,
                stripe_id=f"ch_{prefix}{i:07d}",
                customer_stripe_id=f"cus_{prefix}{rng.randrange(max(customers, 1)):07d}",
                currency=CURRENCIES[i % 3],
                amount=rng.randrange(500, 50_000),
                status="succeeded" if i % 10 else "failed",
                paid=bool(i % 10),
                created=START + timedelta(seconds=i * 300 + 17),
                data={"metadata": {}},
            )

    def insert(model, rows):
        chunk = []
        for row in rows:
            chunk.append(row)
            if len(chunk) == batch:
                model.objects.bulk_create(chunk)
                chunk = []
        if chunk:
            model.objects.bulk_create(chunk)

    insert(Customer, customer_rows(account, customers, "a"))
    insert(Charge, charge_rows(account, charges, "a"))
    for n, other in enumerate(others):
        insert(Customer, customer_rows(other, other_rows, f"o{n}x"))
        insert(Charge, charge_rows(other, other_rows, f"o{n}x"))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return time.perf_counter() - started


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def summary(timings_ms, queries):
    return {
        "n": len(timings_ms),
        "p50_ms": round(statistics.median(timings_ms), 2),
        "p95_ms": round(percentile(timings_ms, 95), 2),
        "p99_ms": round(percentile(timings_ms, 99), 2),
        "queries_per_request": max(queries),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--charges", type=int, default=100_000)
    parser.add_argument("--accounts", type=int, default=100, help="accounts in all (one measured, the rest noise)")
    parser.add_argument("--other-rows", type=int, default=1000, help="customers and charges of each other account")
    parser.add_argument("--walk", type=int, default=1000, help="pages of 100 to walk through `next`")
    parser.add_argument("--repeat", type=int, default=50, help="requests per single-page case")
    args = parser.parse_args()

    vendor = prepare_database()
    setup_django()
    from django.db import connection
    from django.test import Client

    from accounts.services import account_create
    from tests.factories import AccountFactory

    account = account_create(name="Bench", owner_username="bench", password="bench-password-0")
    others = [AccountFactory() for _ in range(args.accounts - 1)]
    seconds = seed(account, others, customers=args.customers, charges=args.charges, other_rows=args.other_rows)

    client = Client()
    token = client.post(
        "/api/v1/auth/token/",
        {"username": "bench", "password": "bench-password-0", "account_id": str(account.id)},
        content_type="application/json",
    ).json()["access"]
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    counter = {"queries": 0}

    def count(execute, sql, params, many, context):
        counter["queries"] += 1
        return execute(sql, params, many, context)

    def get(url, params=None):
        counter["queries"] = 0
        started = time.perf_counter()
        with connection.execute_wrapper(count):
            response = client.get(url, params or {}, **headers)
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, (url, response.status_code, response.content[:300])
        return elapsed, counter["queries"], response.json()

    def repeat(url, params):
        get(url, params)  # warm
        timings, queries = [], []
        for _ in range(args.repeat):
            elapsed, q, _ = get(url, params)
            timings.append(elapsed)
            queries.append(q)
        return summary(timings, queries)

    def walk(url, params):
        timings, queries, link = [], [], None
        for _ in range(args.walk):
            elapsed, q, body = get(link or url, None if link else params)
            timings.append(elapsed)
            queries.append(q)
            link = body["next"]
            if link is None:
                break
        result = summary(timings, queries)
        result["pages"] = len(timings)
        result["first_10_mean_ms"] = round(statistics.mean(timings[:10]), 2)
        result["last_10_mean_ms"] = round(statistics.mean(timings[-10:]), 2)
        return result

    customers, charges = "/api/v1/billing/customers/", "/api/v1/billing/charges/"
    window = {"created_after": "2024-03-01T00:00:00Z", "created_before": "2024-03-15T00:00:00Z"}
    cases = {
        "customers_first_page": repeat(customers, {"page_size": 50}),
        "customers_walk": walk(customers, {"page_size": 100}),
        "customers_filtered_currency": repeat(customers, {"currency": "eur", "page_size": 50}),
        "customers_filtered_created": repeat(customers, {**window, "page_size": 50}),
        "customers_searched_email": repeat(customers, {"search": "user4321", "page_size": 50}),
        "customers_by_email_ordering": repeat(customers, {"ordering": "email", "page_size": 50}),
    }
    if _route_exists(client, charges, headers):
        cases.update(
            {
                "charges_first_page": repeat(charges, {"page_size": 50}),
                "charges_walk": walk(charges, {"page_size": 100}),
                "charges_filtered": repeat(charges, {"status": "succeeded", "currency": "usd", "page_size": 50}),
                "charges_filtered_created": repeat(charges, {**window, "page_size": 50}),
                "charges_by_amount_ordering": repeat(charges, {"ordering": "-amount", "page_size": 50}),
            }
        )
    print(
        json.dumps(
            {
                "bench": "api_list_pages",
                "database": vendor,
                "customers": args.customers,
                "charges": args.charges,
                "accounts": args.accounts,
                "seed_seconds": round(seconds, 1),
                "cases": cases,
            }
        )
    )


def _route_exists(client, url, headers) -> bool:
    return client.get(url, {"page_size": 1}, **headers).status_code == 200


if __name__ == "__main__":
    main()
