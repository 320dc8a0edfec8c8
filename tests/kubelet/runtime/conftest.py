"""Fixtures for the process runtime tests: a runtime over a temporary state dir with a unique
cgroup root; everything it made is torn down (killall) and checked gone afterwards."""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubelite.kubelet.runtime.interface import ContainerConfig, PodSandboxConfig
from kubelite.kubelet.runtime.process import ProcessRuntime
from kubelite.kubelet.runtime.process import cgroups as cg
from kubelite.kubelet.runtime.process import namespaces as ns
from kubelite.kubelet.runtime.process.killall import killall

root_only = pytest.mark.skipif(not ns.available(), reason="namespaces and cgroups need root on Linux")


def cgroup_dirs(root: str) -> list[str]:
    d = cg.detect(root)
    if isinstance(d, cg.V1Driver):
        return list(d.base_dirs().values())
    if isinstance(d, cg.V2Driver):
        return [d.base_dir()]
    return []


@pytest.fixture
def cgroup_root() -> str:
    return f"kltest-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def state(tmp_path: Path, cgroup_root: str) -> Iterator[Path]:
    """The runtime's state dir; whatever a test left running is killed and checked gone."""
    path = tmp_path / "state"
    yield path
    killall(path, cgroup_root=cgroup_root)
    assert ns.mounted_under(str(path)) == []
    assert [d for d in cgroup_dirs(cgroup_root) if os.path.exists(d)] == []


@pytest.fixture
def rt(state: Path, cgroup_root: str) -> ProcessRuntime:
    return ProcessRuntime(state, cgroup_root=cgroup_root)


def pod(name: str = "web", **kw) -> PodSandboxConfig:  # noqa: ANN003
    return PodSandboxConfig(name=name, namespace="default", uid=kw.pop("uid", uuid.uuid4().hex), **kw)


def ctr(tmp_path: Path, *command: str, name: str = "c", **kw) -> ContainerConfig:  # noqa: ANN003
    kw.setdefault("log_path", str(tmp_path / "logs" / f"{name}-{uuid.uuid4().hex[:6]}" / "0.log"))
    return ContainerConfig(name=name, attempt=0, image="", command=tuple(command), **kw)
