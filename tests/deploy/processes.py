"""Helpers for tests that run the product's own processes (beat, honcho) against the test database."""

import os
import signal
import subprocess
from pathlib import Path
from urllib.parse import quote

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    """The test database, for processes of their own (the test's rows are committed: transactional test)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT']}" if db["PORT"] else db["HOST"] or "127.0.0.1"
    return f"postgres://{quote(db['USER'] or '')}:{quote(db['PASSWORD'] or '')}@{host}/{quote(db['NAME'])}"


def start(args: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """A process in a session of its own (its children too), its output in `log_path`."""
    with open(log_path, "w") as log:
        return subprocess.Popen(args, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def kill_group(process: subprocess.Popen, sig: int = signal.SIGKILL, timeout: float = 30) -> None:
    """Signals the process's whole group (a shell's children, a worker's pool) and reaps it."""
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout)
