"""The README's first command, for real: the stack comes up on embedded defaults, answers, lets the demo user log
in, and Ctrl-C leaves no process behind."""

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
import requests

from localdev.demo_data import DEMO_PASSWORD, DEMO_USERNAME
from localdev.processes import free_port


@pytest.fixture
def stack(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "STRIPE_API_BASE")}
    env["BILLING_VAR_DIR"] = str(tmp_path)
    log = open(tmp_path / "stack.log", "w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "localdev.stack", "--port", str(port), "--concurrency", "1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        # As a shell starting it in the background (`scripts/dev &`) does: SIGINT ignored on entry. The stack
        # must still stop on `kill -INT` (and on Ctrl-C in a terminal).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    deadline = time.monotonic() + 120
    while "is up" not in (tmp_path / "stack.log").read_text():
        assert process.poll() is None, (tmp_path / "stack.log").read_text()
        assert time.monotonic() < deadline, "the stack did not come up in 120 s"
        time.sleep(0.2)
    yield process, f"http://127.0.0.1:{port}", (tmp_path / "stack.log")
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    log.close()


def test_stack_comes_up_answers_and_stops_without_orphans(stack):
    process, base, log_path = stack
    descendants = psutil.Process(process.pid).children(recursive=True)
    assert len(descendants) >= 5  # redis, stripe, web, worker, beat (and the worker's pool)

    health = requests.get(f"{base}/healthz", timeout=10)
    assert health.status_code == 200 and health.json()["broker"]["ok"]
    assert requests.get(f"{base}/api/docs/", timeout=10).status_code == 200
    assert requests.get(f"{base}/admin/login/", timeout=10).status_code == 200
    assert f"{DEMO_USERNAME} / {DEMO_PASSWORD}" in log_path.read_text()

    token = requests.post(
        f"{base}/api/v1/auth/token/", json={"username": DEMO_USERNAME, "password": DEMO_PASSWORD}, timeout=10
    )
    assert token.status_code == 200
    me = requests.get(f"{base}/api/v1/account/", headers={"Authorization": f"Bearer {token.json()['access']}"})
    assert me.json()["name"] == "Demo Agency"

    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 0
    gone, alive = psutil.wait_procs(descendants, timeout=10)
    assert alive == [], f"orphans: {[p.cmdline() for p in alive]}"
