"""Process runtime start cost: pod sandbox creation, container create+start (until the command
runs and its init reported), exec_sync round trip, and what each container's init costs in
memory — with the agent's heap inflated to a realistic size (``--agent-mb``), since every
container is a fork of the agent.

    python bench/process_runtime_bench.py [-n 50] [--agent-mb 60]

Needs root for namespaces and cgroups (without root it measures the plain-process path).
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kubelite.kubelet.runtime.interface import ContainerConfig, PodSandboxConfig, Resources
from kubelite.kubelet.runtime.process import ProcessRuntime, killall


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def private_kb(pid: int) -> int:
    """Private (not shared with the agent) memory of a process, from smaps_rollup."""
    total = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith(("Private_Clean:", "Private_Dirty:")):
                total += int(line.split()[1])
    except OSError:
        return -1
    return total


async def main(n: int, agent_mb: int, use_shim: bool) -> None:
    ballast = [bytearray(1 << 20) for _ in range(agent_mb)]   # an agent-sized heap to fork
    with tempfile.TemporaryDirectory() as tmp:
        state, root = Path(tmp) / "state", f"klbench-{uuid.uuid4().hex[:6]}"
        rt = ProcessRuntime(state, cgroup_root=root, use_shim=use_shim)
        sb_times, start_times, exec_times = [], [], []
        sids, cids = [], []
        try:
            for i in range(n):
                t = time.perf_counter()
                sid = await rt.run_pod_sandbox(PodSandboxConfig(name=f"p{i}", namespace="b", uid=uuid.uuid4().hex,
                                                                hosts_file="127.0.0.1 localhost\n"))
                sb_times.append(time.perf_counter() - t)
                t = time.perf_counter()
                cid = await rt.create_container(sid, ContainerConfig(
                    name="c", attempt=0, image="", command=("sleep", "600"), log_path=f"{tmp}/logs/{i}/0.log",
                    resources=Resources(memory_limit_bytes=64 << 20, cpu_quota_us=50_000)))
                await rt.start_container(cid)
                start_times.append(time.perf_counter() - t)
                sids.append(sid)
                cids.append(cid)
            for cid in cids[:20]:
                t = time.perf_counter()
                await rt.exec_sync(cid, ["true"], 5)
                exec_times.append(time.perf_counter() - t)
            await asyncio.sleep(1)
            inits = [rt._containers[c]["init"]["init_pid"] for c in cids]
            priv = [private_kb(p) for p in inits]
            print(f"isolate={rt.isolate} cgroups={type(rt.cgroups).__name__} shim={use_shim} "
                  f"agent heap ~{agent_mb} MB, n={n}")
            print(f"{'first start (incl. shim)':24s} {start_times[0] * 1000:6.1f} ms")
            start_times = start_times[1:]
            for name, xs in (("sandbox", sb_times), ("container create+start", start_times),
                             ("exec_sync true", exec_times)):
                print(f"{name:24s} p50 {statistics.median(xs) * 1000:6.1f} ms  p99 {pct(xs, 99) * 1000:6.1f} ms")
            print(f"{'init private memory':24s} p50 {statistics.median(priv) / 1024:6.2f} MB  max {max(priv) / 1024:6.2f} MB")
            t = time.perf_counter()
            await asyncio.gather(*(rt.stop_container(c, 5) for c in cids))
            print(f"stop {n} containers (SIGTERM) {time.perf_counter() - t:.2f} s")
        finally:
            killall(state, cgroup_root=root)
    del ballast


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=50)
    ap.add_argument("--agent-mb", type=int, default=60)
    ap.add_argument("--no-shim", action="store_true", help="fork the inits from this process")
    a = ap.parse_args()
    asyncio.run(main(a.n, a.agent_mb, not a.no_shim))
