"""cgroup drivers: what each writes for Resources and how it reads usage, on a directory tree
shaped like the real hierarchy (the real v1/hybrid path is exercised by the runtime tests)."""
from __future__ import annotations

from pathlib import Path

import pytest

from kubelite.kubelet.runtime.interface import Resources
from kubelite.kubelet.runtime.process import cgroups

RES = Resources(cpu_shares=512, cpu_quota_us=150_000, cpu_period_us=100_000, memory_limit_bytes=128 * 2**20,
                pids_limit=100)


@pytest.mark.parametrize("shares,weight", [(2, 1), (1024, 39), (262144, 10000), (0, 1), (10**9, 10000)])
def test_cpu_weight(shares: int, weight: int) -> None:
    assert cgroups.cpu_weight(shares) == weight


def test_v2_driver_writes_limits_and_enables_controllers(tmp_path: Path) -> None:
    own = tmp_path / "system.slice" / "agent.service"
    own.mkdir(parents=True)
    (own / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    drv = cgroups.V2Driver(str(tmp_path), "/system.slice/agent.service", "kubelite")
    cg = drv.new("podabc/c1")
    assert cg.path == str(own / "kubelite" / "podabc" / "c1")
    assert (own / "cgroup.subtree_control").read_text() == "+cpu +memory +pids"
    cg.apply(RES)
    d = Path(cg.path)
    assert (d / "memory.max").read_text() == str(128 * 2**20)
    assert (d / "cpu.max").read_text() == "150000 100000"
    assert (d / "cpu.weight").read_text() == str(cgroups.cpu_weight(512))
    assert (d / "pids.max").read_text() == "100"
    cg.apply(Resources(cpu_quota_us=100))
    assert (d / "cpu.max").read_text() == "1000 100000"          # the kernel's minimum quota
    cg.apply(Resources())
    assert (d / "memory.max").read_text() == "max" and (d / "cpu.max").read_text() == "max 100000"
    assert (d / "pids.max").read_text() == "max"
    (d / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    (d / "cpu.stat").write_text("usage_usec 2500\nuser_usec 2000\n")
    (d / "memory.current").write_text("1000000\n")
    (d / "memory.stat").write_text("anon 600000\ninactive_file 300000\n")
    (d / "cgroup.events").write_text("populated 1\nfrozen 0\n")
    assert cg.oom_kills() == 1 and cg.populated()
    u = cg.usage()
    assert (u.cpu_ns, u.memory_usage, u.working_set, u.rss) == (2_500_000, 1_000_000, 700_000, 600_000)
    assert cgroups.load(cg.record()).path == cg.path


def test_v1_driver_layout_and_usage(tmp_path: Path) -> None:
    mounts = {c: str(tmp_path / c) for c in ("cpu", "cpuacct", "memory", "pids")}
    own = {"memory": "/process_api/ab", "cpu": "/", "cpuacct": "/", "pids": "/", "": "/"}
    drv = cgroups.V1Driver(mounts, str(tmp_path / "unified"), own, "kubelite")
    cg = drv.new("podx/c")
    assert cg.dirs["memory"] == str(tmp_path / "memory/process_api/ab/kubelite/podx/c")
    assert cg.dirs["cpu"] == str(tmp_path / "cpu/kubelite/podx/c")
    assert cg.dirs["unified"] == str(tmp_path / "unified/kubelite/podx/c")
    cg.apply(RES)
    assert Path(cg.dirs["memory"], "memory.limit_in_bytes").read_text() == str(128 * 2**20)
    assert Path(cg.dirs["cpu"], "cpu.cfs_quota_us").read_text() == "150000"
    assert Path(cg.dirs["cpu"], "cpu.shares").read_text() == "512"
    assert Path(cg.dirs["pids"], "pids.max").read_text() == "100"
    cg.apply(Resources())
    assert Path(cg.dirs["memory"], "memory.limit_in_bytes").read_text() == "-1"
    assert Path(cg.dirs["cpu"], "cpu.cfs_quota_us").read_text() == "-1"
    Path(cg.dirs["memory"], "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    Path(cg.dirs["memory"], "memory.usage_in_bytes").write_text("5000\n")
    Path(cg.dirs["memory"], "memory.stat").write_text("total_rss 3000\ntotal_inactive_file 1000\n")
    Path(cg.dirs["cpuacct"], "cpuacct.usage").write_text("123456\n")
    assert cg.oom_kills() == 2
    u = cg.usage()
    assert (u.cpu_ns, u.memory_usage, u.working_set, u.rss) == (123456, 5000, 4000, 3000)
    assert cg.procs_files() == [str(Path(d) / "cgroup.procs") for d in cg.dirs.values()]
    assert cgroups.load(cg.record()).dirs == cg.dirs
    assert cgroups.load(None) is None
