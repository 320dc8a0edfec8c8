"""kubelite's client library: how every component reaches the API server.

Controllers, the scheduler, simulated nodes, the kubelet and the CLI talk to the cluster only
through this package, in-process or over HTTPS -- the same code either way, because everything
sits on one narrow seam, ``Transport`` (``request`` / ``stream`` / ``close``):

- ``HTTPTransport`` (aiohttp, TLS, client certs or bearer token; ``from_kubeconfig(path)``),
- the API server's in-process transport (lives in the apiserver package),
- ``MockTransport(handler)`` for tests.

On top of it: ``Client`` (REST verbs), ``Informer`` / ``SharedInformerFactory`` (list+watch
caches), ``WorkQueue`` (de-duplicating, rate-limited keys), ``EventRecorder`` (aggregated
core/v1 Events) and ``LeaderElector`` (Lease-based leader election). Time comes from a
``Clock`` (``FakeClock`` in tests).

A controller, end to end::

    from kubelite.client import (Client, HTTPTransport, SharedInformerFactory, WorkQueue,
                                 EventRecorder, LeaderElector, QueueShutDown, object_key,
                                 split_key, copy_object, index_by_controller_uid,
                                 PODS, REPLICASETS, is_not_found, ApiError)

    client = Client(HTTPTransport.from_kubeconfig("/etc/kubelite/controller.kubeconfig"),
                    field_manager="kube-controller-manager")
    factory = SharedInformerFactory(client)
    rs_informer = factory.informer(REPLICASETS)
    pod_informer = factory.informer(PODS)
    pod_informer.add_index("controller", index_by_controller_uid)
    queue: WorkQueue[str] = WorkQueue("replicaset")
    recorder = EventRecorder(client, "replicaset-controller")

    # Handlers only compute a key and enqueue it.
    rs_informer.add_handler(on_add=lambda rs: queue.add(object_key(rs)),
                            on_update=lambda old, new: queue.add(object_key(new)),
                            on_delete=lambda rs: queue.add(object_key(rs)))

    async def sync(key: str) -> None:
        ns, name = split_key(key)
        rs = rs_informer.get(key)           # cached: never mutate; copy_object() first
        if rs is None:
            return
        pods = pod_informer.by_index("controller", rs["metadata"]["uid"])
        ...                                  # compute, then write through `client`
        recorder.event(rs, "Normal", "SuccessfulCreate", f"Created pod: {name}-abcde")

    async def worker() -> None:
        while True:
            try:
                key = await queue.get()
            except QueueShutDown:
                return
            try:
                await sync(key)
                queue.forget(key)
            except Exception:
                queue.add_rate_limited(key)  # 5 ms, 10 ms, ... up to 1000 s
            finally:
                queue.done(key)

    async def work() -> None:
        factory.start()
        await factory.wait_for_sync()
        async with asyncio.TaskGroup() as tg:
            for i in range(5):
                tg.create_task(worker(), name=f"replicaset-worker-{i}")

    elector = LeaderElector(client, name="kube-controller-manager", identity=f"{hostname}_{uuid}")
    await elector.run(work)                  # raises LeadershipLost if the Lease is lost

Rules: objects from informer caches are shared -- never mutate them; errors from the server are
``ApiError`` (``.code``, ``.reason``, ``.message``), with helpers ``is_not_found``,
``is_conflict``, ``is_already_exists``; a watch from a too-old resourceVersion raises
``WatchExpired`` (informers handle it by relisting).
"""
from kubelite.client.clock import REAL_CLOCK, Clock, FakeClock, RealClock
from kubelite.client.events import NORMAL, WARNING, EventRecorder, FakeRecorder, object_reference
from kubelite.client.informer import (Informer, SharedInformerFactory, Store, copy_object,
                                      index_by_controller_uid, index_by_namespace, index_by_node_name,
                                      object_key, split_key)
from kubelite.client.kubeconfig import KubeConfig, KubeconfigError, load_incluster_config, load_kubeconfig
from kubelite.client.leaderelection import LeaderElector, LeadershipLost
from kubelite.client import resources as _resources
from kubelite.client.resources import *  # noqa: F403 - PODS, NODES, DEPLOYMENTS, ... constants
from kubelite.client.rest import (PATCH_TYPES, ApiError, Client, ListResult, Watch, WatchExpired,
                                  is_already_exists, is_conflict, is_gone, is_not_found, selector_string)
from kubelite.client.transport import (HTTPTransport, LineStream, MockTransport, Request, Response,
                                       StreamResponse, Transport, TransportError, split_lines)
from kubelite.client.workqueue import ExponentialBackoff, QueueShutDown, WorkQueue

__all__ = [
    "REAL_CLOCK", "Clock", "FakeClock", "RealClock",
    "NORMAL", "WARNING", "EventRecorder", "FakeRecorder", "object_reference",
    "Informer", "SharedInformerFactory", "Store", "copy_object", "index_by_controller_uid",
    "index_by_namespace", "index_by_node_name", "object_key", "split_key",
    "KubeConfig", "KubeconfigError", "load_incluster_config", "load_kubeconfig",
    "LeaderElector", "LeadershipLost",
    "PATCH_TYPES", "ApiError", "Client", "ListResult", "Watch", "WatchExpired", "is_already_exists",
    "is_conflict", "is_gone", "is_not_found", "selector_string",
    "HTTPTransport", "LineStream", "MockTransport", "Request", "Response", "StreamResponse",
    "Transport", "TransportError", "split_lines",
    "ExponentialBackoff", "QueueShutDown", "WorkQueue",
    *_resources.__all__,
]
