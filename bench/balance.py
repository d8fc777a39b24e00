"""OneBalance usage debits under concurrency (issue 14): 8 client processes debit usage across 100 sub-accounts,
10 % of the requests replaying a usage key already sent (often by another client at the same moment), through
the service the API calls (`marketplace.services.balance.usage_debit`: lock the balance row, check the key, check
the balance, append the entry, move the cached balance). Prints one JSON line: debits per second, latency, and the
checks made after the run: every balance equals the sum of its entries, no usage key applied twice, every
balance equals its credit less its distinct keys' amounts.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/wt_market python bench/balance.py   # a fresh <db>_bench_balance
    python bench/balance.py --clients 8 --accounts 100 --debits 2000 --replays 0.10      # the defaults

SQLite runs too (a fresh file), but its single write lock serialises the clients: the figure that means something
is PostgreSQL's."""

import argparse
import json
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.databases import fresh_postgres_database  # noqa: E402

CREDIT = 10_000_000  # cents per sub-account: enough that no debit of the run is refused


def prepare_database() -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        path = Path(tempfile.mkdtemp(prefix="bench-balance-")) / "bench.sqlite3"
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
        return "sqlite"
    os.environ["DATABASE_URL"] = fresh_postgres_database(url, "bench_balance")
    return "postgresql"


def setup_django(migrate: bool = False):
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_project.settings")
    os.environ.setdefault("BILLING_DEV_DEFAULTS", "1")  # a local bench: the development secrets will do
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)


def seed(accounts: int) -> list[str]:
    """An agency (a Stripe connection row: no Stripe is called by a debit) and its sub-accounts, each credited
    through a staff adjustment (a ledger entry like any other)."""
    from accounts.models import Account
    from billing.models import StripeConnection
    from marketplace.services.balance import balance_adjust

    agency = Account.objects.create(name="Bench agency")
    StripeConnection.objects.create(
        account=agency, secret_key="sk_test_" + "b" * 24, status=StripeConnection.Status.READY
    )
    subs = Account.objects.bulk_create([Account(name=f"Sub {i:03d}", parent=agency) for i in range(accounts)])
    for sub in subs:
        balance_adjust(account=sub, amount=CREDIT, description="bench credit", user=None)
    return [str(sub.pk) for sub in subs]


def plan(sub_ids: list[str], *, clients: int, debits: int, replays: float, seed_value: int = 14) -> list[list]:
    """Each client's requests, as (sub-account id, usage key, amount). A replay copies an earlier request (any
    client's), so the same key is often in flight from two clients at once."""
    rng = random.Random(seed_value)
    sent: list[tuple[str, str, int]] = []
    per_client: list[list] = [[] for _ in range(clients)]
    for n in range(debits):
        if sent and rng.random() < replays:
            request = rng.choice(sent[-200:])  # a recent one: likely still in flight elsewhere
        else:
            request = (rng.choice(sub_ids), f"usage-{n:07d}", rng.randint(1, 500))
            sent.append(request)
        per_client[n % clients].append(request)
    return per_client


def client(requests: list, start, results) -> None:
    setup_django()
    from django.db import connections

    from accounts.models import Account
    from marketplace.services.balance import usage_debit

    accounts = {pk: Account.objects.select_related("parent").get(pk=pk) for pk, _, _ in requests}
    latencies, applied, replayed, errors = [], 0, 0, []
    start.wait()
    began = time.perf_counter()
    for pk, key, amount in requests:
        t0 = time.perf_counter()
        try:
            outcome = usage_debit(account=accounts[pk], amount=amount, usage_key=key, description="bench")
        except Exception as exc:  # noqa: BLE001 - counted and reported, the run goes on
            errors.append(f"{type(exc).__name__}: {exc}"[:200])
        else:
            applied += outcome.applied
            replayed += not outcome.applied
        latencies.append(time.perf_counter() - t0)
    results.put(
        {
            "applied": applied,
            "replayed": replayed,
            "errors": errors,
            "latencies": latencies,
            "seconds": time.perf_counter() - began,
        }
    )
    connections.close_all()


def verify(per_client: list[list]) -> dict:
    from django.db.models import Count, Sum

    from marketplace.models import Balance, LedgerEntry
    from marketplace.selectors.balance import balances_mismatched

    distinct = {key: (pk, amount) for requests in per_client for pk, key, amount in requests}
    expected = {}
    for pk, amount in distinct.values():
        expected[pk] = expected.get(pk, 0) + amount
    usage = LedgerEntry.objects.filter(kind="usage")
    twice = usage.values("balance", "ref").annotate(n=Count("id")).filter(n__gt=1).count()
    wrong_totals = sum(1 for b in Balance.objects.all() if b.amount != CREDIT - expected.get(str(b.account_id), 0))
    return {
        "balances_equal_entries": not balances_mismatched(),
        "usage_keys_distinct": len(distinct),
        "usage_entries": usage.count(),
        "keys_applied_twice": twice,
        "balances_off_expected": wrong_totals,
        "debited_total": -(usage.aggregate(s=Sum("amount"))["s"] or 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--debits", type=int, default=2000, help="requests per client")
    parser.add_argument("--replays", type=float, default=0.10)
    args = parser.parse_args()

    vendor = prepare_database()
    setup_django(migrate=True)
    sub_ids = seed(args.accounts)
    per_client = plan(sub_ids, clients=args.clients, debits=args.debits * args.clients, replays=args.replays)
    from django.db import connections

    connections.close_all()  # no connection crosses the fork

    ctx = multiprocessing.get_context("fork")
    start, results = ctx.Event(), ctx.Queue()
    processes = [ctx.Process(target=client, args=(requests, start, results)) for requests in per_client]
    for process in processes:
        process.start()
    time.sleep(1.0)  # let every client finish setting up before the start; not part of the measure
    began = time.perf_counter()
    start.set()
    outcomes = [results.get(timeout=900) for _ in processes]
    wall = time.perf_counter() - began
    for process in processes:
        process.join()

    latencies = sorted(lat for o in outcomes for lat in o["latencies"])
    requests = len(latencies)
    applied = sum(o["applied"] for o in outcomes)
    errors = [e for o in outcomes for e in o["errors"]]
    checks = verify(per_client)
    q = statistics.quantiles(latencies, n=100)
    print(
        json.dumps(
            {
                "bench": "balance_usage_debits",
                "database": vendor,
                "clients": args.clients,
                "sub_accounts": args.accounts,
                "requests": requests,
                "replay_share": args.replays,
                "applied": applied,
                "replayed": sum(o["replayed"] for o in outcomes),
                "errors": len(errors),
                "first_errors": errors[:3],
                "seconds": round(wall, 3),
                "debits_per_second": round(requests / wall, 1),
                "applied_per_second": round(applied / wall, 1),
                "latency_ms": {
                    "p50": round(q[49] * 1000, 2),
                    "p95": round(q[94] * 1000, 2),
                    "p99": round(q[98] * 1000, 2),
                },
                "load_average": [round(x, 2) for x in os.getloadavg()],
                **checks,
            }
        )
    )
    ok = checks["balances_equal_entries"] and not checks["keys_applied_twice"] and not checks["balances_off_expected"]
    ok = ok and checks["usage_entries"] == checks["usage_keys_distinct"] and not errors
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
