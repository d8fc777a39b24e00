"""Webhook intake and processing benchmark (not a test). Prints ONE JSON line.

    /work/main/.venv/bin/python bench/webhooks.py [--deliveries 22000] [--servers 2] [--clients 16] [--workers 2]
        [--workers-after-intake] [--skip-djstripe]

What runs, all on 127.0.0.1:
- the local Stripe (localdev.fake_stripe), seeded through its API with a small business; the events are
  built around those real objects (bench/webhook_events.py), 20 types in a realistic mix, ~2.3 KB each;
- ours: `daphne billing_project.asgi:application` x --servers, each on its own SO_REUSEPORT socket of one port
  (`daphne --fd`: the kernel spreads connections evenly between the processes); a real Celery worker (prefork,
  --workers processes) on Redis (REDIS_URL, or the embedded valkey); the database from DATABASE_URL (a fresh
  `bench_webhooks` database on that PostgreSQL server) or a fresh SQLite file in WAL mode;
- concurrent HTTP/1.1 clients (keep-alive, lean asyncio: bench/http_load.py) posting --deliveries signed
  deliveries: distinct events for --accounts accounts and the platform, plus 10 % re-deliveries (half right
  after the original, half later); the workers process while intake runs, or, with --workers-after-intake,
  start once it is over (each side measured without the other on the two cores);
- the CPU time each role used from the first delivery to the last event processed (bench/cpu_profile.py: web,
  workers, the PostgreSQL backends, the broker, this load generator), per delivery: unlike the rate, it holds
  on a machine shared with other work;
- then dj-stripe 2.11 (own virtualenv, var/bench-djstripe-venv, created on first run) served the same way on the
  first --djstripe-deliveries of the same deliveries, calling the local Stripe as it processes. dj-stripe
  processes in the request, so its answer rate is also its processing rate.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.cpu_profile import CpuProfile  # noqa: E402
from bench.http_load import post_all, warm_up  # noqa: E402
from bench.processes import celery_worker, daphne_servers, environ, fake_stripe, production_env, run  # noqa: E402
from bench.webhook_events import generate, seed  # noqa: E402

PLATFORM_SECRET = "whsec_bench_platform_secret"
DJSTRIPE_VENV = ROOT / "var" / "bench-djstripe-venv"
DJSTRIPE_REQUIREMENTS = [
    "dj-stripe==2.11.*",
    "stripe==15.*",
    "Django>=5.2,<5.3",
    "daphne==4.2.3",
    "psycopg[binary]",
    "dj-database-url",
]
TEST_KEY = "sk_test_51BenchWebhooks" + "0" * 80
# As given by the caller (run_ours points os.environ at its own database afterwards).
SERVER_DATABASE_URL = os.environ.get("DATABASE_URL")


def account_secret(index: int) -> str:
    return f"whsec_bench_account_{index:03d}"


def fresh_database(name: str, workdir: Path) -> tuple[str, str]:
    """A new empty database: on DATABASE_URL's PostgreSQL server when set, else a SQLite file."""
    base = SERVER_DATABASE_URL
    if not base:
        return f"sqlite:///{workdir / (name + '.sqlite3')}", "sqlite-wal"
    import psycopg

    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlparse(base)._replace(path=f"/{name}").geturl(), "postgresql"


def drop_database(url: str) -> None:
    if url.startswith("sqlite"):
        return
    import psycopg

    name = urlparse(url).path.lstrip("/")
    with psycopg.connect(SERVER_DATABASE_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- ours ------------------------------------------------------------------------------------------------------


def seed_accounts(count: int) -> list[str]:
    from accounts.models import Account
    from billing.models import StripeConnection

    ids = []
    for i in range(count):
        account = Account.objects.create(name=f"Bench account {i}")
        StripeConnection.objects.create(
            account=account,
            auth_mode="secret_key",
            secret_key=TEST_KEY,
            webhook_secret=account_secret(i),
            status="ready",
        )
        ids.append(str(account.pk))
    return ids


def processing_stats(distinct: int, intake_end: float, timeout: float, started: float | None = None) -> dict:
    """The workers' figures: from the first event received (or first claimed, when the workers `started`
    after intake) to the last one processed."""
    from django.db.models import Count, Max, Min

    from billing.models import WebhookEvent

    waiting = ("pending", "processing", "failed")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not WebhookEvent.objects.filter(status__in=waiting).exists():
            break
        time.sleep(0.5)
    by_status = dict(WebhookEvent.objects.values_list("status").annotate(n=Count("id")))
    span = WebhookEvent.objects.aggregate(first=Min("received_at"), last=Max("processed_at"))
    done = by_status.get("processed", 0) + by_status.get("ignored", 0)
    # After intake: from the first claim, so that the worker's own start-up is not counted.
    first = WebhookEvent.objects.aggregate(first=Min("claimed_at"))["first"] if started else span["first"]
    seconds = (span["last"] - first).total_seconds() if span["last"] else None
    return {
        "stored_rows": sum(by_status.values()),
        "distinct_events": distinct,
        "by_status": by_status,
        "events_per_s": round(done / seconds, 1) if seconds else None,
        "first_received_to_last_processed_s": round(seconds, 2) if seconds else None,
        "drain_after_intake_s": round(max(0.0, span["last"].timestamp() - intake_end), 2) if span["last"] else None,
        "timed_out": bool(WebhookEvent.objects.filter(status__in=waiting).exists()),
    }


def run_ours(args, deliveries, distinct, workdir: Path, redis_url: str) -> dict:
    db_url, db_kind = fresh_database("bench_webhooks", workdir)
    env = production_env(
        workdir,
        DATABASE_URL=db_url,
        REDIS_URL=redis_url,
        STRIPE_SECRET_KEY=TEST_KEY,
        STRIPE_WEBHOOK_SECRET=PLATFORM_SECRET,
    )
    worker_env = {**env, "DB_CONN_MAX_AGE": "600"}  # the worker's processes reuse their connections
    py, log = sys.executable, workdir / "ours.log"
    run([py, "manage.py", "migrate", "-v", "0"], env=env, cwd=ROOT, log=log)
    os.environ.update(env)
    import django

    django.setup()
    from django.urls import reverse

    account_ids = seed_accounts(args.accounts)
    requests = [
        (
            reverse("billing:webhook-account", kwargs={"account_id": account_ids[d.account_index]})
            if d.account_index >= 0
            else reverse("billing:webhook-platform"),
            json.dumps(d.event).encode(),
            account_secret(d.account_index) if d.account_index >= 0 else PLATFORM_SECRET,
        )
        for d in deliveries
    ]
    daphne = str(Path(sys.executable).with_name("daphne"))
    with (
        daphne_servers(
            daphne,
            "billing_project.asgi:application",
            count=args.servers,
            env=env,
            cwd=ROOT,
            log=log,
            ready_path="/healthz",
        ) as base_url,
        celery_worker(py, concurrency=args.workers, env=worker_env, cwd=ROOT, log=log)
        if args.workers and not args.workers_after_intake
        else nullcontext(),
    ):
        warm_up(base_url, "/healthz", count=20 * args.servers)
        cpu = CpuProfile(database=urlparse(db_url).path.lstrip("/") if db_kind == "postgresql" else None)
        cpu.start()
        cpu_started = time.monotonic()
        load = post_all(base_url, requests, args.clients)
        intake_end = time.time()
        processing = None
        if args.workers and not args.workers_after_intake:
            processing = processing_stats(distinct, intake_end, args.drain_timeout)
        cpu.stop()  # intake and, unless --workers-after-intake, processing to the last event
        cpu_wall = time.monotonic() - cpu_started
    if args.workers and args.workers_after_intake:
        with celery_worker(py, concurrency=args.workers, env=worker_env, cwd=ROOT, log=log):
            started = time.time()
            processing = processing_stats(distinct, intake_end, args.drain_timeout, started=started)
    # Without workers (or past the drain timeout) messages are left in the broker: not for the next user of it.
    run([py, "-m", "celery", "-A", "billing_project", "purge", "-f"], env=env, cwd=ROOT, log=log)
    from django.db import connections

    connections.close_all()
    drop_database(db_url)
    return {
        "database": db_kind,
        "intake": load.summary(len(requests)),
        "processing": processing,
        "cpu": cpu.summary(len(requests), cpu_wall),
    }


# --- dj-stripe -------------------------------------------------------------------------------------------------


def ensure_djstripe_venv(log: Path) -> Path:
    python = DJSTRIPE_VENV / "bin" / "python"
    if not python.exists():
        run([sys.executable, "-m", "venv", str(DJSTRIPE_VENV)], env=environ(), cwd=ROOT, log=log)
        run([str(python), "-m", "pip", "install", "-q", *DJSTRIPE_REQUIREMENTS], env=environ(), cwd=ROOT, log=log)
    return python


def run_djstripe(args, deliveries, workdir: Path, stripe_base: str) -> dict:
    log = workdir / "djstripe.log"
    python = ensure_djstripe_venv(log)
    version = run(
        [str(python), "-c", "from importlib.metadata import version as v; print(v('dj-stripe'), v('stripe'))"],
        env=environ(),
        cwd=ROOT,
        log=log,
    ).split()
    db_url, db_kind = fresh_database("bench_djstripe", workdir)
    env = environ(
        DJANGO_SETTINGS_MODULE="bench.djstripe_peer.settings",
        DATABASE_URL=db_url,
        STRIPE_API_BASE=stripe_base,
        STRIPE_TEST_SECRET_KEY=TEST_KEY,
        PYTHONPATH=str(ROOT),
    )
    run([str(python), "-m", "django", "migrate", "-v", "0"], env=env, cwd=ROOT, log=log)
    secrets = [account_secret(i) for i in range(args.accounts)] + [PLATFORM_SECRET]
    paths = json.loads(
        run(
            [str(python), "-m", "bench.djstripe_peer.setup_endpoints"],
            env=env,
            cwd=ROOT,
            log=log,
            stdin=json.dumps(secrets),
        )
    )
    requests = [(paths[d.account_index], json.dumps(d.event).encode(), secrets[d.account_index]) for d in deliveries]
    daphne = str(DJSTRIPE_VENV / "bin" / "daphne")
    with daphne_servers(
        daphne,
        "bench.djstripe_peer.asgi:application",
        count=args.servers,
        env=env,
        cwd=ROOT,
        log=log,
        ready_path=paths[0],
    ) as base_url:
        warm_up(base_url, paths[0], count=20 * args.servers)
        load = post_all(base_url, requests, args.clients)
    counts = run([str(python), "-c", DJSTRIPE_COUNTS], env=env, cwd=ROOT, log=log)
    drop_database(db_url)
    return {
        "version": {"dj-stripe": version[0], "stripe": version[1]},
        "database": db_kind,
        "intake_and_processing": load.summary(len(requests)),
        "stored": json.loads(counts),
    }


DJSTRIPE_COUNTS = """
import django, json; django.setup()
from django.db.models import Count
from djstripe.models import Event, WebhookEventTrigger
errors = WebhookEventTrigger.objects.exclude(exception="")
top = errors.values_list("exception").annotate(n=Count("id")).order_by("-n")[:6]
print(json.dumps({"events": Event.objects.count(), "triggers": WebhookEventTrigger.objects.count(),
                  "triggers_with_error": errors.count(),
                  "top_errors": {message[:80]: n for message, n in top}}))
"""


# --- main ------------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deliveries", type=int, default=22_000, help="distinct events + 10 %% re-deliveries")
    parser.add_argument("--duplicates", type=float, default=0.10)
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--platform-ratio", type=float, default=0.10)
    parser.add_argument("--servers", type=int, default=2, help="daphne processes on one socket")
    parser.add_argument("--clients", type=int, default=16, help="concurrent HTTP clients")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--drain-timeout", type=float, default=600)
    parser.add_argument(
        "--workers-after-intake",
        action="store_true",
        help="start the workers once intake is over: each side measured without the other on the cores",
    )
    parser.add_argument("--skip-djstripe", action="store_true")
    parser.add_argument(
        "--djstripe-deliveries",
        type=int,
        default=1100,
        help="dj-stripe gets the first N of the same deliveries (it processes in the request: a few per second)",
    )
    args = parser.parse_args()

    workdir = ROOT / "var" / "bench-webhooks" / datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    workdir.mkdir(parents=True, exist_ok=True)
    with fake_stripe(
        sys.executable, env=environ(PYTHONPATH=str(ROOT)), cwd=ROOT, log=workdir / "fake_stripe.log"
    ) as base:
        result = measure(args, workdir, base)
    result["logs"] = str(workdir.relative_to(ROOT))
    print(json.dumps(result))


def measure(args, workdir: Path, stripe_base: str) -> dict:
    seeded = seed(stripe_base, TEST_KEY)
    deliveries, distinct = generate(
        seeded,
        accounts=args.accounts,
        total=args.deliveries,
        duplicate_ratio=args.duplicates,
        platform_ratio=args.platform_ratio,
    )
    sizes = [len(json.dumps(d.event)) for d in deliveries]
    result = {
        "bench": "webhooks",
        "command": "python bench/webhooks.py " + " ".join(sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "deliveries": len(deliveries),
        "distinct_events": distinct,
        "redeliveries": len(deliveries) - distinct,
        "mean_body_bytes": round(sum(sizes) / len(sizes)),
        "event_types": len({d.event["type"] for d in deliveries}),
        "setup": {
            "daphne_processes": args.servers,
            "http_clients": args.clients,
            "celery_processes": args.workers,
            "accounts": args.accounts,
        },
    }
    from localdev.embedded_redis import embedded_redis

    if os.environ.get("REDIS_URL"):
        result["broker"] = "redis (REDIS_URL)"
        result["ours"] = run_ours(args, deliveries, distinct, workdir, os.environ["REDIS_URL"])
    else:
        result["broker"] = "redis (embedded valkey)"
        with embedded_redis() as redis_url:
            result["ours"] = run_ours(args, deliveries, distinct, workdir, redis_url)

    if args.skip_djstripe:
        result["djstripe"] = {"skipped": "--skip-djstripe"}
    else:
        try:
            result["djstripe"] = run_djstripe(args, deliveries[: args.djstripe_deliveries], workdir, stripe_base)
        except (RuntimeError, OSError, subprocess.SubprocessError, ValueError) as exc:
            result["djstripe"] = {"error": str(exc)}
    peer = result["djstripe"].get("intake_and_processing")
    if peer and peer.get("events_per_s"):
        ours = result["ours"]["intake"]
        result["ratio_ours_to_djstripe"] = {
            "acknowledged_per_s": round(ours["events_per_s"] / peer["events_per_s"], 2),
            "answered_per_s": round(ours["answered_per_s"] / peer["answered_per_s"], 2),
            "p50_latency": round(peer["p50_ms"] / ours["p50_ms"], 2) if ours["p50_ms"] else None,
            "p99_latency": round(peer["p99_ms"] / ours["p99_ms"], 2) if ours["p99_ms"] else None,
        }
    return result


if __name__ == "__main__":
    main()
