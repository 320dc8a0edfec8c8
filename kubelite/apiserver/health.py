"""``/livez``, ``/readyz`` and ``/healthz``: named checks that each test one real thing.

Components register checks (``Health.add(name, check, live=...)``): a check is an async
callable answering None when healthy or a reason. ``/readyz`` runs them all; ``/livez`` (and
``/healthz``) only those whose failure a restart would cure (``live=True``): a stopped storage
writer thread, a dead watch hub. The output follows kube-apiserver's::

    [+]ping ok
    [-]watch-hub failed: reason withheld
    readyz check failed

-- "ok" alone when everything passes and ``?verbose`` was not asked; HTTP 500 on any failure,
with the reason withheld from the reply (it may name internals) but logged, once per change
of state. ``?exclude=name`` skips a check, as in kube.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from kubelite.apiserver.request import ApiResponse

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[str | None]]
#: seconds a check may take before it counts as failed
CHECK_TIMEOUT = 5.0


@dataclass(slots=True)
class _Entry:
    name: str
    check: Check
    live: bool


class Health:
    def __init__(self) -> None:
        self._entries: list[_Entry] = []
        self._failing: dict[str, str] = {}  # name -> reason last logged

    def add(self, name: str, check: Check, *, live: bool = False) -> None:
        """Register ``check`` under ``name`` (replacing one of that name); ``live`` also puts it
        in /livez."""
        self._entries = [e for e in self._entries if e.name != name]
        self._entries.append(_Entry(name, check, live))

    def names(self, endpoint: str = "readyz") -> list[str]:
        return [e.name for e in self._entries if endpoint == "readyz" or e.live]

    async def run(self, endpoint: str, exclude: Sequence[str] = ()) -> list[tuple[str, str | None, bool]]:
        """(name, failure reason or None, excluded) for every check of ``endpoint``."""
        entries = [e for e in self._entries if endpoint == "readyz" or e.live]
        todo = [e for e in entries if e.name not in exclude]
        reasons = await asyncio.gather(*(self._one(e) for e in todo))
        found = dict(zip((e.name for e in todo), reasons))
        return [(e.name, found.get(e.name), e.name in exclude) for e in entries]

    async def _one(self, entry: _Entry) -> str | None:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                reason = await entry.check()
        except TimeoutError:
            reason = f"no answer within {CHECK_TIMEOUT:g}s"
        except Exception as e:  # noqa: BLE001 - a broken check is a failed check
            reason = f"{type(e).__name__}: {e}"
        before = self._failing.get(entry.name)
        if reason is not None and reason != before:
            log.warning("health check %s failing: %s", entry.name, reason)
            self._failing[entry.name] = reason
        elif reason is None and before is not None:
            log.warning("health check %s passing again", entry.name)
            del self._failing[entry.name]
        return reason

    async def respond(self, endpoint: str, query: Mapping[str, str], excludes: Sequence[str]) -> ApiResponse:
        results = await self.run(endpoint, excludes)
        failed = any(reason is not None for _, reason, excluded in results if not excluded)
        if not failed and query.get("verbose") is None:
            return ApiResponse(200, b"ok", "text/plain; charset=utf-8")
        lines = []
        for name, reason, excluded in results:
            if excluded:
                lines.append(f"[+]{name} excluded: ok")
            elif reason is None:
                lines.append(f"[+]{name} ok")
            else:
                lines.append(f"[-]{name} failed: reason withheld")
        lines.append(f"{endpoint} check {'failed' if failed else 'passed'}")
        return ApiResponse(500 if failed else 200, ("\n".join(lines) + "\n").encode(), "text/plain; charset=utf-8")
