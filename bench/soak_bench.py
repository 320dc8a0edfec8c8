"""Soak: create/delete churn of pods with Events against a real ``kubelite server``, for long
enough to see whether the server's state levels off (issue 11: bounded state).

A server process (controllers and scheduler on, no nodes: every pod stays Pending and the
scheduler records FailedScheduling Events, as a busy cluster without capacity does) is driven
over HTTPS: each round creates ``--pods`` pods, posts an Event for each (what a kubelet would
report), then deletes the pods. Every ``--sample`` seconds it records the server's RSS, the
size of the database files (state.db + WAL) and the number of live Events. Events expire after
``--event-ttl`` (the server's flag); the storage compacts history beyond 10,000 revisions.

Levelling off: RSS and the database size of the last third of the run stay within a margin
of the middle third (printed as "growth last/middle").

Usage: python bench/soak_bench.py [--minutes 30] [--pods 100] [--round-interval 1] [--event-ttl 5m]
                                  [--sample 30]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_bench import ROOT, pod, rss_mb, ssl_from_kubeconfig  # noqa: E402


def db_mb(data: Path) -> float:
    return sum(p.stat().st_size for p in (data / "db").glob("state.db*")) / 2**20


def event(ns: str, pod_name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{pod_name}.{uuid.uuid4().hex[:12]}", "namespace": ns},
            "involvedObject": {"kind": "Pod", "name": pod_name, "namespace": ns, "apiVersion": "v1"},
            "reason": "Pulled", "message": f"Container image \"nginx:1.27\" already present on machine ({pod_name})",
            "type": "Normal", "source": {"component": "soak-bench"}, "count": 1}


async def run(args: argparse.Namespace) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="kubelite-soak-"))
    port = 17443 + os.getpid() % 1000
    kubeconfig = tmp / "kubeconfig.yaml"
    log = open(tmp / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "kubelite.cli.main", "server", "--disable-agent",
                             "--data-dir", str(tmp / "data"), "--https-listen-port", str(port),
                             "--write-kubeconfig", str(kubeconfig), "--event-ttl", args.event_ttl],
                            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    samples: list[tuple[float, float, float, int]] = []
    try:
        deadline = time.monotonic() + 30
        while not kubeconfig.exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        url, ctx = ssl_from_kubeconfig(kubeconfig, tmp)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx, limit=32)) as http:
            while True:
                try:
                    async with http.get(f"{url}/readyz") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
            base = f"{url}/api/v1/namespaces/default"
            start = time.monotonic()
            end = start + args.minutes * 60
            next_sample = start
            rounds = 0

            async def post(path: str, body: dict) -> None:
                async with http.post(f"{base}/{path}", json=body) as r:
                    await r.read()

            while time.monotonic() < end:
                round_start = time.monotonic()
                names = [f"soak-{rounds}-{i}" for i in range(args.pods)]
                await asyncio.gather(*(post("pods", {**pod(n), "metadata": {"name": n, "labels": {"app": "soak"}}})
                                       for n in names))
                await asyncio.gather(*(post("events", event("default", n)) for n in names))
                async with http.delete(f"{base}/pods", params={"labelSelector": "app=soak", "gracePeriodSeconds": "0"}) as r:
                    await r.read()
                rounds += 1
                now = time.monotonic()
                if now >= next_sample:
                    live, token, meta = 0, "", {}
                    while True:  # pages of 500, so the sampling itself does not inflate the RSS
                        params = {"limit": "500", **({"continue": token} if token else {})}
                        async with http.get(f"{base}/events", params=params) as r:
                            page = await r.json()
                        live += len(page["items"])
                        meta = meta or page["metadata"]
                        token = page["metadata"].get("continue", "")
                        if not token:
                            break
                    samples.append((now - start, rss_mb(proc.pid), db_mb(tmp / "data"), live))
                    t, rss, db, ev = samples[-1]
                    print(f"{t / 60:5.1f} min  round {rounds:5d}  RSS {rss:6.1f} MB  db {db:6.1f} MB  "
                          f"events {ev:6d}  rv {meta.get('resourceVersion')}", flush=True)
                    next_sample = now + args.sample
                pause = args.round_interval - (time.monotonic() - round_start)
                if pause > 0:
                    await asyncio.sleep(pause)
    finally:
        proc.terminate()
        proc.wait(30)
    third = max(1, len(samples) // 3)
    middle, last = samples[third:2 * third] or samples, samples[-third:]

    def mean(rows: list[tuple[float, float, float, int]], i: int) -> float:
        return sum(r[i] for r in rows) / len(rows)

    out = {"rounds": float(rounds), "rss_middle": mean(middle, 1), "rss_last": mean(last, 1),
           "db_middle": mean(middle, 2), "db_last": mean(last, 2), "events_last": mean(last, 3),
           "rss_max": max(s[1] for s in samples), "db_max": max(s[2] for s in samples)}
    print(f"rounds {rounds} ({rounds * args.pods} pods and events); RSS middle {out['rss_middle']:.1f} MB, "
          f"last {out['rss_last']:.1f} MB (max {out['rss_max']:.1f}); db middle {out['db_middle']:.1f} MB, "
          f"last {out['db_last']:.1f} MB (max {out['db_max']:.1f}); live events at the end ~{out['events_last']:.0f}")
    print(f"growth last/middle: RSS {out['rss_last'] / out['rss_middle']:.2f}x, db {out['db_last'] / out['db_middle']:.2f}x")
    return out


def main(argv: list[str] | None = None) -> dict[str, float]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--pods", type=int, default=100, help="pods (and Events) per round")
    ap.add_argument("--event-ttl", default="5m", help="the server's --event-ttl")
    ap.add_argument("--sample", type=float, default=30.0, help="seconds between samples")
    ap.add_argument("--round-interval", type=float, default=1.0,
                    help="seconds from one round's start to the next (0: as fast as the server goes)")
    return asyncio.run(run(ap.parse_args(argv)))


if __name__ == "__main__":
    main()
