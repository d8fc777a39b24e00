"""The processes a benchmark runs, each stopped by whoever started it: N daphne processes sharing one listening
socket (the kernel spreads connections between them), and a Celery worker."""

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path


def _stop(process: subprocess.Popen, sig=signal.SIGTERM, timeout: float = 20) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def daphne_servers(daphne: str, application: str, *, count: int, env: dict, cwd: Path, log: Path, ready_path: str):
    """Yields the base URL of `count` daphne processes serving one port, each on a listening socket of its own
    (`daphne --fd`) bound with SO_REUSEPORT, so that the kernel spreads connections evenly between them. (On one
    shared socket, the process that wakes first accepts: the 16 keep-alive connections of a run could all
    land on one process and leave the other idle.)"""
    listeners = []
    port = 0
    for _ in range(count):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.bind(("127.0.0.1", port))
        port = listener.getsockname()[1]
        listener.listen(4096)
        listener.set_inheritable(True)
        listeners.append(listener)
    base_url = f"http://127.0.0.1:{port}"
    processes = []
    try:
        with log.open("ab") as out:
            for listener in listeners:
                processes.append(
                    subprocess.Popen(
                        [daphne, "--fd", str(listener.fileno()), "-v", "0", application],
                        pass_fds=(listener.fileno(),),
                        env=env,
                        cwd=cwd,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                    )
                )
        _wait_http(base_url + ready_path, processes, log)
        yield base_url
    finally:
        for process in processes:
            _stop(process)
        for listener in listeners:
            listener.close()


def _wait_http(url: str, processes, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes):
            raise RuntimeError(f"a server exited at start; see {log}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                response.read()
            return
        except urllib.error.HTTPError:
            return  # it answered: up
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"servers not answering {url} after {timeout}s; see {log}")


@contextmanager
def celery_worker(python: str, *, concurrency: int, env: dict, cwd: Path, log: Path):
    with log.open("ab") as out:
        process = subprocess.Popen(
            [
                python,
                "-m",
                "celery",
                "-A",
                "billing_project",
                "worker",
                "-P",
                "prefork",
                "-c",
                str(concurrency),
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-l",
                "WARNING",
            ],
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        yield process
    finally:
        _stop(process, signal.SIGTERM, timeout=30)  # warm shutdown: finishes the task in hand


@contextmanager
def fake_stripe(python: str, *, env: dict, cwd: Path, log: Path):
    """The local Stripe (dj-stripe asks it for /v1/account while processing)."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [python, "-m", "localdev.fake_stripe", "--host", "127.0.0.1", "--port", "0"],
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for line in log.read_text(errors="replace").splitlines():
                if "listening on " in line:
                    yield line.split("listening on ", 1)[1].strip()
                    return
            if process.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"the local Stripe did not start; see {log}")
    finally:
        _stop(process, signal.SIGINT)


def run(cmd: list[str], *, env: dict, cwd: Path, log: Path, stdin: str | None = None) -> str:
    with log.open("ab") as out:
        completed = subprocess.run(
            cmd, env=env, cwd=cwd, input=stdin, stdout=subprocess.PIPE, stderr=out, text=True, check=False
        )
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])}... failed ({completed.returncode}); see {log}")
    return completed.stdout


def production_env(workdir: Path, **overrides) -> dict:
    """The environment of a bench's product processes: production settings (DEBUG off, secrets of their own)
    served over plain HTTP on 127.0.0.1. Django under ASGI runs each request in a thread of its own, so web
    processes keep no persistent connection (one would leak per request: Django's docs); workers may override
    DB_CONN_MAX_AGE and reuse theirs."""
    from cryptography.fernet import Fernet

    return environ(
        DJANGO_SETTINGS_MODULE="billing_project.settings",
        DEBUG="0",
        SECRET_KEY="bench-" + Fernet.generate_key().decode(),
        JWT_SIGNING_KEY="bench-jwt-" + Fernet.generate_key().decode(),
        SECURE_SSL_REDIRECT="0",
        FIELD_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        LOG_LEVEL="WARNING",
        DB_CONN_MAX_AGE="0",
        BILLING_VAR_DIR=str(workdir),
        PYTHONPATH=str(Path(__file__).resolve().parents[1]),
        **overrides,
    )


def environ(**overrides) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE",)}
    env.update({k: str(v) for k, v in overrides.items() if v is not None})
    return env
