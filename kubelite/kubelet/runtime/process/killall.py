"""``kubelite killall`` for the process runtime (k3s' killall): stop every container the
runtime's state dir records and remove every cgroup, mount and namespace file it made.

Records stay (marked exited / not ready) so that an agent started afterwards reports the
containers as exited with their codes instead of forgetting them, and logs stay for
``kubectl logs --previous``. Runs synchronously (a CLI command, or from a thread).
"""
from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from kubelite.kubelet.runtime.interface import SandboxState
from kubelite.kubelet.runtime.process import cgroups
from kubelite.kubelet.runtime.process import namespaces as ns
from kubelite.kubelet.runtime.process import shim
from kubelite.kubelet.runtime.process.init import proc_start_ticks
from kubelite.kubelet.runtime.process.state import Layout, read_json, write_json


def _alive(init: dict) -> bool:
    t = proc_start_ticks(init.get("init_pid", 0))
    return t is not None and (init.get("init_ticks") is None or t == init["init_ticks"])


def killall(state_dir: str | Path, *, cgroup_root: str | None = "kubelite") -> dict[str, int]:
    """Kill every container of ``state_dir``, then remove cgroups, ns pins and mounts. Returns
    counts (containers killed, sandboxes torn down, mounts removed)."""
    layout = Layout(state_dir)
    killed = torn = unmounted = 0
    inits: list[tuple[Path, dict]] = []
    for cid in layout.container_ids():
        d = layout.container(cid)
        rec = read_json(d / "container.json") or {}
        init = read_json(d / "init.json")
        cg = cgroups.load(rec.get("cgroup"))
        if init and _alive(init) and not (d / "exit.json").exists():
            killed += 1
            if cg is not None:
                cg.kill()
            else:
                for fn in (lambda: os.killpg(init["pid"], signal.SIGKILL),
                           lambda: os.kill(init["pid"], signal.SIGKILL)):
                    with contextlib.suppress(OSError):
                        fn()
            inits.append((d, init))
        elif cg is not None:
            cg.kill()
    # The inits record exit codes as their commands die; give them a moment, then make sure.
    deadline = time.monotonic() + 3
    while inits and time.monotonic() < deadline and any(_alive(i) for _, i in inits):
        time.sleep(0.02)
    for d, init in inits:
        if _alive(init):
            with contextlib.suppress(OSError):
                os.kill(init["init_pid"], signal.SIGKILL)
        if not (d / "exit.json").exists():
            write_json(d / "exit.json", {"exit_code": 137, "signal": 9, "reason": "Error",
                                         "message": "killed by kubelite killall", "finished_at": time.time()})
    for cid in layout.container_ids():
        rec = read_json(layout.container(cid) / "container.json") or {}
        cg = cgroups.load(rec.get("cgroup"))
        if cg is not None:
            cg.remove()
    for sid in layout.sandbox_ids():
        path = layout.sandbox(sid) / "sandbox.json"
        rec = read_json(path) or {}
        for pin in (rec.get("ns") or {}).values():
            ns.unpin(pin)
        cg = cgroups.load(rec.get("cgroup"))
        if cg is not None:
            cg.kill()
            cg.remove()
        if rec.get("state") != SandboxState.NOTREADY.value:
            rec["state"] = SandboxState.NOTREADY.value
            write_json(path, rec)
        torn += 1
    # Anything still mounted under the state dir (a pin from a crashed sandbox creation).
    if layout.root.exists():
        for point in ns.mounted_under(str(layout.root)):
            ns.unpin(point)
            unmounted += 1
    shim.stop(str(layout.root))
    # Our cgroup root under the agent's own cgroup: remove what is left empty. Only recorded
    # containers are killed — another agent (another data dir) on this machine may share the
    # root with pods of its own.
    driver = cgroups.detect(cgroup_root) if cgroup_root else None
    if isinstance(driver, cgroups.V1Driver):
        for base in driver.base_dirs().values():
            _rmdir_empty(base)
    elif isinstance(driver, cgroups.V2Driver):
        _rmdir_empty(driver.base_dir())
    return {"containers": killed, "sandboxes": torn, "mounts": unmounted}


def _rmdir_empty(top: str) -> None:
    for root, _dirs, _files in os.walk(top, topdown=False):
        with contextlib.suppress(OSError):
            os.rmdir(root)
