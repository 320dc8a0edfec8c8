"""cgroups for pods and containers: one small interface (``Cgroup``), two drivers.

- ``V1Driver`` — cgroup v1 controllers (cpu, cpuacct, memory, pids), one directory per
  controller, plus, on a *hybrid* host, a companion directory in the v2 hierarchy that has no
  controllers but still gives ``cgroup.kill`` (kill a whole tree at once) and ``cgroup.events``
  (``populated 0/1``). This is what this project's machines have (see node-facts.md).
- ``V2Driver`` — a pure cgroup v2 host: ``memory.max``, ``cpu.max``, ``cpu.weight``,
  ``pids.max``, ``memory.events``; controllers are enabled in ``cgroup.subtree_control`` down
  the path.

Everything is created under the agent's *own* cgroup (read from ``/proc/self/cgroup``) so the
node agent never writes outside what it was delegated: ``<own>/<root>/pod<uid>/<container id>``
(``root`` is ``kubelite`` by default; tests pass a unique one). A ``Cgroup`` is described by a
JSON-able record (its absolute directories) kept in the runtime's state, so a restarted agent —
even one started in another cgroup — finds exactly the directories it made.

Worked example (v1, agent in ``memory:/process_api/ab``, limit 64 MiB, CPU limit 500m, request
250m)::

    /sys/fs/cgroup/memory/process_api/ab/kubelite/pod<uid>/<cid>/memory.limit_in_bytes = 67108864
    /sys/fs/cgroup/cpu/kubelite/pod<uid>/<cid>/cpu.cfs_quota_us = 50000  (period 100000)
    /sys/fs/cgroup/cpu/kubelite/pod<uid>/<cid>/cpu.shares = 256

All calls do blocking file I/O: the runtime calls them from worker threads.
"""
from __future__ import annotations

import logging
import os
import signal
import time
from dataclasses import dataclass
from typing import Any, Protocol

from kubelite.kubelet.runtime.interface import Resources

log = logging.getLogger(__name__)

V1_CONTROLLERS = ("cpu", "cpuacct", "memory", "pids")
V2_CONTROLLERS = ("cpu", "memory", "pids")


@dataclass
class Usage:
    cpu_ns: int = 0
    memory_usage: int = 0
    working_set: int = 0
    rss: int = 0


def _write(path: str, value: str) -> bool:
    try:
        with open(path, "w") as f:
            f.write(value)
        return True
    except OSError as e:
        log.debug("cgroup write %s=%s: %s", path, value, e)
        return False


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _kv(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            out[parts[0]] = int(parts[1])
    return out


def _rmdir_tree(path: str) -> None:
    """rmdir ``path`` and its child cgroups, deepest first; retries briefly while the kernel
    still counts exiting tasks (EBUSY)."""
    if not os.path.isdir(path):
        return
    for entry in os.scandir(path):
        if entry.is_dir(follow_symlinks=False):
            _rmdir_tree(entry.path)
    for _ in range(50):
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.01)
    log.warning("cgroup %s could not be removed", path)


def _period(res: Resources) -> int:
    return min(max(res.cpu_period_us or 100_000, 1000), 1_000_000)


def _quota(res: Resources) -> int:
    """The kernel refuses quotas under 1 ms; the kubelet raises them to that (limit 1m → 1000
    µs per 100 ms period rather than an error)."""
    return max(res.cpu_quota_us, 1000) if res.cpu_quota_us > 0 else 0


def cpu_weight(shares: int) -> int:
    """cgroup v2 cpu.weight from v1 shares, as runc and the kubelet convert them
    (2 → 1, 1024 → 39, 262144 → 10000)."""
    shares = max(2, min(shares, 262144))
    return 1 + ((shares - 2) * 9999) // 262142


class Cgroup(Protocol):
    """One pod or container cgroup."""

    def record(self) -> dict[str, Any]: ...
    def procs_files(self) -> list[str]: ...          # a process writes its pid into each to join
    def apply(self, res: Resources) -> None: ...
    def pids(self) -> list[int]: ...
    def populated(self) -> bool: ...
    def kill(self) -> None: ...                      # SIGKILL every process in it (and children)
    def oom_kills(self) -> int: ...
    def usage(self) -> Usage: ...
    def remove(self) -> None: ...


class CgroupV1:
    def __init__(self, dirs: dict[str, str]) -> None:
        self.dirs = dirs           # controller -> absolute dir; "unified" -> v2 companion

    def record(self) -> dict[str, Any]:
        return {"version": 1, "dirs": self.dirs}

    def create(self) -> None:
        for d in self.dirs.values():
            os.makedirs(d, exist_ok=True)

    def procs_files(self) -> list[str]:
        return [os.path.join(d, "cgroup.procs") for d in self.dirs.values()]

    def apply(self, res: Resources) -> None:
        d = self.dirs
        if "memory" in d:
            # -1 = unlimited; writing the limit fails if usage is above it (EBUSY): logged.
            _write(f"{d['memory']}/memory.limit_in_bytes", str(res.memory_limit_bytes or -1))
        if "cpu" in d:
            _write(f"{d['cpu']}/cpu.shares", str(max(2, res.cpu_shares)))
            _write(f"{d['cpu']}/cpu.cfs_period_us", str(_period(res)))
            _write(f"{d['cpu']}/cpu.cfs_quota_us", str(_quota(res) or -1))
        if "pids" in d:
            _write(f"{d['pids']}/pids.max", str(res.pids_limit) if res.pids_limit > 0 else "max")

    def pids(self) -> list[int]:
        out: set[int] = set()
        for name in ("unified", "pids", "memory", "cpu"):
            if name in self.dirs:
                out.update(_pids_under(self.dirs[name]))
        return sorted(out)

    def populated(self) -> bool:
        if "unified" in self.dirs:
            ev = _kv(_read(f"{self.dirs['unified']}/cgroup.events"))
            if "populated" in ev:
                return ev["populated"] == 1
        return bool(self.pids())

    def kill(self) -> None:
        if "unified" in self.dirs and _write(f"{self.dirs['unified']}/cgroup.kill", "1"):
            return
        _kill_loop(self.pids)

    def oom_kills(self) -> int:
        if "memory" not in self.dirs:
            return 0
        return _kv(_read(f"{self.dirs['memory']}/memory.oom_control")).get("oom_kill", 0)

    def usage(self) -> Usage:
        u = Usage()
        if "cpuacct" in self.dirs:
            txt = _read(f"{self.dirs['cpuacct']}/cpuacct.usage").strip()
            u.cpu_ns = int(txt) if txt.isdigit() else 0
        if "memory" in self.dirs:
            txt = _read(f"{self.dirs['memory']}/memory.usage_in_bytes").strip()
            u.memory_usage = int(txt) if txt.isdigit() else 0
            st = _kv(_read(f"{self.dirs['memory']}/memory.stat"))
            inactive = st.get("total_inactive_file", st.get("inactive_file", 0))
            u.working_set = max(0, u.memory_usage - inactive)
            u.rss = st.get("total_rss", st.get("rss", 0))
        return u

    def remove(self) -> None:
        for d in self.dirs.values():
            _rmdir_tree(d)


class CgroupV2:
    def __init__(self, path: str) -> None:
        self.path = path

    def record(self) -> dict[str, Any]:
        return {"version": 2, "dir": self.path}

    def create(self) -> None:
        os.makedirs(self.path, exist_ok=True)

    def procs_files(self) -> list[str]:
        return [os.path.join(self.path, "cgroup.procs")]

    def apply(self, res: Resources) -> None:
        p = self.path
        if res.memory_limit_bytes:
            if not _write(f"{p}/memory.max", str(res.memory_limit_bytes)):
                log.warning("memory limit not applied to %s (memory controller not delegated?)", p)
        else:
            _write(f"{p}/memory.max", "max")
        _write(f"{p}/cpu.max", f"{_quota(res) or 'max'} {_period(res)}")
        _write(f"{p}/cpu.weight", str(cpu_weight(res.cpu_shares)))
        _write(f"{p}/pids.max", str(res.pids_limit) if res.pids_limit > 0 else "max")

    def pids(self) -> list[int]:
        return sorted(_pids_under(self.path))

    def populated(self) -> bool:
        ev = _kv(_read(f"{self.path}/cgroup.events"))
        return ev.get("populated", 0) == 1 if "populated" in ev else bool(self.pids())

    def kill(self) -> None:
        if not _write(f"{self.path}/cgroup.kill", "1"):
            _kill_loop(self.pids)

    def oom_kills(self) -> int:
        return _kv(_read(f"{self.path}/memory.events")).get("oom_kill", 0)

    def usage(self) -> Usage:
        u = Usage()
        u.cpu_ns = _kv(_read(f"{self.path}/cpu.stat")).get("usage_usec", 0) * 1000
        txt = _read(f"{self.path}/memory.current").strip()
        u.memory_usage = int(txt) if txt.isdigit() else 0
        st = _kv(_read(f"{self.path}/memory.stat"))
        u.working_set = max(0, u.memory_usage - st.get("inactive_file", 0))
        u.rss = st.get("anon", 0)
        return u

    def remove(self) -> None:
        _rmdir_tree(self.path)


def _pids_under(d: str) -> set[int]:
    out: set[int] = set()
    if not os.path.isdir(d):
        return out
    for root, _dirs, _files in os.walk(d):
        for line in _read(os.path.join(root, "cgroup.procs")).split():
            if line.isdigit():
                out.add(int(line))
    return out


def _kill_loop(pids) -> None:  # noqa: ANN001
    """SIGKILL until empty: without cgroup.kill a forking process could add members while we
    kill, so repeat (bounded)."""
    for _ in range(100):
        live = pids()
        if not live:
            return
        for pid in live:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.01)


def load(record: dict[str, Any] | None) -> Cgroup | None:
    """A ``Cgroup`` from its state record (``None`` for a container that has none)."""
    if not record:
        return None
    if record.get("version") == 2:
        return CgroupV2(record["dir"])
    return CgroupV1(dict(record["dirs"]))


# --- discovering the host's layout ---------------------------------------------------------

def _mounts() -> list[tuple[str, str, set[str]]]:
    """(mount point, fstype, super options) of every cgroup/cgroup2 mount."""
    out = []
    for line in _read("/proc/self/mountinfo").splitlines():
        left, _, right = line.partition(" - ")
        fields, rfields = left.split(), right.split()
        if len(rfields) >= 3 and rfields[0] in ("cgroup", "cgroup2"):
            out.append((fields[4], rfields[0], set(rfields[2].split(","))))
    return out


def _own_paths() -> dict[str, str]:
    """controller -> this process' cgroup path; "" key = the v2 path."""
    out: dict[str, str] = {}
    for line in _read("/proc/self/cgroup").splitlines():
        _id, ctrls, path = line.split(":", 2)
        for c in ctrls.split(",") if ctrls else [""]:
            out[c] = path
    return out


class CgroupDriver(Protocol):
    version: int

    def new(self, rel: str) -> Cgroup: ...


class V1Driver:
    version = 1

    def __init__(self, mounts: dict[str, str], unified: str | None, own: dict[str, str], root: str) -> None:
        self.mounts, self.unified, self.own, self.root = mounts, unified, own, root

    def base_dirs(self) -> dict[str, str]:
        dirs = {c: os.path.join(m, self.own.get(c, "/").lstrip("/"), self.root) for c, m in self.mounts.items()}
        if self.unified:
            dirs["unified"] = os.path.join(self.unified, self.own.get("", "/").lstrip("/"), self.root)
        return {k: os.path.normpath(v) for k, v in dirs.items()}

    def new(self, rel: str) -> CgroupV1:
        cg = CgroupV1({k: os.path.join(v, rel) for k, v in self.base_dirs().items()})
        cg.create()
        return cg


class V2Driver:
    version = 2

    def __init__(self, mount: str, own: str, root: str) -> None:
        self.mount, self.own, self.root = mount, own, root

    def base_dir(self) -> str:
        return os.path.normpath(os.path.join(self.mount, self.own.lstrip("/"), self.root))

    def new(self, rel: str) -> CgroupV2:
        path = os.path.join(self.base_dir(), rel)
        # Enable the controllers from our own cgroup down to the new one's parent. Our own
        # cgroup usually holds processes (the agent), where the kernel refuses domain
        # controllers ("no internal processes"): then limits stay unavailable, logged once.
        own = os.path.normpath(os.path.join(self.mount, self.own.lstrip("/")))
        cur = own
        for part in [p for p in os.path.relpath(os.path.dirname(path), own).split("/") if p and p != "."] + [None]:
            avail = set(_read(f"{cur}/cgroup.controllers").split())
            want = " ".join(f"+{c}" for c in V2_CONTROLLERS if c in avail)
            if want:
                _write(f"{cur}/cgroup.subtree_control", want)
            if part is None:
                break
            cur = os.path.join(cur, part)
            os.makedirs(cur, exist_ok=True)
        cg = CgroupV2(path)
        cg.create()
        return cg


def detect(root: str = "kubelite") -> V1Driver | V2Driver | None:
    """The driver for this host, or None when cgroups cannot be used (not root, not Linux, no
    cgroup filesystem)."""
    if not os.path.exists("/proc/self/cgroup") or os.geteuid() != 0:
        return None
    v1: dict[str, str] = {}
    unified = None
    for point, fstype, opts in _mounts():
        if fstype == "cgroup":
            for c in V1_CONTROLLERS:
                if c in opts:
                    v1.setdefault(c, point)
        elif unified is None:
            unified = point
    own = _own_paths()
    if v1:
        return V1Driver(v1, unified, own, root)
    if unified:
        return V2Driver(unified, own.get("", "/"), root)
    return None
