"""Contact import (issue 13): Stripe customers into contacts through the real page code path, against the seed's
one-by-one algorithm, on a fresh database; one JSON line.

    python bench/import.py                                                        # SQLite (a fresh file)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<yours> python bench/import.py   # a fresh `<yours>_bench_import`
    python bench/import.py --customers 50000 --baseline 10000

What runs: an import job is created and claimed, then pages of 100 Stripe customer objects (the shape Stripe's
list answers: id, email, name, phone, address, shipping, metadata) are handed to `page_write`, the function the
run calls with each page it reads from Stripe. The pages come from a local generator instead of the local Stripe,
whose list speed is not what is measured (localstripe serves about a page per 50 ms); everything after the read is
the production path: mapping, matching by Stripe id, email (and domain for businesses), bulk insert and upsert,
progress saved with the cursor, the websocket event queued after commit. Half the customers match existing
contacts (by email, with a changed phone: a real update).

Then, on a fresh account, the seed's algorithm on `--baseline` customers: per customer one find (email + type +
account) and one save (update or insert), with the same mapping. The ratio compares contacts per second.

Memory: the timed run is repeated under `tracemalloc` on a fresh account; the peak of Python allocations is
reported for every block of 10,000 customers: flat means the same peak whatever the number already imported.
"""

import argparse
import json
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.databases import fresh_postgres_database  # noqa: E402

DATABASE_SUFFIX = "_bench_import"  # beside your own database: <name>_bench_import
PAGE = 100
MAPPINGS = {
    "name": "name",
    "phone": "phone",
    "address": "address",
    "shipping": "shipping",
    "metadata.plan": "custom.plan",
    "metadata.region": "custom.region",
}


def prepare_database() -> str:
    """A fresh database for the bench, never the development one."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        path = Path(tempfile.mkdtemp(prefix="bench-import-")) / "bench.sqlite3"
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
        return "sqlite"
    os.environ["DATABASE_URL"] = fresh_postgres_database(url, DATABASE_SUFFIX.lstrip("_"))
    return "postgresql"


def customer(i: int, run: str) -> dict:
    """A Stripe customer object as the list endpoint answers it."""
    return {
        "id": f"cus_{run}{i:08d}",
        "object": "customer",
        "email": f"customer{i}@example{i % 97}.com",
        "name": f"Ada{i} Lovelace{i}",
        "phone": f"+1555{i:07d}",
        "description": None,
        "address": {
            "line1": f"{i} Main St",
            "line2": None,
            "city": "Springfield",
            "state": "IL",
            "postal_code": "62701",
            "country": "US",
        },
        "shipping": {
            "name": f"Ada{i}",
            "phone": None,
            "address": {
                "line1": f"{i} Dock Rd",
                "line2": "Unit 2",
                "city": "Peoria",
                "state": "IL",
                "postal_code": "61602",
                "country": "US",
            },
        },
        "metadata": {"plan": "gold" if i % 2 else "silver", "region": "us"},
        "currency": "usd",
        "created": 1_700_000_000 + i,
        "livemode": False,
    }


def pages(count: int, run: str):
    for start in range(0, count, PAGE):
        yield [customer(i, run) for i in range(start, min(start + PAGE, count))]


def seed_account(name: str, customers: int):
    """An account, its owner, and a contact for every other customer (by email, with an older phone)."""
    from django.contrib.auth import get_user_model

    from accounts.services import account_create
    from contacts_import.models import Contact

    account = account_create(name=name, owner_username=name, password="bench-password-0")
    user = get_user_model().objects.get(username=name)
    for start in range(0, customers, 5000):
        Contact.objects.bulk_create(
            Contact(
                account=account,
                type="person",
                email=f"customer{i}@example{i % 97}.com",
                email_domain=f"example{i % 97}.com",
                phone="000",
                first_name="Old",
            )
            for i in range(start, min(start + 5000, customers), 2)
        )
    return account, user


def analyze() -> None:
    """Table statistics after the bulk seed, as autovacuum keeps them in production (a fresh table has none)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


class QueryCounter:
    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def run_import(account, user, customers: int, run: str, *, traced: bool = False) -> dict:
    from django.db import connection

    from contacts_import.models import ImportJob
    from contacts_import.services.jobs import import_job_claim
    from contacts_import.services.pages import page_write

    job = ImportJob.objects.create(account=account, created_by=user, type="person", mappings=MAPPINGS, new_contact=True)
    _, token = import_job_claim(job_id=job.pk)
    counter = QueryCounter()
    peaks = []
    total = (customers + PAGE - 1) // PAGE
    started = time.perf_counter()
    with connection.execute_wrapper(counter):
        for n, page in enumerate(pages(customers, run), start=1):
            job = page_write(job_id=job.pk, token=token, customers=page, has_more=n < total)
            if traced and (n * PAGE) % 10_000 == 0:
                peaks.append(round(tracemalloc.get_traced_memory()[1] / 2**20, 2))
                tracemalloc.reset_peak()
    seconds = time.perf_counter() - started
    return {"job": job, "seconds": seconds, "queries": counter.count, "peaks": peaks}


def run_baseline(account, user, customers: int, run: str) -> dict:
    """The seed's algorithm (queues/billing/contacts/person.js): per customer, find by email + type + account,
    then update that contact or create one; one statement each, no transaction around them."""
    from contacts_import import mapping
    from contacts_import.models import Contact

    mappings = mapping.mapping_validate(MAPPINGS)
    added = updated = 0
    started = time.perf_counter()
    for page in pages(customers, run):
        for obj in page:
            mapped = mapping.map_customer(obj, mappings, contact_type="person")
            contact = Contact.objects.filter(account=account, type="person", email=mapped.email).first()
            if contact is not None:
                for column, value in mapped.columns.items():
                    setattr(contact, column, value)
                contact.custom_fields = {**contact.custom_fields, **mapped.custom}
                contact.stripe_customer_id = mapped.stripe_customer_id
                contact.save()
                updated += 1
            else:
                Contact(
                    account=account,
                    type="person",
                    source="stripe",
                    stripe_customer_id=mapped.stripe_customer_id,
                    owner=user,
                    created_by=user,
                    custom_fields=mapped.custom,
                    **mapped.columns,
                ).save()
                added += 1
    return {"seconds": time.perf_counter() - started, "added": added, "updated": updated}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--baseline", type=int, default=10_000, help="customers for the one-by-one baseline")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args(argv)

    vendor = prepare_database()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_project.settings")
    os.environ.setdefault("BILLING_DEV_DEFAULTS", "1")  # a local bench: the development secrets will do
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DEBUG"] = "0"
    os.environ["REDIS_URL"] = ""  # the progress events go to the in-memory channel layer: no Redis needed
    import django

    django.setup()
    from django.core.management import call_command

    from contacts_import.models import Contact

    call_command("migrate", verbosity=0)

    account, user = seed_account("bench", args.customers)
    analyze()
    timed = run_import(account, user, args.customers, "a")
    job = timed["job"]
    half = (args.customers + 1) // 2
    ok = (job.status, job.processed, job.added, job.updated, job.errors) == (
        "completed",
        args.customers,
        args.customers - half,
        half,
        0,
    ) and Contact.objects.filter(account=account).count() == args.customers

    peaks = []
    if not args.skip_memory:
        traced_account, traced_user = seed_account("bench-traced", args.customers)
        analyze()
        tracemalloc.start()
        peaks = run_import(traced_account, traced_user, args.customers, "b", traced=True)["peaks"]
        tracemalloc.stop()

    base_account, base_user = seed_account("bench-baseline", args.baseline)
    analyze()
    baseline = run_baseline(base_account, base_user, args.baseline, "c")

    rate = args.customers / timed["seconds"]
    base_rate = args.baseline / baseline["seconds"]
    try:
        load = [round(x, 1) for x in os.getloadavg()]
    except OSError:
        load = None
    line = {
        "bench": "contacts_import",
        "database": vendor,
        "customers": args.customers,
        "added": job.added,
        "updated": job.updated,
        "seconds": round(timed["seconds"], 2),
        "contacts_per_s": round(rate, 1),
        "queries_per_customer": round(timed["queries"] / args.customers, 4),
        "queries_per_page": round(timed["queries"] / job.pages, 2),
        "peak_traced_mb_per_10k": peaks,
        "baseline_customers": args.baseline,
        "baseline_contacts_per_s": round(base_rate, 1),
        "ratio": round(rate / base_rate, 1),
        "load_average": load,
        "ok": ok,
    }
    print(json.dumps(line))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
