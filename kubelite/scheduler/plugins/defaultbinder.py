"""DefaultBinder: the Bind plugin that POSTs a ``Binding`` to ``pods/{name}/binding``.

It is the only plugin with a side effect, and even it does not hold a client: it hands the
decision to the scheduler's ``Binder`` (``kubelite/scheduler/binder.py``), the one narrow
object through which the scheduler writes to the cluster. API errors propagate as exceptions,
which the runtime turns into an Error status carrying the ``ApiError``."""
from __future__ import annotations

from typing import Any

from kubelite.scheduler.framework.interface import CycleState, Status
from kubelite.scheduler.framework.types import PodInfo

NAME = "DefaultBinder"


class DefaultBinder:
    name = NAME

    def __init__(self, args: Any = None, handle: Any = None) -> None:
        self.handle = handle

    async def bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        await self.handle.binder.bind(pod, node_name)
        return None


def new(args: Any, handle: Any) -> DefaultBinder:
    return DefaultBinder(args, handle)
