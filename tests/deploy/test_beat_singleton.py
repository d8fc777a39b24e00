"""Beat is a singleton (core/beat_scheduler.py): two REAL beat processes on one schedule send each due run once,
and the one standing by takes over when the holder is killed.

Both beats read the schedule before either may send (the test holds the lock itself until both say they stand
by): the one that takes over last still has the run its peer already sent as due in memory. Sending it again is
the double run a plain lock lets through; the scheduler must read the last runs afresh when it gains the lock.
Messages are counted on a queue of the test's own, no worker consuming; each carries its sender's pid
(`origin: gen<pid>@host`)."""

import json
import os
import re
import signal
import sys
import uuid
from datetime import timedelta

import pytest
import redis
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from tests.deploy.processes import database_url, kill_group, start
from tests.helpers.polling import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

LOCK_TTL_SECONDS = 3
HOURLY = "probe: hourly, due once"
EVERY_SECOND = "probe: every second"


@pytest.fixture
def probe_schedule():
    """Only the probes are enabled: an hourly task last run two hours ago (due now, once) and one every second."""
    queue = f"beat-probe-{uuid.uuid4().hex[:8]}"
    PeriodicTask.objects.update(enabled=False)
    hourly = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.HOURS)
    second = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.SECONDS)
    two_hours_ago = timezone.now() - timedelta(hours=2)
    PeriodicTask.objects.create(
        name=HOURLY, task="tests.beat_probe", interval=hourly, queue=queue, last_run_at=two_hours_ago
    )
    PeriodicTask.objects.create(name=EVERY_SECOND, task="tests.beat_probe", interval=second, queue=queue)
    return queue


def _sent(client: redis.Redis, queue: str) -> list[tuple[str, int]]:
    """(periodic task name, sender's pid) of every message on the queue."""
    sent = []
    for raw in client.lrange(queue, 0, -1):
        headers = json.loads(raw)["headers"]
        sent.append((headers["periodic_task_name"], int(re.match(r"gen(\d+)@", headers["origin"]).group(1))))
    return sent


def _holder_pid(client: redis.Redis, key: str) -> int | None:
    token = client.get(key)
    return int(token.decode().split(":")[-2]) if token else None


def test_two_beats_send_each_due_run_once_and_the_standby_takes_over(probe_schedule, redis_url, tmp_path):
    client = redis.Redis.from_url(redis_url)
    lock_key = f"test:beat-lock:{uuid.uuid4().hex}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": redis_url,
        "BEAT_LOCK_KEY": lock_key,
        "BEAT_LOCK_TTL_SECONDS": str(LOCK_TTL_SECONDS),
    }
    env.pop("CELERY_BROKER_URL", None)
    # Held by the test until both beats have read the schedule and stand by.
    client.set(lock_key, "test:0:held", ex=600)
    logs = {name: tmp_path / f"beat-{name}.log" for name in ("a", "b")}
    beats = {
        name: start([sys.executable, "-m", "celery", "-A", "billing_project", "beat", "-l", "INFO"], env, log)
        for name, log in logs.items()
    }
    try:

        def log_of(name):
            process = beats[name]
            assert process.poll() is None or process.returncode == -signal.SIGKILL, (
                f"beat {name} exited with {process.returncode}:\n{logs[name].read_text()[-3000:]}"
            )
            return logs[name].read_text()

        for name in beats:
            wait_until(lambda n=name: "standing by" in log_of(n), timeout=90, message=f"beat {name} standing by")
        assert _sent(client, probe_schedule) == []

        client.delete(lock_key)
        first = wait_until(lambda: _holder_pid(client, lock_key), timeout=30, message="a beat taking the lock")
        pids = {name: process.pid for name, process in beats.items()}
        assert first in pids.values()
        (first_name,) = [name for name, pid in pids.items() if pid == first]
        (other_name,) = [name for name in pids if name != first_name]
        other = pids[other_name]

        # Runs every second while both beats live: all from the holder, the hourly one once.
        wait_until(
            lambda: sum(1 for task, _ in _sent(client, probe_schedule) if task == EVERY_SECOND) >= 4,
            timeout=60,
            message="four runs of the every-second probe",
        )
        sent = _sent(client, probe_schedule)
        assert {pid for _, pid in sent} == {first}, sent
        assert sum(1 for task, _ in sent if task == HOURLY) == 1, sent
        assert "Sending due task" not in log_of(other_name)

        # The holder dies without a word (no release): the standby takes over once the lock expires.
        kill_group(beats[first_name])
        wait_until(
            lambda: sum(1 for task, pid in _sent(client, probe_schedule) if pid == other and task == EVERY_SECOND) >= 3,
            timeout=60,
            message="the standby sending after taking over",
        )
        sent = _sent(client, probe_schedule)
        assert _holder_pid(client, lock_key) == other
        assert "holding the beat lock" in log_of(other_name)
        # Its memory still had the hourly run as due (read before the first beat sent it): not sent again.
        assert [pid for task, pid in sent if task == HOURLY] == [first], sent
        assert {pid for _, pid in sent} == {first, other}

        # An orderly stop gives the lock back at once.
        kill_group(beats[other_name], signal.SIGTERM)
        assert beats[other_name].returncode == 0, log_of(other_name)[-3000:]
        assert client.get(lock_key) is None
    finally:
        for process in beats.values():
            kill_group(process)
        client.delete(probe_schedule, lock_key)
