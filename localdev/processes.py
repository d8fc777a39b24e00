"""Starting and stopping the stack's child processes so that nothing outlives the stack (no orphans)."""

import os
import signal
import socket
import subprocess
import sys
import time


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, *, process: subprocess.Popen | None = None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} after {timeout}s")


class ProcessGroup:
    """Children each in their own session, so a stop reaches their own children (Celery's pool) too."""

    def __init__(self):
        self.children: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        preexec = _dies_with(os.getpid()) if sys.platform == "linux" else None
        process = subprocess.Popen(args, env=env, start_new_session=True, preexec_fn=preexec)
        self.children.append((name, process))
        return process

    def python(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        return self.start(name, [sys.executable, *args], env)

    def first_exited(self) -> tuple[str, int] | None:
        for name, process in self.children:
            if process.poll() is not None:
                return name, process.returncode
        return None

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM every group (Celery's warm shutdown), then SIGKILL what is left after `timeout`."""
        for _, process in reversed(self.children):
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for _, process in reversed(self.children):
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()
        for _, process in self.children:
            _signal_group(process, signal.SIGKILL)  # grandchildren a child left behind
        self.children.clear()


def _dies_with(parent_pid: int):
    """In the child, before it runs its program: the kernel sends it SIGTERM when the stack's process dies, however
    it dies. `stop()` covers an orderly end; this covers a stack killed outright (SIGKILL, an OOM kill, a test
    runner's timeout), whose workers would otherwise live on and, reconnecting to the next stack's Redis on the same
    port, take its messages."""

    def set_parent_death_signal() -> None:
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
        if os.getppid() != parent_pid:  # the stack died before the signal was armed
            os._exit(1)

    return set_parent_death_signal


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
