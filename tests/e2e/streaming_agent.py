"""A node agent stand-in for the streaming e2e tests: the real ``KubeletServer`` (TLS, client
certificates from the cluster CA) over the host-process test runtime, in a thread of the test
process, plus the Node and pod objects a kubelet would have written, through kubectl.

Once the real agent is embedded in ``kubelite server`` these tests keep proving the API server
side against a kubelet whose runtime they control.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
import uuid
from pathlib import Path
from typing import Any

from kubelite.kubelet.config import ResolvedContainer
from kubelite.kubelet.server import KubeletServer, kubelet_ssl_context
from kubelite.server.tls import ClusterPKI, issue_serving_cert
from tests.e2e.conftest import Cluster, free_port
from tests.kubelet.server.hostruntime import DictResolver, HostContainer, HostRuntime


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Agent:
    def __init__(self, cluster: Cluster, tmp: Path, node: str = "") -> None:
        self.cluster = cluster
        self.dir = tmp
        self.node = node or "stream-" + uuid.uuid4().hex[:6]
        self.port = free_port()
        self.runtime = HostRuntime()
        self.resolver = DictResolver()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        pki = ClusterPKI(cluster.data_dir / "tls")
        cert, key = tmp / "kubelet.crt", tmp / "kubelet.key"
        issue_serving_cert(pki, self.node, ["127.0.0.1"], ["localhost"], cert, key)
        self.server = KubeletServer(runtime=self.runtime, resolver=self.resolver, node_name=self.node,
                                    host="127.0.0.1", port=self.port,
                                    ssl_context=kubelet_ssl_context(str(cert), str(key), str(pki.ca_cert)),
                                    root_dir=str(tmp))

    def call(self, coro: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> "Agent":
        self.thread.start()
        self.call(self.server.start())
        register_node(self.cluster, self.node, self.port)
        return self

    def stop(self) -> None:
        self.call(self.runtime.stop_all())
        self.call(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    def run_pod(self, ns: str, name: str, containers: dict[str, list[str]], *, extra_status: dict | None = None,
                previous: dict[str, bytes] | None = None) -> dict:
        """Create the pod bound to this node, start its containers as host processes and report
        them running, as a kubelet would."""
        spec = {"nodeName": self.node, "containers": [{"name": c, "image": "busybox", "command": argv}
                                                       for c, argv in containers.items()]}
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns}, "spec": spec}
        self.cluster.kubectl("apply", "-f", "-", input=json.dumps(pod))
        uid = self.cluster.json("get", "pod", name, "-n", ns)["metadata"]["uid"]
        sandbox = "sb-" + uid[:8]
        statuses = []
        for c, argv in containers.items():
            cid = f"{name}-{c}-{uuid.uuid4().hex[:6]}"
            log_path = str(self.dir / f"{cid}.log")
            prev_path = None
            if previous and c in previous:
                prev_path = str(self.dir / f"{cid}-prev.log")
                Path(prev_path).write_bytes(previous[c])
            self.call(self.runtime.start_container_process(HostContainer(cid, sandbox, c, log_path), argv))
            self.resolver.add(ResolvedContainer(ns, name, uid, c, sandbox, cid, log_path,
                                                previous_container_id=f"{cid}-prev" if prev_path else None,
                                                previous_log_path=prev_path))
            st: dict[str, Any] = {"name": c, "image": "busybox", "imageID": "", "containerID": f"host://{cid}",
                                  "ready": True, "started": True, "restartCount": 1 if prev_path else 0,
                                  "state": {"running": {"startedAt": now()}}}
            if prev_path:
                st["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error", "containerID": f"host://{cid}-prev",
                                                  "startedAt": now(), "finishedAt": now()}}
            statuses.append(st)
        status = {"phase": "Running", "hostIP": "127.0.0.1", "podIP": "127.0.0.1", "startTime": now(),
                  "conditions": [{"type": t, "status": "True", "lastTransitionTime": now()}
                                 for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
                  "containerStatuses": statuses, **(extra_status or {})}
        patch_status(self.cluster, ns, name, status)
        return pod


def register_node(cluster: Cluster, name: str, port: int) -> None:
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}}}
    cluster.kubectl("apply", "-f", "-", input=json.dumps(node))
    status = {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": name}],
              "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
              "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "ready",
                              "lastHeartbeatTime": now(), "lastTransitionTime": now()}],
              "capacity": {"cpu": "2", "memory": "4Gi", "pods": "110"},
              "allocatable": {"cpu": "2", "memory": "4Gi", "pods": "110"}}
    cluster.kubectl("patch", "node", name, "--subresource=status", "--type=merge",
                    "-p", json.dumps({"status": status}))


def patch_status(cluster: Cluster, ns: str, name: str, status: dict) -> None:
    cluster.kubectl("patch", "pod", name, "-n", ns, "--subresource=status", "--type=merge",
                    "-p", json.dumps({"status": status}))
