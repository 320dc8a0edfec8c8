"""PrioritySort: the queue-sort plugin. Higher ``spec.priority`` first; among equals, the pod
that entered the queue earlier. The queue (``queue.py``) heap-orders pods by ``sort_key``,
which encodes exactly ``less``."""
from __future__ import annotations

from typing import Any

NAME = "PrioritySort"


class PrioritySort:
    name = NAME

    def __init__(self, args: Any = None, handle: Any = None) -> None:
        pass

    def less(self, a: Any, b: Any) -> bool:
        pa, pb = a.pod_info.priority, b.pod_info.priority
        return pa > pb or (pa == pb and a.timestamp < b.timestamp)

    @staticmethod
    def sort_key(q: Any) -> tuple[int, float]:
        return (-q.pod_info.priority, q.timestamp)


def new(args: Any, handle: Any) -> PrioritySort:
    return PrioritySort(args, handle)
