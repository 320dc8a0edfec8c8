"""Crash-loop back-off: how long a failed container waits before its next restart (pure).

As the kubelet's ``flowcontrol.Backoff`` (10 s initial, doubling, 5 min cap): the first exit
restarts at once and arms 10 s; an exit while still within the armed window waits the rest of
it (waiting reason CrashLoopBackOff), and the restart after it doubles the window: 10 s, 20 s,
40 s ... 300 s. A container that ran without exiting for twice the cap (10 min) starts over.

Example: exits at t=0 (restart, window 10 s), t=1 (wait until 11, "back-off 10s"), restart at 11
(window 20 s), exit at 12 (wait until 32, "back-off 20s").
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class _Entry:
    window: float
    last_update: float


class CrashBackoff:
    def __init__(self, initial: float = 10.0, cap: float = 300.0) -> None:
        self.initial = initial
        self.cap = cap
        self._entries: dict[str, _Entry] = {}

    def delay(self, key: str) -> float:
        """The current window for ``key`` (0 when none is armed)."""
        e = self._entries.get(key)
        return e.window if e else 0.0

    def wait_left(self, key: str, finished_at: float, now: float) -> float:
        """Seconds the container exited at ``finished_at`` must still wait; 0 = restart now."""
        e = self._entries.get(key)
        if e is None:
            return 0.0
        if now - e.last_update > 2 * self.cap:  # long stable run: forget the history
            del self._entries[key]
            return 0.0
        return max(0.0, finished_at + e.window - now)

    def next(self, key: str, now: float) -> None:
        """Record a restart: arm the initial window, or double the armed one (capped)."""
        e = self._entries.get(key)
        if e is None or now - e.last_update > 2 * self.cap:
            self._entries[key] = _Entry(self.initial, now)
        else:
            e.window = min(e.window * 2, self.cap)
            e.last_update = now

    def forget_prefix(self, prefix: str) -> None:
        for k in [k for k in self._entries if k.startswith(prefix)]:
            del self._entries[k]


def backoff_message(window: float, container: str, pod: str, namespace: str, uid: str) -> str:
    """The CrashLoopBackOff waiting message: ``back-off 20s restarting failed container=app
    pod=web_default(uid)``."""
    return f"back-off {_duration(window)} restarting failed container={container} pod={pod}_{namespace}({uid})"


def _duration(seconds: float) -> str:
    """Go's time.Duration string for whole seconds: 10s, 1m20s, 5m0s."""
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    return f"{s // 60}m{s % 60}s"
