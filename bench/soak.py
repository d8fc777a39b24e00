"""The whole product under a mixed load (issue 17, item 5): PostgreSQL + Redis, 2 web (daphne) processes, 3 Celery
workers (one per group of queues) and beat, for --minutes (10 by default), with a worker SIGKILLed and restarted
and Redis restarted once mid-run. Then the queues drain (with a deadline) and the end-of-run checks run; prints
p99 latencies and rates per kind of request and ONE JSON line; exits 1 when a check fails. docs/soak.md.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/wt_soak python bench/soak.py   # a fresh `wt_soak_soak`
    DATABASE_URL=... python bench/soak.py --minutes 2                                  # a shorter try

The load, paced (rates below are per second, all at once):
- webhooks: signed deliveries for --accounts accounts (and 10 % to the platform endpoint), 10 % re-deliveries,
  a little out of order (bench/webhook_events.py, built around the local Stripe's real objects);
- a sync: one account connects its Stripe (Connect, the local Stripe's isolated account) through the API, which
  runs the initial sync; once it has finished, a contact import of that account's customers through the API;
- metering attributions, single and batched (`POST /api/v1/metering/attributions/`), 10 % replays;
- OneBalance usage debits (`POST /api/v1/billing/balance/usage/`), 10 % replays;
- refunds: the synced account's charges (`POST /api/v1/billing/charges/<id>/refund/`) and staff refunds of the
  platform's charges (`POST /api/v1/admin/billing/refunds/`), each with some replays of a refund_request_id.

Redis is a redis-server of the soak's own on a free port, without persistence (`--save "" --appendonly no`): its
restart loses every queued and unacknowledged message, the harshest case; what the broker lost must come back
from the database through the sweepers (webhook events, sync resources, import jobs), which the soak runs on
shorter delays than production so that the drain fits in minutes (SOAK_TIMINGS).
"""

import argparse
import asyncio
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.databases import drop_postgres_database, fresh_postgres_database  # noqa: E402
from bench.http_load import _Connection, stripe_signature, warm_up  # noqa: E402
from bench.processes import _stop, daphne_servers, environ, fake_stripe, production_env, run  # noqa: E402

STRIPE_KEY = "sk_test_51SoakBench" + "0" * 80
PLATFORM_SECRET = "whsec_soak_platform_secret"
SYNCED_WEBHOOK_SECRET = "whsec_soak_synced_account"
METRICS_TOKEN = "soak-metrics-token"
# Workers by queue, one process each (CELERY_TASK_QUEUES): webhooks never wait behind a sync or an import.
WORKERS = {"webhooks": "webhooks", "sync-imports": "sync,imports", "default-metering": "default,metering"}
KILLED_WORKER = "webhooks"
# Production's delays, shortened so that what a killed worker or a Redis restart lost comes back within the drain
# (the same code paths, sooner): a claim's lease, the sweeper's grace, retries' backoff, the sync's and the
# import's re-queue delays.
SOAK_TIMINGS = {
    "WEBHOOK_CLAIM_LEASE_SECONDS": 60,
    "WEBHOOK_SWEEP_GRACE_SECONDS": 30,
    "WEBHOOK_RETRY_BASE_SECONDS": 2,
    "WEBHOOK_RETRY_MAX_SECONDS": 30,
    "BILLING_SYNC_REQUEUE_SECONDS": 60,
    "BILLING_SYNC_RETRY_MAX_SECONDS": 30,
    "CONTACTS_IMPORT_STALE_SECONDS": 60,
    "CONTACTS_IMPORT_RETRY_MAX_SECONDS": 30,
}


# --- processes: our own Redis, the workers ---------------------------------------------------------------------


class OwnRedis:
    """A redis-server of the soak's own (never the shared 6379), on a free port, without persistence."""

    def __init__(self, workdir: Path):
        from localdev.processes import free_port

        self.port, self.workdir, self.process = free_port(), workdir, None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        from localdev.processes import wait_for_port

        with (self.workdir / "redis.log").open("ab") as out:
            self.process = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
                + ["--dir", str(self.workdir)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        wait_for_port(self.port, process=self.process, timeout=30)

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process, signal.SIGTERM, timeout=10)
            self.process = None

    def restart(self, down_seconds: float) -> None:
        self.stop()
        time.sleep(down_seconds)  # a real outage, not a blink: the processes see Redis gone
        self.start()


class Celery:
    """The workers and beat, each in a session of its own so that a SIGKILL reaches a worker's pool too."""

    def __init__(self, env: dict, workdir: Path):
        self.env, self.workdir, self.processes = env, workdir, {}

    def start(self, name: str, args: list[str]) -> None:
        with (self.workdir / f"{name}.log").open("ab") as out:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "billing_project", *args],
                env=self.env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def start_worker(self, name: str, concurrency: int) -> None:
        queues = WORKERS[name]
        self.start(
            f"worker-{name}",
            ["worker", "-Q", queues, "-c", str(concurrency), "-n", f"{name}@soak", "-l", "WARNING"]
            + ["--without-gossip", "--without-mingle"],
        )

    def kill(self, name: str) -> None:
        process = self.processes.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def exited(self) -> list[str]:
        return [name for name, p in self.processes.items() if p.poll() is not None]

    def stop(self) -> None:
        for process in self.processes.values():
            try:
                os.killpg(process.pid, signal.SIGTERM)  # warm shutdown: the task in hand finishes
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 30
        for process in self.processes.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(process.pid, signal.SIGKILL)  # and whatever is left of its group
            except ProcessLookupError:
                pass
            process.wait()
        self.processes.clear()


# --- seeding ---------------------------------------------------------------------------------------------------


def token_for(user, account_id=None) -> str:
    from rest_framework_simplejwt.tokens import AccessToken

    token = AccessToken.for_user(user)
    if account_id is not None:
        token["account_id"] = str(account_id)
    return str(token)


def member(account, username: str):
    from django.contrib.auth import get_user_model

    from accounts.models import Membership

    user = get_user_model().objects.create(username=username)
    Membership.objects.create(user=user, account=account, role=Membership.Role.OWNER)
    return user


def seed_platform_charges(base_url: str, count: int) -> list[str]:
    """Charges of the platform itself (no Stripe-Account), for the staff refunds."""
    from tests.billing.stripe_seed import CARD, Stripe

    api = Stripe(base_url, STRIPE_KEY, retries=2)
    charges = []
    for n in range(count):
        customer = api.post("/v1/customers", email=f"platform{n}@soak.example")
        method = api.post("/v1/payment_methods", type="card", card=CARD)
        api.post(f"/v1/payment_methods/{method['id']}/attach", customer=customer["id"])
        intent = api.post(
            "/v1/payment_intents", amount=5000 + n, currency="usd", customer=customer["id"], payment_method=method["id"]
        )
        confirmed = api.post(f"/v1/payment_intents/{intent['id']}/confirm")
        charge = confirmed.get("latest_charge") or confirmed["charges"]["data"][0]
        charges.append(charge["id"] if isinstance(charge, dict) else charge)
    return charges


def seed_staff():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    user = get_user_model().objects.create(username="soak-staff", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="billing_admin_ops"))
    return user


def seed_balances(count: int) -> tuple[list[str], dict[str, str]]:
    """bench/balance.py's agency and credited sub-accounts, each with a member to call the API as."""
    from accounts.models import Account
    from bench.balance import seed

    sub_ids = seed(count)
    tokens = {}
    for pk in sub_ids:
        tokens[pk] = token_for(member(Account.objects.get(pk=pk), f"soak-sub-{pk}"), pk)
    return sub_ids, tokens


# --- the load --------------------------------------------------------------------------------------------------


class Kind:
    """One kind of request: sent by `clients` connections at `rate` a second (each request at its time, or at once
    when behind), each answer's status and latency recorded."""

    def __init__(self, name: str, rate: float, clients: int, requests: list, stop_at: float):
        self.name, self.rate, self.clients, self.requests, self.stop_at = name, rate, clients, requests, stop_at
        self.statuses: dict[int, int] = {}
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.answered: list[tuple[int, int]] = []  # (index, status)
        self.started = self.ended = None

    async def run(self, base_url: str) -> None:
        url = urlparse(base_url)
        cursor = itertools.count()
        self.started = time.monotonic()

        async def client():
            connection = _Connection(url.hostname, url.port)
            while (index := next(cursor)) < len(self.requests):
                due = self.started + index / self.rate
                if due >= self.stop_at or time.monotonic() >= self.stop_at:
                    break  # the run is over: what a kind fell behind on is not sent (it is counted as planned)
                if (wait := due - time.monotonic()) > 0:
                    await asyncio.sleep(wait)
                method, path, body, headers = self.requests[index]()
                began = time.perf_counter()
                try:
                    status = await asyncio.wait_for(connection.request(method, path, body, headers), 120)
                except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError) as exc:
                    self.errors.append(repr(exc)[:200])
                    connection.close()
                    continue
                self.latencies.append((time.perf_counter() - began) * 1000)
                self.statuses[status] = self.statuses.get(status, 0) + 1
                self.answered.append((index, status))
            connection.close()

        await asyncio.gather(*(client() for _ in range(self.clients)))
        self.ended = time.monotonic()

    def summary(self) -> dict:
        lat = sorted(self.latencies)

        def pct(p):
            return round(lat[min(len(lat) - 1, int(p / 100 * len(lat)))], 1) if lat else None

        seconds = (self.ended or time.monotonic()) - (self.started or time.monotonic())
        return {
            "planned": len(self.requests),
            "requests": len(self.latencies) + len(self.errors),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "transport_errors": len(self.errors),
            "first_errors": self.errors[:2],
            "per_s": round(len(self.latencies) / seconds, 2) if seconds > 0 else None,
            "p50_ms": pct(50),
            "p99_ms": pct(99),
            "max_ms": round(lat[-1], 1) if lat else None,
        }


def json_request(method: str, path: str, body, token: str):
    data = json.dumps(body).encode() if body is not None else b""
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    return lambda: (method, path, data, headers)


def webhook_request(path: str, body: bytes, secret: str):
    def make():
        headers = {
            "Content-Type": "application/json",
            "Stripe-Signature": stripe_signature(body, secret, int(time.time())),
        }
        return "POST", path, body, headers

    return make


def call(base_url: str, method: str, path: str, token: str, body=None, timeout: float = 60) -> tuple[int, dict]:
    """One control call (connect, import, status), whose answer the soak reads."""
    request = urllib.request.Request(
        base_url + path,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def scrape_metrics(base_url: str) -> dict | None:
    """`billing_` series of /metrics (None when the endpoint is absent: 404)."""
    request = urllib.request.Request(base_url + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode()
    except urllib.error.HTTPError as exc:
        return None if exc.code == 404 else {"error": exc.code}
    except OSError as exc:
        return {"error": repr(exc)}
    series = {}
    for line in text.splitlines():
        # Histograms' buckets and `_created` timestamps say nothing a count and a sum do not.
        if line.startswith("billing_") and "_bucket{" not in line and "_created" not in line:
            name, _, value = line.rpartition(" ")
            try:
                series[name] = float(value)
            except ValueError:
                pass
    return series


# --- the end-of-run checks -------------------------------------------------------------------------------------


def drain(deadline_s: float) -> dict:
    """Waits until no event, sync run or import job is left to finish; answers how long it took and what is left."""
    from billing.models import SyncResource, SyncRun, WebhookEvent
    from contacts_import.models import ImportJob

    started = time.monotonic()
    while True:
        left = {
            "webhook_events": WebhookEvent.objects.filter(status__in=("pending", "processing", "failed")).count(),
            "sync_runs": SyncRun.objects.filter(status="running").count(),
            "sync_resources": SyncResource.objects.filter(status__in=("pending", "running")).count(),
            "import_jobs": ImportJob.objects.exclude(status__in=ImportJob.FINISHED).count(),
        }
        if not any(left.values()) or time.monotonic() - started > deadline_s:
            return {"seconds": round(time.monotonic() - started, 1), "left": left}
        time.sleep(2)


def check_webhooks(sent: dict[tuple[str, str], int]) -> dict:
    """Every acknowledged distinct event: one row, processed or ignored, or dead with its error."""
    from django.db.models import Count

    from billing.models import WebhookEvent

    rows = {}
    for account_id, relationship, event_id, status, error in WebhookEvent.objects.values_list(
        "account_id", "relationship", "stripe_event_id", "status", "last_error"
    ):
        rows.setdefault((str(account_id) if account_id else relationship, event_id), []).append((status, error))
    missing = [key for key in sent if key not in rows]
    twice = [key for key, found in rows.items() if len(found) > 1]
    by_status = dict(WebhookEvent.objects.values_list("status").annotate(n=Count("id")))
    # More than one attempt: a retry, or a claim taken over after the killed worker's lease ran out.
    by_attempts = dict(WebhookEvent.objects.values_list("attempts").annotate(n=Count("id")))
    dead = list(WebhookEvent.objects.filter(status="dead").values_list("type", "last_error")[:3])
    dead_without_error = sum(1 for found in rows.values() for status, error in found if status == "dead" and not error)
    unfinished = sum(
        1 for found in rows.values() for status, _ in found if status not in ("processed", "ignored", "dead")
    )
    return {
        "distinct_acknowledged": len(sent),
        "rows": sum(len(found) for found in rows.values()),
        "rows_not_sent_by_the_soak": len([key for key in rows if key not in sent]),
        "by_status": by_status,
        "by_attempts": {str(k): v for k, v in sorted(by_attempts.items())},
        "first_dead_letters": [f"{t}: {e[:120]}" for t, e in dead],
        "missing": len(missing),
        "stored_twice": len(twice),
        "dead_without_error": dead_without_error,
        "unfinished": unfinished,
        "ok": not missing and not twice and not dead_without_error and not unfinished,
    }


MIRROR_FIELDS = {
    "customers": ("Customer", ("email", "name")),
    "products": ("Product", ("name", "active")),
    "subscriptions": ("Subscription", ("status", "cancel_at_period_end")),
    "invoices": ("Invoice", ("status", "amount_paid")),
    "charges": ("Charge", ("amount", "amount_refunded", "refunded", "status")),
    "refunds": ("Refund", ("amount", "charge")),
}


def check_mirror(base_url: str, account, stripe_account: str) -> dict:
    """The synced account's mirror against its local Stripe: the same ids, and the same fields of each."""
    from billing import models
    from tests.billing.stripe_seed import Stripe

    api = Stripe(base_url, STRIPE_KEY, stripe_account=stripe_account, retries=2)
    out, ok = {}, True
    for resource, (model_name, fields) in MIRROR_FIELDS.items():
        stripe_rows = {o["id"]: o for o in api.list_all(f"/v1/{resource}")}
        model = getattr(models, model_name)
        mirror_rows = {row.stripe_id: row for row in model.objects.filter(account=account, deleted=False)}
        differs = []
        for stripe_id in stripe_rows.keys() & mirror_rows.keys():
            for field in fields:
                theirs = stripe_rows[stripe_id].get(field)
                if isinstance(theirs, dict):
                    theirs = theirs.get("id")
                ours = getattr(mirror_rows[stripe_id], "charge_stripe_id" if field == "charge" else field)
                if (theirs or "") != (ours or "") and not (theirs in (None, False, 0) and ours in ("", False, 0)):
                    differs.append(f"{stripe_id}.{field}: stripe {theirs!r} mirror {ours!r}")
        only_stripe = sorted(stripe_rows.keys() - mirror_rows.keys())
        only_mirror = sorted(mirror_rows.keys() - stripe_rows.keys())
        out[resource] = {
            "stripe": len(stripe_rows),
            "mirror": len(mirror_rows),
            "only_in_stripe": only_stripe[:3],
            "only_in_mirror": only_mirror[:3],
            "fields_differ": len(differs),
            "first_differences": differs[:3],
        }
        ok = ok and not only_stripe and not only_mirror and not differs
    out["ok"] = ok
    return out


def check_commands() -> dict:
    """The ledgers' own checks: metering's extras ledger and OneBalance."""
    from io import StringIO

    from django.core.management import CommandError, call_command

    out = {}
    for command in ("metering_ledger_check", "check_balances"):
        stderr = StringIO()
        try:
            call_command(command, stdout=StringIO(), stderr=stderr)
            out[command] = "ok"
        except (SystemExit, CommandError) as exc:
            out[command] = f"failed: {exc} {stderr.getvalue()[:300]}"
    out["ok"] = all(v == "ok" for v in out.values())
    return out


def check_runs() -> dict:
    from django.db.models import Count

    from billing.models import RefundRequest, SyncRun
    from contacts_import.models import ImportJob
    from plans.models import PlatformRefund

    sync_runs = dict(SyncRun.objects.values_list("status").annotate(n=Count("id")))
    imports = dict(ImportJob.objects.values_list("status").annotate(n=Count("id")))
    refunds = dict(RefundRequest.objects.values_list("status").annotate(n=Count("id")))
    platform = dict(PlatformRefund.objects.values_list("status").annotate(n=Count("id")))
    stuck_refunds = refunds.get("pending", 0) + platform.get("pending", 0)
    import_counts = [
        {"processed": p, "added": a, "updated": u, "errors": e}
        for p, a, u, e in ImportJob.objects.values_list("processed", "added", "updated", "errors")
    ]
    return {
        "sync_runs": sync_runs,
        "import_jobs": imports,
        "import_counts": import_counts,
        "refund_requests": refunds,
        "platform_refunds": platform,
        "ok": set(sync_runs) <= {"completed"}
        and set(imports) <= {"completed"}
        and not any(c["errors"] for c in import_counts)
        and not stuck_refunds,
    }


# --- main ------------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--accounts", type=int, default=50, help="accounts receiving webhooks")
    parser.add_argument("--webhook-rate", type=float, default=40)
    parser.add_argument("--attribution-rate", type=float, default=4, help="single attributions a second")
    parser.add_argument("--batch-rate", type=float, default=0.5, help="batches of --batch-size a second")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--usage-rate", type=float, default=4)
    parser.add_argument("--refund-rate", type=float, default=0.5, help="the synced account's charge refunds")
    parser.add_argument("--staff-refund-rate", type=float, default=0.2)
    parser.add_argument("--worker-concurrency", type=int, default=1)
    parser.add_argument("--drain-timeout", type=float, default=420)
    parser.add_argument("--keep-database", action="store_true")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        parser.error("DATABASE_URL must name a PostgreSQL server (a fresh <name>_soak database is made on it)")
    seconds = args.minutes * 60
    workdir = ROOT / "var" / "bench-soak" / datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    workdir.mkdir(parents=True, exist_ok=True)
    db_url = fresh_postgres_database(os.environ["DATABASE_URL"], "soak")
    with ExitStack() as stack:
        redis = OwnRedis(workdir)
        redis.start()
        stack.callback(redis.stop)
        stripe_base = stack.enter_context(
            fake_stripe(sys.executable, env=environ(PYTHONPATH=str(ROOT)), cwd=ROOT, log=workdir / "fake_stripe.log")
        )
        result = soak(args, seconds, workdir, db_url, redis, stripe_base, stack)
    if not args.keep_database:
        from django.db import connections

        connections.close_all()
        drop_postgres_database(db_url)
    result["logs"] = str(workdir.relative_to(ROOT))
    print(json.dumps(result))
    return 0 if result["ok"] else 1


def soak(args, seconds, workdir, db_url, redis, stripe_base, stack) -> dict:
    # Both web processes write their request samples there, so one scrape of /metrics sees both (docs/observability.md).
    metrics_dir = workdir / "prometheus"
    metrics_dir.mkdir()
    env = production_env(
        workdir,
        DATABASE_URL=db_url,
        REDIS_URL=redis.url,
        STRIPE_SECRET_KEY=STRIPE_KEY,
        STRIPE_WEBHOOK_SECRET=PLATFORM_SECRET,
        STRIPE_API_BASE=stripe_base,
        METRICS_TOKEN=METRICS_TOKEN,
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        BILLING_DEV_DEFAULTS="",
        **SOAK_TIMINGS,
    )
    worker_env = {**env, "DB_CONN_MAX_AGE": "600"}
    log = workdir / "web.log"
    run([sys.executable, "manage.py", "migrate", "-v", "0"], env=env, cwd=ROOT, log=log)
    os.environ.update(env)
    import django

    django.setup()
    from django.urls import reverse

    from accounts.services import account_create
    from bench import metering as metering_bench
    from bench.balance import plan as balance_plan
    from bench.balance import verify as balance_verify
    from bench.webhook_events import LOCAL_STRIPE_PLATFORM_ACCOUNT, generate
    from bench.webhook_events import seed as seed_stripe
    from bench.webhooks import account_secret, seed_accounts

    rng = random.Random(17)
    t0 = time.monotonic()
    objects = seed_stripe(stripe_base, STRIPE_KEY)  # the synced account's Stripe (a Connect account)
    platform_charges = seed_platform_charges(stripe_base, max(5, int(args.staff_refund_rate * seconds / 4) + 1))
    webhook_accounts = seed_accounts(args.accounts)
    synced = account_create(name="Soak synced", owner_username="soak-owner", password="soak-password-0")
    from django.contrib.auth import get_user_model

    owner_token = token_for(get_user_model().objects.get(username="soak-owner"), synced.pk)
    staff_token = token_for(seed_staff())
    metering_accounts = metering_bench.seed(10, 4)
    metering_tokens = [token for _, token, _ in metering_accounts]
    sub_ids, sub_tokens = seed_balances(20)
    seeding_s = round(time.monotonic() - t0, 1)

    # The requests of each kind, planned for the whole run (a kind stops at the end of the run, sent or not).
    deliveries, _ = generate(
        objects,
        accounts=args.accounts,
        total=int(args.webhook_rate * seconds) + 1,
        duplicate_ratio=0.10,
        platform_ratio=0.10,
        seed=17,
    )
    webhook_keys = []
    webhook_requests = []
    for d in deliveries:
        if d.account_index >= 0:
            account_id = webhook_accounts[d.account_index]
            path = reverse("billing:webhook-account", kwargs={"account_id": account_id})
            secret, key = account_secret(d.account_index), (account_id, d.event["id"])
        else:
            path, secret, key = reverse("billing:webhook-platform"), PLATFORM_SECRET, ("platform", d.event["id"])
        webhook_requests.append(webhook_request(path, json.dumps(d.event).encode(), secret))
        webhook_keys.append(key)
    singles, batches, _ = metering_bench.plan_requests(
        metering_accounts,
        singles=int(args.attribution_rate * seconds) + 1,
        batches=int(args.batch_rate * seconds) + 1,
        batch_size=args.batch_size,
        replay=0.10,
        seed_=17,
    )
    attribution_path = "/api/v1/metering/attributions/"
    single_requests = [json_request("POST", attribution_path, body, metering_tokens[a]) for a, body in singles]
    batch_requests = [json_request("POST", attribution_path, body, metering_tokens[a]) for a, body in batches]
    (usage_plan,) = balance_plan(sub_ids, clients=1, debits=int(args.usage_rate * seconds) + 1, replays=0.10)
    usage_requests = [
        json_request("POST", "/api/v1/billing/balance/usage/", {"amount": amount, "usage_key": key}, sub_tokens[pk])
        for pk, key, amount in usage_plan
    ]
    staff_requests = []
    for n in range(int(args.staff_refund_rate * seconds) + 1):
        body = (
            staff_requests[rng.randrange(n)][1]
            if n and rng.random() < 0.10
            else {
                "charge_id": rng.choice(platform_charges),
                "amount": rng.randint(1, 20),
                "reason": "requested_by_customer",
                "refund_request_id": f"soak-staff-{n:06d}",
            }
        )
        staff_requests.append((json_request("POST", "/api/v1/admin/billing/refunds/", body, staff_token), body))

    celery = Celery(worker_env, workdir)
    stack.callback(celery.stop)
    for name in WORKERS:
        celery.start_worker(name, args.worker_concurrency)
    celery.start("beat", ["beat", "-l", "WARNING"])
    daphne = str(Path(sys.executable).with_name("daphne"))
    base_url = stack.enter_context(
        daphne_servers(
            daphne, "billing_project.asgi:application", count=2, env=env, cwd=ROOT, log=log, ready_path="/healthz"
        )
    )
    warm_up(base_url, "/healthz", count=20)
    metrics_before = scrape_metrics(base_url)
    load = [os.getloadavg()[0]]
    events = []

    def note(what: str) -> None:
        events.append({"at_s": round(time.monotonic() - start, 1), "what": what})
        print(f"[soak {time.monotonic() - start:7.1f}s] {what}", file=sys.stderr, flush=True)

    start = time.monotonic()
    stop_at = start + seconds
    kinds = {
        "webhook": Kind("webhook", args.webhook_rate, 6, webhook_requests, stop_at),
        "attribution_single": Kind("attribution_single", args.attribution_rate, 2, single_requests, stop_at),
        "attribution_batch": Kind("attribution_batch", args.batch_rate, 1, batch_requests, stop_at),
        "usage_debit": Kind("usage_debit", args.usage_rate, 2, usage_requests, stop_at),
        "staff_refund": Kind("staff_refund", args.staff_refund_rate, 1, [r for r, _ in staff_requests], stop_at),
    }
    control = {"sync": {}, "import": {}}

    async def sync_then_import_then_refunds():
        status, body = await asyncio.to_thread(
            call,
            base_url,
            "POST",
            "/api/v1/billing/stripe-connection/",
            owner_token,
            {
                "access_token": STRIPE_KEY,
                "stripe_user_id": LOCAL_STRIPE_PLATFORM_ACCOUNT,
                "webhook_secret": SYNCED_WEBHOOK_SECRET,
            },
        )
        note(f"connect: {status} {body.get('status')}")
        control["sync"]["connect_status"] = status
        began = time.monotonic()
        while time.monotonic() < stop_at + args.drain_timeout:
            status, body = await asyncio.to_thread(call, base_url, "GET", "/api/v1/billing/sync/", owner_token)
            run_ = (body.get("runs") or [body])[0] if isinstance(body, dict) else {}
            if run_.get("status") in ("completed", "failed"):
                break
            await asyncio.sleep(2)
        control["sync"].update(status=run_.get("status"), seconds=round(time.monotonic() - began, 1))
        note(f"sync {run_.get('status')} after {control['sync']['seconds']} s")
        status, body = await asyncio.to_thread(
            call,
            base_url,
            "POST",
            "/api/v1/contacts/imports/",
            owner_token,
            {"type": "person", "new_contact": True, "mappings": {"name": "name", "phone": "phone"}},
        )
        control["import"].update(create_status=status, id=body.get("id"))
        note(f"contact import created: {status}")
        # The synced account's charge refunds, from its mirror's charges.
        charge_ids = await asyncio.to_thread(synced_charges, synced)
        requests, bodies = [], []
        for n in range(int(args.refund_rate * max(1.0, stop_at - time.monotonic())) + 1):
            if n and rng.random() < 0.10:
                charge_id, body = bodies[rng.randrange(n)]
            else:
                charge_id = rng.choice(charge_ids)
                body = {
                    "amount": rng.randint(1, 20),
                    "reason": "requested_by_customer",
                    "refund_request_id": f"soak-refund-{n:06d}",
                }
            bodies.append((charge_id, body))
            requests.append(json_request("POST", f"/api/v1/billing/charges/{charge_id}/refund/", body, owner_token))
        kinds["charge_refund"] = Kind("charge_refund", args.refund_rate, 1, requests, stop_at)
        await kinds["charge_refund"].run(base_url)

    async def chaos():
        await asyncio.sleep(seconds * 0.35)
        in_flight = await asyncio.to_thread(wait_for_claimed_events, 30)
        celery.kill(f"worker-{KILLED_WORKER}")
        note(f"SIGKILL worker-{KILLED_WORKER} (its whole process group) holding {in_flight} claimed events")
        await asyncio.sleep(5)
        celery.start_worker(KILLED_WORKER, args.worker_concurrency)
        note(f"worker-{KILLED_WORKER} restarted")
        await asyncio.sleep(seconds * 0.25)
        note("Redis stopping")
        await asyncio.to_thread(redis.restart, 3)
        note("Redis restarted (empty: no persistence)")

    async def sample_load():
        while time.monotonic() < stop_at:
            await asyncio.sleep(10)
            load.append(os.getloadavg()[0])
            if dead := celery.exited():
                note(f"exited on their own: {dead}")

    async def everything():
        await asyncio.gather(
            *(kind.run(base_url) for kind in kinds.values()), sync_then_import_then_refunds(), chaos(), sample_load()
        )

    asyncio.run(everything())
    load_end = os.getloadavg()[0]
    note("load stopped; draining")
    drained = drain(args.drain_timeout)
    note(f"drained: {drained}")
    time.sleep(2)
    metrics_after = scrape_metrics(base_url)

    sent_webhooks = {}
    for index, status in kinds["webhook"].answered:
        if 200 <= status < 300:
            sent_webhooks[webhook_keys[index]] = status
    sent_singles = [singles[i] for i, s in kinds["attribution_single"].answered if 200 <= s < 300]
    sent_batches = [batches[i] for i, s in kinds["attribution_batch"].answered if 200 <= s < 300]
    distinct = {}
    for account, body in sent_singles:
        distinct[(account, f"{body['history_id']}:{body['step_key']}")] = body["costs"]
    for account, body in sent_batches:
        for item in body["attributions"]:
            distinct[(account, f"{item['history_id']}:{item['step_key']}")] = item["costs"]
    sent_usage = [usage_plan[i] for i, s in kinds["usage_debit"].answered if 200 <= s < 300]
    checks = {
        "drained": {**drained, "ok": not any(drained["left"].values())},
        "webhooks": check_webhooks(sent_webhooks),
        "mirror": check_mirror(stripe_base, synced, LOCAL_STRIPE_PLATFORM_ACCOUNT),
        "ledgers": check_commands(),
        "attributions": metering_bench.verify(metering_accounts, distinct),
        "usage": balance_verify([sent_usage]),
        "runs": check_runs(),
        "processes": {"exited_on_their_own": celery.exited()},
    }
    checks["attributions"]["ok"] = checks["attributions"]["exactly_once"]
    usage = checks["usage"]
    usage["ok"] = (
        usage["balances_equal_entries"]
        and not usage["keys_applied_twice"]
        and not usage["balances_off_expected"]
        and usage["usage_entries"] == usage["usage_keys_distinct"]
    )
    checks["processes"]["ok"] = not checks["processes"]["exited_on_their_own"]
    server_errors = {name: k.statuses.get(500, 0) for name, k in kinds.items() if k.statuses.get(500)}
    checks["no_server_errors"] = {"by_kind": server_errors, "ok": not server_errors}
    changed = None
    if metrics_before is not None and metrics_after is not None:
        changed = {
            name: [metrics_before.get(name), value]
            for name, value in sorted(metrics_after.items())
            if metrics_before.get(name) != value
        }
    requests = {name: kind.summary() for name, kind in kinds.items()}
    print_table(requests, checks, changed)
    return {
        "bench": "soak",
        "command": "python bench/soak.py " + " ".join(sys.argv[1:]),
        "database": "postgresql",
        "minutes": args.minutes,
        "machine": {"cpus": os.cpu_count()},
        "setup": {"web_processes": 2, "workers": WORKERS, "worker_concurrency": args.worker_concurrency, "beat": 1},
        "seeding_s": seeding_s,
        "requests": requests,
        "control": control,
        "chaos": events,
        "checks": checks,
        "metrics": "absent (404)" if metrics_before is None else {"changed": changed},
        "load_average": {
            "min": round(min(load), 2),
            "max": round(max(load + [load_end]), 2),
            "mean": round(sum(load) / len(load), 2),
        },
        "ok": all(check["ok"] for check in checks.values()),
    }


def wait_for_claimed_events(timeout: float) -> int:
    """Waits (up to `timeout`) for the webhooks worker to hold a claimed batch, so that the kill lands mid-batch
    rather than between batches; answers how many events were claimed then (0: none seen, killed anyway)."""
    from django.db import connection

    from billing.models import WebhookEvent

    deadline = time.monotonic() + timeout
    claimed = 0
    while time.monotonic() < deadline and not claimed:
        claimed = WebhookEvent.objects.filter(status="processing").count()
        if not claimed:
            time.sleep(0.01)
    connection.close()
    return claimed


def synced_charges(account) -> list[str]:
    from django.db import connection

    from billing.models import Charge

    ids = list(Charge.objects.filter(account=account, status="succeeded").values_list("stripe_id", flat=True))
    connection.close()
    return ids


def print_table(requests: dict, checks: dict, changed) -> None:
    err = sys.stderr
    print(f"{'kind':<20} {'requests':>8} {'per s':>8} {'p50 ms':>8} {'p99 ms':>8}  statuses", file=err)
    for name, r in requests.items():
        print(
            f"{name:<20} {r['requests']:>8} {r['per_s']!s:>8} {r['p50_ms']!s:>8} {r['p99_ms']!s:>8}  {r['statuses']}",
            file=err,
        )
    for name, check in checks.items():
        print(f"check {name:<18} {'ok' if check['ok'] else 'FAILED'}", file=err)
    if changed:
        print("billing_ series that changed (before → after):", file=err)
        for name, (before, after) in changed.items():
            print(f"  {name} {before} → {after}", file=err)


if __name__ == "__main__":
    sys.exit(main())
