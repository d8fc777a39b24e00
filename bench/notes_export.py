"""The notes CSV export (`GET /api/v1/billing/notes/export.csv`): rows per second and peak memory, one JSON line.

    python bench/notes_export.py                       # SQLite (a fresh file), 100,000 notes
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test python bench/notes_export.py   # a fresh `bench_notes`
    python bench/notes_export.py --notes 1000000

Seeds an account with 50 customers and `--notes` notes (bulk inserts), then downloads the export through
Django's ASGI handler in this process, as daphne serves it (no network: what is measured is ours), twice: once
timed (rows/s, time to the first byte), once under `tracemalloc` (the peak of Python allocations while the whole
file streams; tracemalloc slows the run, hence apart). The body is counted and dropped as it arrives.
"""

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PATH = "/api/v1/billing/notes/export.csv"


def prepare_database() -> str:
    """A fresh database for the bench, never the development one."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        path = Path(tempfile.mkdtemp(prefix="bench-notes-")) / "bench.sqlite3"
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
        return "sqlite"
    import psycopg

    parts = urlsplit(url)
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS bench_notes WITH (FORCE)")
        admin.execute("CREATE DATABASE bench_notes")
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path="/bench_notes"))
    return "postgresql"


def seed(notes: int) -> tuple[str, float]:
    """An account, its owner's access token, 50 customers and `notes` notes; answers (token, seconds)."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from rest_framework.test import APIClient

    from accounts.services import account_create
    from billing.models import Customer, CustomerNote
    from billing.stripe.mirror import upsert_objects

    call_command("migrate", verbosity=0)
    account = account_create(name="Bench", owner_username="bench", password="bench-password-0")
    author = get_user_model().objects.get(username="bench")
    author.first_name, author.last_name = "Zoë", "Ångström"
    author.save()
    upsert_objects(
        account,
        "customer",
        [
            {"id": f"cus_{i}", "object": "customer", "email": f"c{i}@example.com", "name": f"Ōtake {i}"}
            for i in range(50)
        ],
    )
    customers = list(Customer.objects.filter(account=account).values_list("pk", flat=True))
    started = time.perf_counter()
    for start in range(0, notes, 5000):
        CustomerNote.objects.bulk_create(
            CustomerNote(
                account=account,
                customer_id=customers[i % len(customers)],
                author=author,
                body=f'Note {i}: called, "wants annual billing", then wrote back:\nok, résumé attached.',
            )
            for i in range(start, min(start + 5000, notes))
        )
    seconds = time.perf_counter() - started
    client = APIClient()
    answer = client.post(
        "/api/v1/auth/token/",
        {"username": "bench", "password": "bench-password-0", "account_id": str(account.id)},
        format="json",
    )
    return answer.json()["access"], seconds


def download(app, token: str) -> dict:
    """One GET of the export through the ASGI interface; the body is counted, never kept."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": PATH,
        "raw_path": PATH.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("localhost", 80),
    }
    result = {"status": None, "bytes": 0, "rows": -1, "messages": 0, "first_byte_s": None}
    requested = []
    started = time.perf_counter()

    async def receive():
        if not requested:
            requested.append(True)
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()

    async def send(message):
        if message["type"] == "http.response.start":
            result["status"] = message["status"]
        elif message.get("body"):
            if result["first_byte_s"] is None:
                result["first_byte_s"] = round(time.perf_counter() - started, 4)
            result["messages"] += 1
            result["bytes"] += len(message["body"])
            result["rows"] += message["body"].count(b"\r\n")  # bodies hold "\n" only: "\r\n" ends a row

    asyncio.run(app(scope, receive, send))
    result["seconds"] = time.perf_counter() - started
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notes", type=int, default=100_000)
    args = parser.parse_args(argv)

    vendor = prepare_database()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_project.settings")
    os.environ.setdefault("BILLING_DEV_DEFAULTS", "1")  # a local bench: the development secrets will do
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DEBUG"] = "0"
    import django

    django.setup()
    from django.core.asgi import get_asgi_application

    token, seed_seconds = seed(args.notes)
    app = get_asgi_application()
    timed = download(app, token)
    tracemalloc.start()
    traced = download(app, token)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    ok = timed["status"] == traced["status"] == 200 and timed["rows"] == traced["rows"] == args.notes
    line = {
        "bench": "notes_export",
        "database": vendor,
        "notes": args.notes,
        "rows_per_s": round(args.notes / timed["seconds"], 1),
        "seconds": round(timed["seconds"], 3),
        "first_byte_s": timed["first_byte_s"],
        "mb": round(timed["bytes"] / 1e6, 1),
        "messages": timed["messages"],
        "peak_traced_mb": round(peak / 2**20, 2),
        "seed_s": round(seed_seconds, 1),
        "ok": ok,
    }
    print(json.dumps(line))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
