"""Records the websocket events the code sends (accounts.notifications.send_now), from any thread."""

import threading


class SentEvents:
    def __init__(self):
        self._lock = threading.Lock()
        self.sent: list[tuple[str, str, dict]] = []

    def record(self, group: str, event: str, data: dict) -> None:
        with self._lock:
            self.sent.append((group, event, data))

    def of(self, event: str) -> list[dict]:
        with self._lock:
            return [data for _, name, data in self.sent if name == event]

    def names(self) -> list[str]:
        with self._lock:
            return [name for _, name, _ in self.sent]

    def clear(self) -> None:
        with self._lock:
            self.sent.clear()


def record_notifications(monkeypatch) -> SentEvents:
    """Replaces delivery (still after commit: only send_now is swapped) with a recorder."""
    events = SentEvents()
    monkeypatch.setattr("accounts.notifications.send_now", events.record)
    return events
