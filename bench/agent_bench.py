"""Node agent benchmark: pod start latency on the user's path, and the agent's idle cost.

A real ``kubelite server`` process (embedded agent, process runtime, real processes) is driven
over HTTPS from this process: pods are created through the API (``sleep 3600`` containers, as
many creates in flight as ``--concurrency``) and a watch in this process observes each pod's
first status with phase Running; latency = that moment minus the moment its create was sent.
Targets (issue 6): p99 <= 1 s for 100 pods on one node; agent RSS <= 60 MB and idle CPU <= 1% of
a core with no pods. The agent runs inside the server process, so its RSS is the difference
between the server with and without ``--disable-agent``.

Usage: python bench/agent_bench.py [--pods 100] [--concurrency 20]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kubelite.client import PODS, SERVICEACCOUNTS, Client, HTTPTransport  # noqa: E402


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))] if s else float("nan")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data: Path, agent: bool) -> tuple[subprocess.Popen, Path]:
    port = free_port()
    kubeconfig = data / "kubeconfig.yaml"
    cmd = [sys.executable, "-m", "kubelite.cli.main", "server", "--data-dir", str(data), "--https-listen-port",
           str(port), "--write-kubeconfig", str(kubeconfig), "--node-name", "bench-node",
           "--kubelet-arg", f"port={free_port()}"]
    if not agent:
        cmd.append("--disable-agent")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=open(data / "server.log", "ab"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while not kubeconfig.exists():
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError((data / "server.log").read_text()[-2000:])
        time.sleep(0.05)
    return proc, kubeconfig


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def idle(proc: subprocess.Popen, seconds: float) -> tuple[float, float]:
    await asyncio.sleep(8)                     # start-up settles
    c0, t0 = cpu_seconds(proc.pid), time.monotonic()
    await asyncio.sleep(seconds)
    return (cpu_seconds(proc.pid) - c0) / (time.monotonic() - t0) * 100, rss_mb(proc.pid)


async def start_latency(client: Client, n: int, concurrency: int) -> list[float]:
    sent: dict[str, float] = {}
    running: dict[str, float] = {}
    rv = (await client.list(PODS, namespace="default")).resource_version
    done = asyncio.Event()

    async def watch() -> None:
        async for _, obj in client.watch(PODS, namespace="default", resource_version=rv):
            name = obj["metadata"]["name"]
            if (obj.get("status") or {}).get("phase") == "Running" and name not in running:
                running[name] = time.perf_counter()
                if len(running) == n:
                    done.set()
                    return

    watcher = asyncio.create_task(watch())
    sem = asyncio.Semaphore(concurrency)

    async def create(i: int) -> None:
        name = f"bench-{i}"
        body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                "spec": {"terminationGracePeriodSeconds": 1, "automountServiceAccountToken": False,
                         "containers": [{"name": "main", "image": "host", "command": ["sleep", "3600"]}]}}
        async with sem:
            sent[name] = time.perf_counter()
            await client.create(PODS, body, namespace="default")

    await asyncio.gather(*(create(i) for i in range(n)))
    await asyncio.wait_for(done.wait(), 120)
    watcher.cancel()
    return [running[k] - sent[k] for k in sent]


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        (tmp / "off").mkdir()
        proc, _ = start_server(tmp / "off", agent=False)
        try:
            cpu_off, rss_off = await idle(proc, args.idle)
        finally:
            stop(proc)
        (tmp / "on").mkdir()
        proc, kubeconfig = start_server(tmp / "on", agent=True)
        client = Client(HTTPTransport.from_kubeconfig(str(kubeconfig)))
        try:
            cpu_on, rss_on = await idle(proc, args.idle)
            for _ in range(100):                       # the default service account, the node
                try:
                    await client.get(SERVICEACCOUNTS, "default", namespace="default")
                    break
                except Exception:  # noqa: BLE001 - not there yet
                    await asyncio.sleep(0.1)
            spy = None
            if args.profile:                           # py-spy (a dev tool, not a dependency)
                spy = subprocess.Popen(["py-spy", "record", "--subprocesses", "--idle", "-r", "200", "-f", args.profile_format,
                                        "-o", args.profile, "--pid", str(proc.pid)], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
                await asyncio.sleep(1)
            lat = await start_latency(client, args.pods, args.concurrency)
            if spy is not None:
                spy.send_signal(2)
                spy.wait(60)
            rss_loaded = rss_mb(proc.pid)
            print(f"server idle, no agent:     CPU {cpu_off:.2f}% of a core, RSS {rss_off:.0f} MB")
            print(f"server idle, agent, 0 pods: CPU {cpu_on:.2f}% of a core, RSS {rss_on:.0f} MB "
                  f"(agent: {cpu_on - cpu_off:+.2f}% CPU, {rss_on - rss_off:+.0f} MB)")
            print(f"{args.pods} pods, {args.concurrency} creates in flight: start latency p50 {pct(lat, 50) * 1000:.0f} ms, "
                  f"p99 {pct(lat, 99) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms; RSS with them {rss_loaded:.0f} MB")
            await client.delete_collection(PODS, namespace="default")
            deadline = time.monotonic() + 60
            while (await client.list(PODS, namespace="default")).items and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
        finally:
            await client.close()
            stop(proc)
            try:
                from kubelite.kubelet.runtime.process import default_state_dir, killall
                killall(default_state_dir(tmp / "on" / "agent"), cgroup_root=None)
            except ImportError:
                pass


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pods", type=int, default=100)
    p.add_argument("--concurrency", type=int, default=20)
    p.add_argument("--idle", type=float, default=20.0, help="seconds of idle CPU measurement")
    p.add_argument("--profile", help="record the server (and the runtime shim) with py-spy during the burst to this file")
    p.add_argument("--profile-format", default="raw", help="py-spy's output format (raw: collapsed stacks; flamegraph)")
    asyncio.run(main(p.parse_args()))
