"""The Procfile, for real (issue 17's first "Must show"): `honcho start` on PostgreSQL + Redis with production
settings (no development defaults, DEBUG off, secrets of its own, behind a TLS proxy) serves the admin with its
styles and the API docs (servestatic, after `collectstatic`), and a signed platform webhook sent to it is
processed by the webhooks worker."""

import os
import re
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
import requests
from cryptography.fernet import Fernet
from django.db import connection

from billing.models import WebhookEvent
from localdev.processes import free_port, wait_for_port
from tests.deploy.processes import ROOT, database_url, kill_group, start
from tests.helpers.polling import wait_until
from tests.helpers.settings_process import DECIDING
from tests.helpers.stripe_signing import make_event, signed_delivery

pytestmark = pytest.mark.django_db(transaction=True)

WEBHOOK_SECRET = "whsec_" + secrets.token_hex(16)
# As the TLS proxy in front of the web processes says it (SECURE_PROXY_SSL_HEADER below).
VIA_PROXY = {"X-Forwarded-Proto": "https"}


@pytest.fixture
def on_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("the production run: on PostgreSQL + Redis (DATABASE_URL, REDIS_URL), as CI's second pass")


@pytest.fixture
def production_env(on_postgres, redis_url, tmp_path):
    """What .ci/run's deploy check sets, plus the services: generated secrets, DEBUG off, no development defaults."""
    env = {k: v for k, v in os.environ.items() if k not in DECIDING and k != "CELERY_BROKER_URL"}
    env.update(
        DJANGO_SETTINGS_MODULE="billing_project.settings",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",  # the Procfile's daphne, celery
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        JWT_SIGNING_KEY=secrets.token_urlsafe(50),
        FIELD_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        STRIPE_SECRET_KEY="sk_live_" + secrets.token_hex(12),
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        # Nothing listens there: this test never reaches Stripe, and must not reach the real one by mistake.
        STRIPE_API_BASE=f"http://127.0.0.1:{free_port()}",
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https",
        DATABASE_URL=database_url(),
        REDIS_URL=redis_url,
        BILLING_VAR_DIR=str(tmp_path / "var"),
        STATIC_ROOT=str(tmp_path / "static"),
        WORKER_CONCURRENCY="1",
    )
    return env


def _collectstatic(env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
def honcho(production_env, tmp_path):
    """`honcho start web worker_webhooks` from the Procfile; every process it started is gone afterwards."""
    _collectstatic(production_env)
    port = free_port()
    log_path = tmp_path / "honcho.log"
    process = start(
        [sys.executable, "-m", "honcho", "start", "-f", "Procfile", "-p", str(port), "web", "worker_webhooks"],
        production_env,
        log_path,
    )
    started = []
    try:
        wait_for_port(port, process=process, timeout=180)
        started = psutil.Process(process.pid).children(recursive=True)
        yield f"http://127.0.0.1:{port}", log_path
    finally:
        # honcho starts each Procfile process in a session of its own: its group does not reach them. Its own
        # SIGTERM handling stops them (Celery's warm shutdown); whatever is left is killed, group by group.
        started = started or _children(process)
        kill_group(process, signal.SIGTERM, timeout=60)
        for child in started:
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        psutil.wait_procs(started, timeout=15)


def _children(process) -> list[psutil.Process]:
    try:
        return psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def test_honcho_serves_the_styled_admin_and_processes_a_webhook(honcho):
    base, log_path = honcho

    login = requests.get(f"{base}/admin/login/", headers=VIA_PROXY, timeout=30)
    assert login.status_code == 200, log_path.read_text()[-3000:]
    # The manifest's hashed name, served by servestatic with a far-future cache and the compressed copy.
    css_path = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', login.text).group(1)
    css = requests.get(f"{base}{css_path}", headers={**VIA_PROXY, "Accept-Encoding": "gzip"}, timeout=30)
    assert css.status_code == 200
    assert css.headers["Content-Type"].startswith("text/css")
    assert "immutable" in css.headers["Cache-Control"]
    assert css.headers.get("Content-Encoding") == "gzip"
    assert "--body-fg" in css.text  # the admin's own stylesheet, decompressed

    docs = requests.get(f"{base}/api/docs/", headers=VIA_PROXY, timeout=30)
    assert docs.status_code == 200
    bundle = re.search(r'src="(/static/drf_spectacular_sidecar/[^"]+swagger-ui-bundle[^"]*\.js)"', docs.text).group(1)
    assert requests.get(f"{base}{bundle}", headers=VIA_PROXY, timeout=30).status_code == 200

    # Plain HTTP (not through the proxy) is sent to HTTPS: the production settings are the ones in force.
    plain = requests.get(f"{base}/admin/login/", allow_redirects=False, timeout=30)
    assert plain.status_code == 301 and plain.headers["Location"].startswith("https://")

    # A platform event whose handler runs without Stripe (a customer of no account: recorded, nothing to do).
    event = make_event("customer.deleted", {"id": "cus_procfile_test", "object": "customer"})
    body, headers = signed_delivery(event, WEBHOOK_SECRET)
    response = requests.post(
        f"{base}/api/v1/billing/webhooks/stripe/",
        data=body,
        headers={**VIA_PROXY, "Content-Type": "application/json", "Stripe-Signature": headers["HTTP_STRIPE_SIGNATURE"]},
        timeout=30,
    )
    assert response.status_code == 200, response.text

    def processed():
        row = WebhookEvent.objects.filter(stripe_event_id=event["id"]).first()
        return row if row is not None and row.status == WebhookEvent.Status.PROCESSED else None

    row = wait_until(processed, timeout=120, interval=0.2, message="the webhook processed by the webhooks worker")
    assert row.attempts == 1 and row.last_error == ""
