"""API server benchmark: a real ``kubelite server`` process, driven over HTTPS from this process.

Measures what issue #2 sets targets for, on this 2-core machine:
  - /readyz after start (target <= 1.5 s) and idle RSS (target <= 150 MB)
  - pod creates at a steady 100/s: write latency p50/p99 (target p99 <= 50 ms)
  - GETs of single pods during that load: p50/p99 (target p99 <= 10 ms)
  - LIST of 3,000 pods: latency
  - watch delivery with 1,000 watchers: time from a write's acknowledgement to each watcher
    receiving the event, p50/p99 (target p99 <= 50 ms)

Usage: python bench/api_bench.py [--pods 3000] [--watchers 1000]
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import multiprocessing
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson
import yaml

ROOT = Path(__file__).resolve().parent.parent


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def ssl_from_kubeconfig(path: Path, tmp: Path) -> tuple[str, ssl.SSLContext]:
    cfg = yaml.safe_load(path.read_text())
    cluster = cfg["clusters"][0]["cluster"]
    user = cfg["users"][0]["user"]
    ca = tmp / "ca.crt"
    cert = tmp / "client.crt"
    key = tmp / "client.key"
    ca.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
    cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
    key.write_bytes(base64.b64decode(user["client-key-data"]))
    ctx = ssl.create_default_context(cafile=str(ca))
    ctx.load_cert_chain(str(cert), str(key))
    return cluster["server"], ctx


def watch_client(url: str, tmp: str, rv: str, count: int, ticks: int, conn) -> None:  # noqa: ANN001
    """A client process holding ``count`` watches; reports receipt times per tick value."""
    async def run() -> dict[str, list[float]]:
        ctx = ssl.create_default_context(cafile=f"{tmp}/ca.crt")
        ctx.load_cert_chain(f"{tmp}/client.crt", f"{tmp}/client.key")
        received: dict[str, list[float]] = {}
        ready = 0
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx, limit=0),
                                         timeout=aiohttp.ClientTimeout(total=None)) as http:
            async def watcher() -> None:
                nonlocal ready
                async with http.get(url, params={"watch": "true", "resourceVersion": rv,
                                                 "fieldSelector": "metadata.name=tick"}) as r:
                    ready += 1
                    if ready == count:
                        conn.send("ready")
                    seen = 0
                    async for line in r.content:
                        now = time.perf_counter()  # receipt time: keep per-line work minimal
                        i = line.find(b'"t":"')
                        received.setdefault(line[i + 5:line.index(b'"', i + 5)].decode(), []).append(now)
                        seen += 1
                        if seen == ticks:
                            return
            await asyncio.wait_for(asyncio.gather(*(watcher() for _ in range(count))), 120)
        return received

    conn.send(asyncio.run(run()))


def pod(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "bench", "tier": "web"}},
            "spec": {"containers": [{"name": "main", "image": "nginx:1.27", "ports": [{"containerPort": 80}],
                                     "env": [{"name": f"VAR{i}", "value": "x" * 40} for i in range(20)],
                                     "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}}


async def main(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="kubelite-bench-"))
    port = 16443 + os.getpid() % 1000
    kubeconfig = tmp / "kubeconfig.yaml"
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "kubelite.cli.main", "server", "--disable-agent",
                             "--disable-scheduler", "--disable-controllers",
                             "--data-dir", str(tmp / "data"), "--https-listen-port", str(port),
                             "--write-kubeconfig", str(kubeconfig)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE
    ready_s = None
    async with aiohttp.ClientSession() as probe:
        while time.monotonic() - t0 < 30:
            try:
                async with probe.get(f"https://127.0.0.1:{port}/readyz", ssl=insecure) as r:
                    if r.status == 200 and kubeconfig.exists():
                        ready_s = time.monotonic() - t0
                        break
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.01)
    results: dict[str, str] = {"readyz after start": f"{ready_s:.2f} s" if ready_s else "never"}
    try:
        await asyncio.sleep(1.0)
        results["idle RSS"] = f"{rss_mb(proc.pid):.0f} MB"
        server, ctx = ssl_from_kubeconfig(kubeconfig, tmp)
        base = f"{server}/api/v1/namespaces/default/pods"
        conn = aiohttp.TCPConnector(ssl=ctx, limit=2000)
        async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=None)) as http:
            # -- creates at a steady rate, with GETs interleaved ----------------------------
            write_lat: list[float] = []
            get_lat: list[float] = []

            async def create(i: int) -> None:
                body = orjson.dumps(pod(f"bench-{i}"))
                t = time.perf_counter()
                async with http.post(base, data=body, headers={"Content-Type": "application/json"}) as r:
                    await r.read()
                    assert r.status == 201, r.status
                write_lat.append((time.perf_counter() - t) * 1000)

            async def get(i: int) -> None:
                t = time.perf_counter()
                async with http.get(f"{base}/bench-{i}") as r:
                    await r.read()
                get_lat.append((time.perf_counter() - t) * 1000)

            tasks = []
            start = time.perf_counter()
            for i in range(args.pods):
                target = start + i / args.rate
                delay = target - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(create(i)))
                if i >= 10:
                    tasks.append(asyncio.create_task(get(i - 10)))
            await asyncio.gather(*tasks)
            results[f"create at {args.rate}/s ({args.pods} pods) p50/p99"] = f"{pct(write_lat, 50):.1f} / {pct(write_lat, 99):.1f} ms"
            results["GET during load p50/p99"] = f"{pct(get_lat, 50):.1f} / {pct(get_lat, 99):.1f} ms"

            # -- list all pods ---------------------------------------------------------------
            list_lat = []
            for _ in range(5):
                t = time.perf_counter()
                async with http.get(base) as r:
                    data = await r.read()
                list_lat.append((time.perf_counter() - t) * 1000)
            n = len(orjson.loads(data)["items"])
            results[f"LIST {n} pods (median of 5)"] = f"{statistics.median(list_lat):.0f} ms"
            results["RSS after load"] = f"{rss_mb(proc.pid):.0f} MB"

            # -- watch fan-out -----------------------------------------------------------------
            cm_base = f"{server}/api/v1/namespaces/default/configmaps"
            async with http.post(cm_base, data=orjson.dumps({"metadata": {"name": "tick"}, "data": {"t": "0"}}),
                                 headers={"Content-Type": "application/json"}) as r:
                rv = (await r.json())["metadata"]["resourceVersion"]
            # Watchers live in --watch-procs client processes (perf_counter is system-wide), so
            # the measurement is the server's fan-out, not one client process decrypting and
            # reading 1,000 TLS streams in turn.
            ctx_mp = multiprocessing.get_context("spawn")
            parent_ends, procs = [], []
            per = [args.watchers // args.watch_procs + (1 if i < args.watchers % args.watch_procs else 0)
                   for i in range(args.watch_procs)]
            for n in per:
                a, b = ctx_mp.Pipe()
                wp = ctx_mp.Process(target=watch_client, args=(cm_base, str(tmp), rv, n, args.ticks, b))
                wp.start()
                parent_ends.append(a)
                procs.append(wp)
            for a in parent_ends:
                assert a.recv() == "ready"
            await asyncio.sleep(0.5)
            sent_at: dict[str, float] = {}
            for k in range(1, args.ticks + 1):
                sent_at[str(k)] = time.perf_counter()
                async with http.patch(f"{cm_base}/tick", data=orjson.dumps({"data": {"t": str(k)}}),
                                      headers={"Content-Type": "application/merge-patch+json"}) as r:
                    await r.read()
                await asyncio.sleep(0.3)
            delivery: list[float] = []
            for a, wp in zip(parent_ends, procs):
                received = a.recv()
                wp.join(10)
                for val, stamps in received.items():
                    if val in sent_at:
                        delivery += [(x - sent_at[val]) * 1000 for x in stamps]
            results[f"watch delivery, {args.watchers} watchers x {args.ticks} events p50/p99"] = \
                f"{pct(delivery, 50):.1f} / {pct(delivery, 99):.1f} ms ({len(delivery)} deliveries)"
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            results["clean shutdown"] = "NO (killed after 15 s)"
            proc.kill()
    width = max(len(k) for k in results)
    for k, v in results.items():
        print(f"{k:<{width}}  {v}")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--pods", type=int, default=3000)
    p.add_argument("--rate", type=float, default=100.0)
    p.add_argument("--watchers", type=int, default=1000)
    p.add_argument("--ticks", type=int, default=20)
    p.add_argument("--watch-procs", type=int, default=4, help="client processes holding the watches")
    asyncio.run(main(p.parse_args()))
