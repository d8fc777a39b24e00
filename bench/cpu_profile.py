"""CPU time per role during a benchmark run (psutil), for a profile that holds on a shared machine: a run's rate
depends on what else the cores do, its CPU milliseconds per event much less. Roles: `web` (daphne), `workers`
(Celery, the pool's processes included), `database` (the PostgreSQL backends serving the bench's database;
SQLite runs inside web and workers), `broker` (Redis or valkey started by the bench), `load_generator` (this
process: the HTTP clients run in it).

A process that exits before the end is not counted (Django's per-request connections at start-up: a few ms);
one that starts after the first snapshot counts from zero."""

import os
from dataclasses import dataclass, field

import psutil


def _role(process: psutil.Process, database: str | None) -> str | None:
    try:
        cmdline = " ".join(process.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None
    if process.pid == os.getpid():
        return "load_generator"
    if "daphne" in cmdline:
        return "web"
    if "celery" in cmdline and " worker" in cmdline:
        return "workers"
    if database and cmdline.startswith("postgres:") and f" {database} " in cmdline:
        return "database"
    if "redis-server" in cmdline or "valkey-server" in cmdline:
        return "broker"
    return None


def _cpu(process: psutil.Process) -> float | None:
    try:
        times = process.cpu_times()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None
    return times.user + times.system


@dataclass
class CpuProfile:
    """`start()` after warm-up, `stop()` once the work is done (processes still running): CPU seconds per role."""

    database: str | None = None  # the PostgreSQL database name, or None (SQLite)
    _start: dict = field(default_factory=dict)
    _roles: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)

    def _processes(self):
        me = psutil.Process()
        mine = [me, *me.children(recursive=True)]
        # Other engineers' daphne, Celery and Redis run on a shared machine: only this process's children count,
        # and of the others only the backends of this bench's database (PostgreSQL forks them, not us).
        others = [p for p in psutil.process_iter() if p.pid not in {c.pid for c in mine}] if self.database else []
        for process, own in [*((p, True) for p in mine), *((p, False) for p in others)]:
            role = self._roles.get(process.pid) or _role(process, self.database)
            if role and (own or role == "database"):
                self._roles[process.pid] = role
                yield process, role

    def start(self) -> None:
        self._start = {p.pid: cpu for p, _ in self._processes() if (cpu := _cpu(p)) is not None}

    def stop(self) -> None:
        seconds: dict[str, float] = {}
        for process, role in self._processes():
            cpu = _cpu(process)
            if cpu is not None:
                seconds[role] = seconds.get(role, 0.0) + cpu - self._start.get(process.pid, 0.0)
        self.seconds = seconds

    def summary(self, events: int, wall_s: float) -> dict:
        """CPU ms per event by role, the total, and what two idle cores would then allow (events/s)."""
        per_event = {role: round(1000 * s / events, 3) for role, s in sorted(self.seconds.items())}
        total = sum(self.seconds.values())
        return {
            "cpu_ms_per_event": per_event,
            "cpu_ms_per_event_total": round(1000 * total / events, 3),
            "cpu_s": {role: round(s, 2) for role, s in sorted(self.seconds.items())},
            "wall_s": round(wall_s, 2),
            "cores_busy": round(total / wall_s, 2) if wall_s else None,
            "events_per_s_if_cpu_bound_on_idle_cores": round(events / total * (os.cpu_count() or 1), 1)
            if total
            else None,
        }
