"""Initial sync cost per object: seeds a local Stripe, runs the sync in this process (Celery eager), prints one
JSON line.

    python bench/sync.py                       # SQLite (a fresh file), 10,000 customers ...
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test python bench/sync.py   # a fresh `test_bench_sync` database
    python bench/sync.py --customers 1000 --subscriptions 500 --payments 500 --products 50   # quicker
    python bench/sync.py --serve &             # seed once (prints {"stripe_base": URL}), then sync it twice:
    python bench/sync.py --stripe-base URL; DATABASE_URL=... python bench/sync.py --stripe-base URL

The database side is measured apart from Stripe's: time inside the mirror's upserts, and time outside the calls to
Stripe (the local Stripe is slow and single-threaded, which says nothing about us). Queries are counted with
`connection.execute_wrapper` around the whole sync. Seeding runs in a child process, so the peak RSS of this
process is Django plus the sync.
"""

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STRIPE_KEY = "sk_test_bench_sync_0000000000000000000000000000000000000000"
CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}


# --- the local Stripe and its seeding (the child process) ---------------------------------------------------
def start_fake_stripe() -> tuple[subprocess.Popen, str]:
    from localdev.processes import free_port, wait_for_port

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "localdev.fake_stripe", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, process=process, timeout=30)
    return process, f"http://127.0.0.1:{port}"


class Http:
    """JSON calls on the local Stripe (it accepts JSON bodies), one keep-alive session per thread."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self._local = threading.local()

    def call(self, method: str, path: str, **body) -> dict:
        import requests

        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.headers["Authorization"] = f"Bearer {STRIPE_KEY}"
        if method == "GET":
            response = session.get(self.base_url + path, params=body, timeout=120)
        else:
            response = session.request(method, self.base_url + path, json=body or None, timeout=120)
        response.raise_for_status()
        return response.json()


def seed(base_url: str, args) -> dict:
    """Creates the objects with `args.workers` concurrent requests; answers what each kind cost."""
    http = Http(base_url)
    costs = {}

    def timed(name, count, function, items):
        started = time.perf_counter()
        with ThreadPoolExecutor(args.workers) as pool:
            results = list(pool.map(function, items))
        costs[name] = {"count": count, "seconds": round(time.perf_counter() - started, 2)}
        return results

    def customer(n):
        c = http.call("POST", "/v1/customers", email=f"c{n}@bench.example", name=f"Customer {n}")
        pm = http.call("POST", "/v1/payment_methods", type="card", card=CARD)
        http.call("POST", f"/v1/payment_methods/{pm['id']}/attach", customer=c["id"])
        return c["id"], pm["id"]

    def product(n):
        p = http.call("POST", "/v1/products", name=f"Product {n}", type="service")
        return http.call(
            "POST", "/v1/prices", product=p["id"], unit_amount=500 + n, currency="usd", recurring={"interval": "month"}
        )["id"]

    customers = timed("customers_with_card", args.customers, customer, range(args.customers))
    prices = timed("products_with_price", args.products, product, range(args.products))

    def subscription(n):
        customer_id, pm_id = customers[n]
        http.call("POST", f"/v1/customers/{customer_id}", invoice_settings={"default_payment_method": pm_id})
        http.call("POST", "/v1/subscriptions", customer=customer_id, items=[{"price": prices[n % len(prices)]}])

    def payment(n):
        customer_id, pm_id = customers[-1 - n]
        intent = http.call(
            "POST", "/v1/payment_intents", amount=1000 + n, currency="usd", customer=customer_id, payment_method=pm_id
        )
        http.call("POST", f"/v1/payment_intents/{intent['id']}/confirm")

    timed("subscriptions_with_invoice_and_charge", args.subscriptions, subscription, range(args.subscriptions))
    timed("payments", args.payments, payment, range(args.payments))
    charges = [c["id"] for c in http.call("GET", "/v1/charges", limit=args.refunds)["data"]]
    timed("refunds", len(charges), lambda c: http.call("POST", "/v1/refunds", charge=c, amount=100), charges)
    timed(
        "payouts",
        args.payouts,
        lambda n: http.call("POST", "/v1/payouts", amount=5000 + n, currency="eur", status="paid"),
        range(args.payouts),
    )
    return costs


# --- the sync (this process) --------------------------------------------------------------------------------
def prepare_database() -> str:
    """A fresh database for the bench, never the development one."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        path = Path(tempfile.mkdtemp(prefix="bench-sync-")) / "bench.sqlite3"
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
        return "sqlite"
    import psycopg

    parts = urlsplit(url)
    name = f"{parts.path.strip('/') or 'postgres'}_bench_sync"  # beside the given database, never in it
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{name}"))
    return "postgresql"


def run_sync(base_url: str, profile: str | None = None) -> dict:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_project.settings")
    os.environ.setdefault("BILLING_DEV_DEFAULTS", "1")  # a local bench: the development secrets will do
    os.environ["STRIPE_API_BASE"] = base_url
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from accounts.services import account_create
    from billing.models import SyncResource, SyncRun
    from billing.services.connection import connection_connect
    from billing.stripe import client as stripe_client
    from billing.stripe import mirror
    from billing_project.celery import app as celery_app

    call_command("migrate", verbosity=0)
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    # What a worker does once at start (Django's system checks, task modules): not the sync's cost.
    celery_app.loader.init_worker()
    account = account_create(name="Bench", owner_username="bench", password="bench-password-0")
    user = get_user_model().objects.get(username="bench")

    clock = {"stripe": 0.0, "upsert": 0.0, "upsert_queries": 0, "queries": 0, "in_upsert": False}
    real_request, real_upsert = stripe_client.StripeClient.request, mirror.upsert_objects

    def timed_request(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return real_request(self, *args, **kwargs)
        finally:
            clock["stripe"] += time.perf_counter() - started

    def timed_upsert(*args, **kwargs):
        started, clock["in_upsert"] = time.perf_counter(), True
        try:
            return real_upsert(*args, **kwargs)
        finally:
            clock["upsert"] += time.perf_counter() - started
            clock["in_upsert"] = False

    def count_queries(execute, sql, params, many, context):
        clock["queries"] += 1
        clock["upsert_queries"] += clock["in_upsert"]
        return execute(sql, params, many, context)

    stripe_client.StripeClient.request = timed_request
    mirror.upsert_objects = timed_upsert
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
    started = time.perf_counter()
    with connection.execute_wrapper(count_queries):
        if profiler:
            profiler.enable()
        connection_connect(account=account, user=user, secret_key=STRIPE_KEY)
        if profiler:
            profiler.disable()
    wall = time.perf_counter() - started
    if profiler:
        profiler.dump_stats(profile)
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    run = SyncRun.objects.get(account=account)
    synced = dict(SyncResource.objects.filter(run=run).values_list("resource", "synced"))
    objects = sum(synced.values())
    outside_stripe = wall - clock["stripe"]
    return {
        "status": run.status,
        "objects": objects,
        "synced": synced,
        "wall_seconds": round(wall, 2),
        "stripe_seconds": round(clock["stripe"], 2),
        "upsert_seconds": round(clock["upsert"], 2),
        "db_objects_per_second_upsert": round(objects / clock["upsert"]),
        "objects_per_second_excluding_stripe": round(objects / outside_stripe),
        "queries": clock["queries"],
        "queries_per_object": round(clock["queries"] / objects, 4),
        "upsert_queries_per_object": round(clock["upsert_queries"] / objects, 4),
        "peak_rss_mb": round(rss_peak / 1024, 1),
        "rss_growth_during_sync_mb": round((rss_peak - rss_before) / 1024, 1),
    }


def seed_in_child(base_url: str, argv: list[str]) -> dict:
    """Seeding runs in a child process: its memory never counts in this one's peak."""
    started = time.perf_counter()
    child = subprocess.run(
        [sys.executable, __file__, "--seed-into", base_url, *argv], check=True, capture_output=True, text=True
    )
    return {"seconds": round(time.perf_counter() - started, 1), "by_kind": json.loads(child.stdout)}


def serve(argv: list[str]) -> int:
    """--serve: a seeded local Stripe that stays up (until SIGINT / SIGTERM) for several syncs to read."""
    fake, base_url = start_fake_stripe()

    def stop(*_):
        raise SystemExit(0)  # also while seeding: subprocess.run kills the seeding child on the way out

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)
    try:
        seeding = seed_in_child(base_url, [a for a in argv if a != "--serve"])
        print(json.dumps({"stripe_base": base_url, "seeding": seeding}), flush=True)
        while True:
            signal.pause()
    finally:
        fake.terminate()
        fake.wait(timeout=30)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--products", type=int, default=500)
    parser.add_argument("--subscriptions", type=int, default=5_000)
    parser.add_argument("--payments", type=int, default=5_000, help="one-off charges on top of the subscriptions'")
    parser.add_argument("--refunds", type=int, default=100)
    parser.add_argument("--payouts", type=int, default=100)
    parser.add_argument("--workers", type=int, default=16, help="concurrent seeding requests")
    parser.add_argument("--serve", action="store_true", help="seed a local Stripe, print its URL, keep it up")
    parser.add_argument("--stripe-base", help="sync from this already seeded local Stripe (see --serve)")
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of the sync to FILE (slows it down)")
    parser.add_argument("--seed-into", help=argparse.SUPPRESS)  # the child process: seed this base URL
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if args.seed_into:
        print(json.dumps(seed(args.seed_into, args)))
        return 0
    if args.serve:
        return serve(argv)

    vendor = prepare_database()
    fake = None
    if args.stripe_base:
        base_url, seeding = args.stripe_base, "reused"
    else:
        fake, base_url = start_fake_stripe()
    try:
        if fake is not None:
            seeding = seed_in_child(base_url, argv)
        result = run_sync(base_url, args.profile)
    finally:
        if fake is not None:
            fake.terminate()
            fake.wait(timeout=30)
    line = {"bench": "sync", "database": vendor, **result, "seeding": seeding}
    print(json.dumps({**line, "djstripe_queries_per_object_reported": "5.1-9.0"}))
    return 0 if result["status"] == "completed" else 1


if __name__ == "__main__":
    sys.exit(main())
