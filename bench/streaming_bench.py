"""Node streaming through the API server, with the real kubectl: a real ``kubelite server``
process, a real ``KubeletServer`` (TLS, the API server's kubelet client certificate) over the
host-process test runtime, in this process. Prints: ``kubectl exec -- true`` (median of 5,
beside ``kubectl version`` for kubectl's own start-up), port-forward download throughput and
exec stdout throughput (64 MiB each).

    python bench/streaming_bench.py
"""
from __future__ import annotations

import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.conftest import free_port, make_cluster  # noqa: E402
from tests.e2e.streaming_agent import Agent  # noqa: E402

SIZE = 64 * 1024 * 1024


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="streaming-bench-"))
    cluster = make_cluster(tmp)
    cluster.start()
    (tmp / "agent").mkdir()
    agent = Agent(cluster, tmp / "agent").start()
    try:
        cluster.kubectl("create", "namespace", "bench")
        agent.run_pod("bench", "p", {"main": ["python3", "-u", "-c", "import time\ntime.sleep(3600)"]})

        def median_ms(*args: str) -> float:
            times = []
            for _ in range(5):
                t = time.monotonic()
                cluster.kubectl(*args)
                times.append(time.monotonic() - t)
            return statistics.median(times) * 1000

        print(f"kubectl exec -- true: median {median_ms('exec', 'p', '-n', 'bench', '--', 'true'):.0f} ms "
              f"(kubectl version: {median_ms('version', '--request-timeout=5s'):.0f} ms)")

        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen()

        def serve() -> None:
            conn, _ = srv.accept()
            with conn:
                block = b"x" * 65536
                for _ in range(SIZE // len(block)):
                    conn.sendall(block)
        threading.Thread(target=serve, daemon=True).start()
        local = free_port()
        pf = cluster.kubectl_background("port-forward", "pod/p", "-n", "bench", f"{local}:{srv.getsockname()[1]}")
        pf.stdout.readline()
        with socket.create_connection(("127.0.0.1", local)) as s:
            t, got = time.monotonic(), 0
            while chunk := s.recv(1 << 20):
                got += len(chunk)
            took = time.monotonic() - t
        pf.terminate()
        pf.wait()
        print(f"port-forward download: {got / 2**20:.0f} MiB in {took:.2f} s = {got / 2**20 / took:.0f} MiB/s")

        t = time.monotonic()
        out = cluster.kubectl("exec", "p", "-n", "bench", "--", "head", "-c", str(SIZE), "/dev/zero").stdout
        took = time.monotonic() - t
        print(f"exec stdout: {len(out) / 2**20:.0f} MiB in {took:.2f} s = {len(out) / 2**20 / took:.0f} MiB/s")
    finally:
        agent.stop()
        cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
