"""pytest fixtures for the local Stripe (localdev/fake_stripe), run in a subprocess on 127.0.0.1.

Load with `pytest_plugins = ["tests.harness.stripe_fixtures"]` in tests/conftest.py.

- `stripe_server` (session): the running fake, a `FakeStripeServer` (base URL and control methods).
- `stripe_api_base` (function): resets the fake, points Django's `settings.STRIPE_API_BASE` at it when
  pytest-django is active, and returns the base URL.
- `stripe_sdk_client(base_url, ...)`: a `stripe.StripeClient` on the fake, to seed or inspect data in tests.
"""

import ctypes
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import stripe

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEST_SECRET_KEY = "sk_test_51LocalStripeHarnessKey0000000000000000000000000000"
STARTUP_TIMEOUT_SECONDS = 20.0
STOP_TIMEOUT_SECONDS = 10.0
READY_LINE = re.compile(r"fake_stripe listening on (http://\S+)")


class ControlError(RuntimeError):
    """A control route refused the request (the message carries the fake's Stripe-shaped error)."""


class FakeStripeServer:
    """A running fake and its `/_test/` control plane."""

    def __init__(self, base_url: str, process: subprocess.Popen) -> None:
        self.base_url = base_url
        self.process = process

    def _control(self, method: str, path: str, payload: dict | None = None) -> Any:
        body = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(
            f"{self.base_url}{path}", data=body, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                text = response.read().decode()
        except urllib.error.HTTPError as error:
            raise ControlError(f"{method} {path}: {error.code} {error.read().decode(errors='replace')}") from None
        return json.loads(text) if text else None

    def reset(self) -> None:
        """Empties everything: objects, faults, revoked keys, account ownership, webhook endpoints."""
        self._control("POST", "/_test/reset")

    def fail_next(
        self, path: str, status: int, count: int = 1, method: str | None = None, retry_after: int | None = None
    ) -> None:
        """The next `count` requests whose path starts with `path` answer `status` (429, 500, 502 or 503)."""
        self._control(
            "POST",
            "/_test/faults",
            {"path": path, "status": status, "count": count, "method": method, "retry_after": retry_after},
        )

    def hang_next(self, path: str, count: int = 1, seconds: float = 30.0, method: str | None = None) -> None:
        """The next `count` matching requests get no answer for `seconds` (then a 504), or until faults clear."""
        self._control(
            "POST",
            "/_test/faults",
            {"path": path, "status": "hang", "count": count, "method": method, "hang_seconds": seconds},
        )

    def faults(self) -> list[dict]:
        return self._control("GET", "/_test/faults")["faults"]

    def clear_faults(self) -> None:
        """Disarms every fault and releases hung requests."""
        self._control("DELETE", "/_test/faults")

    def revoke_key(self, key: str) -> None:
        """Requests with `key` now get Stripe's 401 `api_key_expired`."""
        self._control("POST", "/_test/keys/revoke", {"key": key})

    def clear_revoked_keys(self) -> None:
        self._control("DELETE", "/_test/keys/revoke")

    def complete_checkout(self, session_id: str) -> dict:
        """Pays the session as a customer would; returns the completed session."""
        return self._control("POST", f"/_test/checkout/sessions/{session_id}/complete")

    def renew_subscription(self, subscription_id: str, *, fail: bool = False) -> dict:
        """Bills the subscription's next period now, paid by its customer's card or declined (`fail`); returns
        the subscription (localdev/fake_stripe/subscription_lifecycle.py)."""
        return self._control("POST", f"/_test/subscriptions/{subscription_id}/renew", {"fail": fail})

    def open_dispute(self, charge: str, **fields) -> dict:
        """Opens a dispute on the charge as its owner (`amount`, `reason`, `status`: needs_response, under_review,
        won, lost, ..., `created`); returns the dispute."""
        return self._control("POST", "/_test/disputes", {"charge": charge, **fields})

    def close_dispute(self, dispute_id: str, status: str) -> dict:
        """Closes an open dispute as `won` or `lost`."""
        return self._control("POST", f"/_test/disputes/{dispute_id}/close", {"status": status})

    def create_payout(
        self,
        *,
        currency: str = "usd",
        status: str = "paid",
        charges: list[str] | None = None,
        stripe_account: str | None = None,
        **fields,
    ) -> dict:
        """A payout sweeping the balance transactions not yet paid out in `currency` (only those of `charges`,
        with their refunds and disputes, when given); `status`: paid, pending, in_transit, failed, canceled;
        `created`, `arrival_date`, `description` optional. Returns the payout."""
        payload = {"currency": currency, "status": status, **fields}
        if charges is not None:
            payload["charges"] = list(charges)
        if stripe_account is not None:
            payload["stripe_account"] = stripe_account
        return self._control("POST", "/_test/payouts", payload)

    def move_payout(self, payout_id: str, status: str) -> dict:
        """Moves a pending or in-transit payout to `status`."""
        return self._control("POST", f"/_test/payouts/{payout_id}/status", {"status": status})

    def backdate(self, object_id: str, created: int) -> dict:
        """Moves the object's `created` (with its balance transaction, payment intent, ...) to `created`."""
        return self._control("POST", "/_test/backdate", {"id": object_id, "created": created})

    def register_webhook(self, id: str, url: str, secret: str, events: list[str] | None = None) -> None:
        """Registers (or replaces) webhook endpoint `id`; `events` None means every event type."""
        payload = {"url": url, "secret": secret}
        if events is not None:
            payload["events"] = list(events)
        self._control("POST", f"/_config/webhooks/{id}", payload)


def _die_with_parent() -> None:
    """In the child, before exec: the kernel sends SIGTERM to it if pytest dies without cleaning up (Linux)."""
    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_ready(process: subprocess.Popen, log_path: Path) -> str:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        match = READY_LINE.search(log_path.read_text(errors="replace"))
        if match:
            return match.group(1)
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(
        f"the local Stripe did not start (exit code {process.poll()}):\n{log_path.read_text(errors='replace')}"
    )


@contextmanager
def running_fake_stripe() -> Iterator[FakeStripeServer]:
    """Starts the fake on 127.0.0.1 and a free port (it picks one and says which); stops it on the way out,
    whatever happened."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))}
    with tempfile.TemporaryDirectory(prefix="fake-stripe-") as log_dir:
        log_path = Path(log_dir) / "server.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "localdev.fake_stripe", "--host", "127.0.0.1", "--port", "0"],
                cwd=PROJECT_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        try:
            server = FakeStripeServer(_wait_until_ready(process, log_path), process)
            server.reset()  # answers: it is up
            yield server
        finally:
            _stop(process)


@pytest.fixture(scope="session")
def stripe_server() -> Iterator[FakeStripeServer]:
    with running_fake_stripe() as server:
        yield server


@pytest.fixture
def stripe_api_base(stripe_server: FakeStripeServer, request: pytest.FixtureRequest) -> str:
    """An empty local Stripe for this test; its base URL, also in Django's settings when there are any."""
    stripe_server.reset()
    try:
        settings = request.getfixturevalue("settings")
    except (pytest.FixtureLookupError, pytest.skip.Exception):
        # pytest-django is not loaded (-p no:django), or it is but no Django settings are configured.
        settings = None
    if settings is not None:
        settings.STRIPE_API_BASE = stripe_server.base_url
    return stripe_server.base_url


def stripe_sdk_client(
    base_url: str,
    key: str = TEST_SECRET_KEY,
    stripe_account: str | None = None,
    *,
    max_network_retries: int = 0,
    timeout: float = 10.0,
) -> stripe.StripeClient:
    """A Stripe SDK client on the fake. No retries by default, so a test sees each injected fault."""
    return stripe.StripeClient(
        key,
        stripe_account=stripe_account,
        base_addresses={"api": base_url},
        max_network_retries=max_network_retries,
        http_client=stripe.RequestsClient(timeout=timeout),
    )
