"""The process runtime's on-disk records: what a restarted agent reads to re-adopt sandboxes and
containers (nothing about them lives only in memory).

Layout under the runtime's state dir (``AgentConfig.root_dir / "runtime"`` by convention)::

    sandboxes/<sandbox id>/sandbox.json    config, created_at, state, cgroup record, ns files
                          /ns/uts, ns/ipc  bind mounts of the sandbox's namespaces (root only)
                          /hosts, resolv.conf   what containers see as /etc/hosts, /etc/resolv.conf
    containers/<container id>/container.json    config, sandbox id, created_at, cgroup record
                             /init.json    written by the container's init once the command runs:
                                           init pid (+ start ticks), command pid, started_at
                             /exit.json    written by the init when the command exited:
                                           exit_code, signal, oom_kills, finished_at
                             /attach.sock  the init's attach socket (while it runs)

The agent writes ``*.json`` records atomically (temp file + rename); the init writes its two.
Config dataclasses are stored with ``dataclasses.asdict`` and rebuilt by ``*_from_dict``.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from kubelite.kubelet.runtime.interface import (
    ContainerConfig,
    Mount,
    PodSandboxConfig,
    Resources,
    SecurityContext,
)
from kubelite.kubelet.runtime.process.init import write_json_atomic


def read_json(path: str | Path) -> dict[str, Any] | None:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def write_json(path: str | Path, obj: dict[str, Any]) -> None:
    write_json_atomic(str(path), obj)


def to_dict(obj: Any) -> dict[str, Any]:
    return asdict(obj)


def _known(cls: type, d: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in d.items() if k in names}


def sandbox_config_from_dict(d: dict[str, Any]) -> PodSandboxConfig:
    d = _known(PodSandboxConfig, d)
    d["resources"] = Resources(**_known(Resources, d.get("resources") or {}))
    return PodSandboxConfig(**d)


def container_config_from_dict(d: dict[str, Any]) -> ContainerConfig:
    d = _known(ContainerConfig, d)
    d["command"] = tuple(d.get("command") or ())
    d["env"] = tuple(tuple(kv) for kv in d.get("env") or ())
    d["mounts"] = tuple(Mount(**_known(Mount, m)) for m in d.get("mounts") or ())
    d["resources"] = Resources(**_known(Resources, d.get("resources") or {}))
    sec = _known(SecurityContext, d.get("security") or {})
    for k in ("supplemental_groups", "capabilities_add", "capabilities_drop"):
        if k in sec:
            sec[k] = tuple(sec[k])
    d["security"] = SecurityContext(**sec)
    return ContainerConfig(**d)


class Layout:
    """Paths of the state dir."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.sandboxes = self.root / "sandboxes"
        self.containers = self.root / "containers"

    def make(self) -> None:
        for p in (self.sandboxes, self.containers):
            p.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)

    def sandbox(self, sid: str) -> Path:
        return self.sandboxes / sid

    def container(self, cid: str) -> Path:
        return self.containers / cid

    def sandbox_ids(self) -> list[str]:
        return sorted(p.name for p in self.sandboxes.iterdir() if (p / "sandbox.json").exists()) \
            if self.sandboxes.is_dir() else []

    def container_ids(self) -> list[str]:
        return sorted(p.name for p in self.containers.iterdir() if (p / "container.json").exists()) \
            if self.containers.is_dir() else []
