"""Attributions over HTTP (issue 15, item 8): 8 concurrent clients posting `POST /api/v1/metering/attributions/`
to daphne (2 processes on one port, as bench/webhooks.py serves), 10 % replays, a quarter of the accounts on a
small quota so that they cross it into their extras. Two phases: single attributions, then batches of 500.
After the run it verifies exactly-once: the units summed in the usage weeks equal the expected total (computed
here from the same costs by metering/units.py), one attribution row per distinct key, no duplicate keys, every
extras ledger balanced (metering_ledger_check), and each week's overflow equal to its debits. Prints one JSON
line.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/wt_metering python bench/metering.py   # a fresh `bench_metering`
    python bench/metering.py --singles 2000 --batches 10                                 # quicker

Without DATABASE_URL it runs on a SQLite file (the development default), whose single writer bounds it.
"""

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.http_load import _Connection, warm_up  # noqa: E402
from bench.processes import daphne_servers, production_env, run  # noqa: E402

SERVER_DATABASE_URL = os.environ.get("DATABASE_URL")
# The server's maintenance database, to create and drop ours (DATABASE_URL's own may not exist).
ADMIN_DATABASE_URL = urlparse(SERVER_DATABASE_URL)._replace(path="/postgres").geturl() if SERVER_DATABASE_URL else None
PATH = "/api/v1/metering/attributions/"
RATIOS = {"gpu": "2.5", "default": "1"}


def fresh_database(name: str, workdir: Path) -> str:
    if not SERVER_DATABASE_URL:
        return f"sqlite:///{workdir / (name + '.sqlite3')}"
    import psycopg

    with psycopg.connect(ADMIN_DATABASE_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlparse(SERVER_DATABASE_URL)._replace(path=f"/{name}").geturl()


def seed(accounts: int, small_every: int) -> list[tuple[str, str, int]]:
    """Accounts with an owner each; every `small_every`-th on a quota it will cross (with a pack for some).
    Answers (account id, bearer token, quota)."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import Account, Membership
    from metering.services.extras import extras_topup_from_session
    from plans.models import AccountSubscription, Plan, PlanVersion

    now = timezone.now()
    big = PlanVersion.objects.create(
        plan=Plan.objects.create(slug="bench-big", name="Big"),
        version=1,
        weekly_quota=10_000_000,
        ratios=RATIOS,
        effective_from=now,
    )
    small = PlanVersion.objects.create(
        plan=Plan.objects.create(slug="bench-small", name="Small"),
        version=1,
        weekly_quota=2_000,
        ratios=RATIOS,
        effective_from=now,
    )
    out = []
    User = get_user_model()
    for i in range(accounts):
        account = Account.objects.create(name=f"Bench metering {i}")
        user = User.objects.create(username=f"bench-metering-{i}")
        Membership.objects.create(user=user, account=account, role=Membership.Role.OWNER)
        version = small if i % small_every == 0 else big
        AccountSubscription.objects.filter(account=account).update(plan=version.plan, plan_version=version)
        if version is small and i % (2 * small_every) == 0:
            extras_topup_from_session(
                session={
                    "id": f"cs_bench_{i}",
                    "mode": "payment",
                    "payment_status": "paid",
                    "amount_total": 1000,
                    "currency": "usd",
                    "payment_intent": f"pi_bench_{i}",
                    "metadata": {"kind": "extras", "pack_id": "extras-1k", "account_id": str(account.pk)},
                }
            )
        token = AccessToken.for_user(user)
        token["account_id"] = str(account.pk)
        out.append((str(account.pk), str(token), version.weekly_quota))
    return out


def costs(rng: random.Random) -> dict:
    return {"gpu": f"{rng.randint(1, 400) / 100000:.5f}", "llm": f"{rng.randint(1, 900) / 100000:.5f}"}


def plan_requests(accounts, *, singles: int, batches: int, batch_size: int, replay: float, seed_: int):
    """(account index, body) per request, and the distinct (account, key) → costs."""
    rng = random.Random(seed_)
    distinct: dict[tuple[int, str], dict] = {}
    seen: list[tuple[int, dict]] = []

    def item(n: int) -> tuple[int, dict]:
        if seen and rng.random() < replay:
            return rng.choice(seen)  # a replay: the same key and costs
        account = rng.randrange(len(accounts))
        body = {"history_id": f"h{n}", "step_key": f"s{rng.randint(0, 3)}", "costs": costs(rng)}
        distinct[(account, f"{body['history_id']}:{body['step_key']}")] = body["costs"]
        seen.append((account, body))
        return account, body

    single = [item(n) for n in range(singles)]
    batched = []
    for b in range(batches):
        account = rng.randrange(len(accounts))
        items = []
        for j in range(batch_size):
            n = singles + b * batch_size + j
            if seen and rng.random() < replay:
                candidates = [body for a, body in seen[-5000:] if a == account]
                if candidates:
                    items.append(rng.choice(candidates))
                    continue
            body = {"history_id": f"h{n}", "step_key": "s0", "costs": costs(rng)}
            distinct[(account, f"h{n}:s0")] = body["costs"]
            seen.append((account, body))
            items.append(body)
        batched.append((account, {"attributions": items}))
    return single, batched, distinct


async def _post(base_url: str, requests, tokens, clients: int):
    url = urlparse(base_url)
    cursor = iter(range(len(requests)))
    statuses: dict[int, int] = {}
    latencies: list[float] = []

    async def client():
        connection = _Connection(url.hostname, url.port)
        for index in cursor:
            account, body = requests[index]
            data = json.dumps(body).encode()
            headers = {"Content-Type": "application/json", "Authorization": f"Bearer {tokens[account]}"}
            started = time.perf_counter()
            status = await asyncio.wait_for(connection.request("POST", PATH, data, headers), 120)
            latencies.append((time.perf_counter() - started) * 1000)
            statuses[status] = statuses.get(status, 0) + 1
        connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return time.perf_counter() - started, statuses, sorted(latencies)


def pct(values, p):
    return round(values[min(len(values) - 1, int(p / 100 * len(values)))], 1) if values else None


def verify(accounts, distinct) -> dict:
    from django.conf import settings
    from django.db.models import Count, Sum

    from metering.models import Attribution, LedgerEntry, UsageWeek
    from metering.selectors.checks import ledger_differences
    from metering.units import units_from_costs

    def units_of(c):
        return units_from_costs(
            {k: Decimal(v) for k, v in c.items()},
            ratios=RATIOS,
            dollars_to_unit_ratio=settings.DOLLARS_TO_UNIT_RATIO,
            run_base=settings.METER_RUN_BASE,
            max_units=settings.MAX_UNITS_PER_OPERATION,
        ).units

    expected = sum(units_of(c) for c in distinct.values())
    used = UsageWeek.objects.aggregate(s=Sum("meter_used"))["s"] or 0
    overflow = UsageWeek.objects.aggregate(s=Sum("overflow_units"))["s"] or 0
    debited = -(LedgerEntry.objects.filter(kind="debit").aggregate(s=Sum("amount"))["s"] or 0)
    duplicates = Attribution.objects.values("account_id", "key").annotate(n=Count("id")).filter(n__gt=1).count()
    rows = Attribution.objects.count()
    ledger = ledger_differences()
    crossed = UsageWeek.objects.filter(overflow_units__gt=0).count()
    return {
        "expected_units": expected,
        "units_in_weeks": used,
        "attribution_rows": rows,
        "distinct_keys": len(distinct),
        "duplicate_keys": duplicates,
        "overflow_units": overflow,
        "debited_units": debited,
        "accounts_in_extras": crossed,
        "ledger_differences": len(ledger),
        "exactly_once": used == expected
        and rows == len(distinct)
        and not duplicates
        and not ledger
        and overflow == debited,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=40)
    parser.add_argument("--small-every", type=int, default=4, help="every Nth account crosses its quota")
    parser.add_argument("--singles", type=int, default=4_000)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--replay", type=float, default=0.10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--servers", type=int, default=2)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-metering-"))
    db_url = fresh_database("bench_metering", workdir)
    env = production_env(
        workdir,
        DATABASE_URL=db_url,
        CELERY_BROKER_URL="memory://",
        STRIPE_SECRET_KEY="sk_test_bench_metering",  # never called: no pack is bought over HTTP here
        STRIPE_WEBHOOK_SECRET="whsec_bench_metering",
    )
    log = workdir / "metering.log"
    run([sys.executable, "manage.py", "migrate", "-v", "0"], env=env, cwd=ROOT, log=log)
    os.environ.update(env)
    import django

    django.setup()
    accounts = seed(args.accounts, args.small_every)
    tokens = [token for _, token, _ in accounts]
    single, batched, distinct = plan_requests(
        accounts, singles=args.singles, batches=args.batches, batch_size=args.batch_size, replay=args.replay, seed_=7
    )
    daphne = str(Path(sys.executable).with_name("daphne"))
    with daphne_servers(
        daphne,
        "billing_project.asgi:application",
        count=args.servers,
        env=env,
        cwd=ROOT,
        log=log,
        ready_path="/healthz",
    ) as base_url:
        warm_up(base_url, "/healthz", count=20 * args.servers)
        load_before = os.getloadavg()
        single_s, single_status, single_lat = asyncio.run(_post(base_url, single, tokens, args.clients))
        batch_s, batch_status, batch_lat = asyncio.run(_post(base_url, batched, tokens, args.clients))
        load_after = os.getloadavg()
    items_batched = sum(len(body["attributions"]) for _, body in batched)
    result = {
        "database": "postgresql" if SERVER_DATABASE_URL else "sqlite",
        "clients": args.clients,
        "servers": args.servers,
        "single": {
            "requests": len(single),
            "attributions_per_s": round(len(single) / single_s, 1),
            "p50_ms": pct(single_lat, 50),
            "p99_ms": pct(single_lat, 99),
            "statuses": single_status,
        },
        "batched": {
            "batches": len(batched),
            "batch_size": args.batch_size,
            "attributions_per_s": round(items_batched / batch_s, 1),
            "p50_ms_per_batch": pct(batch_lat, 50),
            "p99_ms_per_batch": pct(batch_lat, 99),
            "statuses": batch_status,
        },
        "replay_share": args.replay,
        "verify": verify(accounts, distinct),
        "load_average_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
    }
    print(json.dumps(result))
    if SERVER_DATABASE_URL:
        import psycopg
        from django.db import connections

        connections.close_all()
        with psycopg.connect(ADMIN_DATABASE_URL, autocommit=True) as conn:
            conn.execute('DROP DATABASE IF EXISTS "bench_metering" WITH (FORCE)')
    return 0 if result["verify"]["exactly_once"] else 1


if __name__ == "__main__":
    sys.exit(main())
