"""A pod's resource requests and the kubelet's admission fit (component-helpers
``resource.PodRequests`` and the kubelet's ``predicateAdmitHandler`` resource check), shared by
the node agent and ``kubelite sim``'s hollow kubelet. Pure; quantities in milli-units (cpu 1 ->
1000, memory 1Ki -> 1024000).

Invalid input: a request that is not a quantity is skipped (the API server validated it), so
an odd stored object never crashes an agent.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubelite.machinery import quantity


def _add_requests(total: dict[str, int], container: Mapping[str, Any]) -> None:
    for name, q in (((container.get("resources") or {}).get("requests")) or {}).items():
        try:
            total[name] = total.get(name, 0) + quantity.to_milli(q)
        except ValueError:  # the API server validated it; tolerate anything odd
            continue


def pod_requests(pod: Mapping[str, Any]) -> dict[str, int]:
    """Effective requests in milli-units (cpu 1 -> 1000, memory 1Ki -> 1024000): the larger of
    the running set (containers + sidecars) and each init container (with the sidecars started
    before it), plus ``spec.overhead`` -- the kubelet's and scheduler's formula.

    Example: containers 1 + 1 cpu, one init container 3 cpu -> 3000.
    """
    spec = pod.get("spec") or {}
    running: dict[str, int] = {}
    for c in spec.get("containers") or ():
        _add_requests(running, c)
    sidecars: dict[str, int] = {}
    peak: dict[str, int] = {}
    for c in spec.get("initContainers") or ():
        if c.get("restartPolicy") == "Always":
            _add_requests(sidecars, c)
            continue
        step = dict(sidecars)
        _add_requests(step, c)
        for k, v in step.items():
            peak[k] = max(peak.get(k, 0), v)
    for k, v in sidecars.items():
        running[k] = running.get(k, 0) + v
    total = {k: max(running.get(k, 0), peak.get(k, 0)) for k in set(running) | set(peak)}
    for name, q in (spec.get("overhead") or {}).items():
        try:
            total[name] = total.get(name, 0) + quantity.to_milli(q)
        except ValueError:
            continue
    return total


def _shown(resource: str, milli: int) -> int:
    # The kubelet prints cpu in millicores and everything else in whole units.
    return milli if resource == "cpu" else -(-milli // 1000)


def check_fit(requests: Mapping[str, int], allocatable: Mapping[str, int], used: Mapping[str, int],
              pods_used: int) -> tuple[str, str] | None:
    """None if the pod fits, else the kubelet's (reason, message) for the first short resource.

    Example: requests {cpu: 2000}, allocatable {cpu: 32000}, used {cpu: 31000} ->
    ("OutOfcpu", "Pod was rejected: Node didn't have enough resource: cpu, requested: 2000,
    used: 31000, capacity: 32000").
    """
    max_pods = allocatable.get("pods", 0) // 1000
    if pods_used + 1 > max_pods:
        return ("OutOfpods", "Pod was rejected: Node didn't have enough resource: pods, requested: 1, "
                             f"used: {pods_used}, capacity: {max_pods}")
    for name in sorted(requests):
        want = requests[name]
        if want <= 0 or name == "pods":
            continue
        have = allocatable.get(name, 0)
        if used.get(name, 0) + want > have:
            return (f"OutOf{name}", f"Pod was rejected: Node didn't have enough resource: {name}, "
                                    f"requested: {_shown(name, want)}, used: {_shown(name, used.get(name, 0))}, "
                                    f"capacity: {_shown(name, have)}")
    return None
