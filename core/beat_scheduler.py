"""Beat as a singleton: django-celery-beat's DatabaseScheduler sending the schedule only while it holds a lease in
the broker's Redis (core/beat_lock.py). Two beats started by mistake never send one due run twice: the one without
the lease sends nothing and says it is standing by; when the holder dies, its lease expires (BEAT_LOCK_TTL_SECONDS)
and a standby takes over.

Taking over is where a naive lock still runs a schedule twice: the standby's schedule in memory (last run times)
is the one it read at its start, so every task the holder sent since would look due again. Hence: the holder writes
a run's last_run_at to the database before its message leaves (reserve), and a beat that gains the lease reads the
schedule afresh from the database before sending anything."""

import logging

from django.conf import settings
from django_celery_beat.schedulers import DatabaseScheduler
from redis import RedisError

from core.beat_lock import RedisLease

logger = logging.getLogger(__name__)


class SingletonDatabaseScheduler(DatabaseScheduler):
    def __init__(self, *args, **kwargs):
        self._holding = False
        self._announced_standby = False
        ttl = settings.BEAT_LOCK_TTL_SECONDS
        # Renewed at least three times per TTL, so a holder that is merely sleeping never loses it.
        self.lock_interval = ttl / 3
        broker_url = settings.CELERY_BROKER_URL or ""
        if broker_url.startswith(("redis://", "rediss://")):
            self._lease = RedisLease.from_url(broker_url, settings.BEAT_LOCK_KEY, ttl)
        else:
            # The in-memory broker (one-off commands): its messages never leave this process, so a second beat
            # could not send them anywhere either.
            scheme = broker_url.partition("://")[0]  # never the whole URL: it may carry a password
            logger.warning("beat: the broker is not Redis (%s): running without the singleton lock", scheme)
            self._lease = None
        super().__init__(*args, **kwargs)

    def tick(self, *args, **kwargs):
        if not self._hold_lease():
            return self.lock_interval
        return min(super().tick(*args, **kwargs), self.lock_interval)

    def reserve(self, entry):
        new_entry = super().reserve(entry)
        # DatabaseScheduler leaves the schedule's entry as it was (only the model it shares is advanced), but
        # entries are due by their own last_run_at: a heap rebuilt from the schedule before its next read (as
        # after any change to the schedule in the database) would send this run again at once.
        if self._schedule is not None and new_entry.name in self._schedule:
            self._schedule[new_entry.name] = new_entry
        # Written before the message is sent: a beat taking over reads this run as done (at most once, not twice,
        # if this process dies between the two).
        self.sync()
        return new_entry

    def apply_entry(self, entry, producer=None):
        # Checked again right before sending: a holder that stalled past the TTL (a long database write in reserve)
        # may have lost the lease to a standby that has already sent this run.
        if not self._hold_lease():
            logger.warning("beat: lost the beat lock before sending %s; not sending it", entry.name)
            return
        super().apply_entry(entry, producer=producer)

    def close(self):
        try:
            super().close()
        finally:
            if self._lease is not None and self._holding:
                try:
                    self._lease.release()  # a standby takes over at its next look, not after the TTL
                    logger.info("beat: released the beat lock")
                except RedisError:
                    logger.warning("beat: could not release the beat lock; it expires by itself")
                self._holding = False

    def _hold_lease(self) -> bool:
        if self._lease is None:
            return True
        try:
            held = self._lease.hold()
            holder = None if held else self._lease.holder()
        except RedisError as exc:
            # Nothing can be sent without the broker anyway; whoever holds the lease once Redis is back sends.
            held, holder = False, f"unknown (Redis unreachable: {exc.__class__.__name__})"
        if held and not self._holding:
            logger.info("beat: holding the beat lock (%s); sending the schedule", self._lease.token)
            self._read_schedule_afresh()
        elif not held and self._holding:
            logger.warning("beat: lost the beat lock to %s; standing by", holder)
        elif not held and not self._announced_standby:
            logger.info("beat: standing by: the beat lock is held by %s", holder)
        self._announced_standby = self._announced_standby or not held
        self._holding = held
        return held

    def _read_schedule_afresh(self) -> None:
        """The last run times as the previous holder left them in the database, and a heap built from them
        (the heap is otherwise kept while the tasks' definitions are unchanged, whatever their last runs)."""
        # Noted first, so that the read below is not followed by a second one for the same changes (other beats'
        # starts change the schedule's stamp too).
        self.schedule_changed()
        self._initial_read = True
        self._heap = None  # rebuilt by the next tick (celery.beat.Scheduler.tick: `self._heap is None`)
