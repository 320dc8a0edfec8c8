"""Subresources computed by the server: pods/binding, pods/eviction, namespaces/finalize, and
the node-streaming ones (log, exec, attach, portforward) until a node agent serves them.

Each turns a request into a *trusted* update of the parent object (the store skips the
main-endpoint update rules for them, e.g. a pod's spec.nodeName may be set only by binding).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubelite.api import conformance
from kubelite.api.helpers.podutil import is_pod_ready
from kubelite.api.helpers.times import format_time
from kubelite.apiserver import codec
from kubelite.apiserver.handlers import Target, dry_run
from kubelite.apiserver.request import ApiRequest, ApiResponse, json_response
from kubelite.machinery import errors
from kubelite.machinery.selectors import from_label_selector

if TYPE_CHECKING:
    from kubelite.apiserver.server import ApiServer

Obj = dict[str, Any]


def _success(code: int = 201) -> ApiResponse:
    return json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code}, code)


def install(server: "ApiServer") -> None:
    store = server.store
    handlers = server.resources

    def body_of(req: ApiRequest, schema_name: str) -> Obj:
        body = codec.decode_body(req.body, req.content_type, handlers.resolve_kind)
        if not isinstance(body, dict):
            raise errors.bad_request("the request body must be an object")
        # decoded against its type, as kube does, so the handlers below only see well-typed fields
        errs = conformance.type_errors(body, schema_name)
        if errs:
            kind = schema_name.rsplit(".", 1)[-1]
            raise conformance.cannot_handle(kind, schema_name.split(".")[-2], errs[0].message)
        return body

    async def binding(req: ApiRequest, t: Target) -> ApiResponse:
        if t.verb != "create":
            raise errors.method_not_allowed()
        body = body_of(req, "io.k8s.api.core.v1.Binding")
        target = body.get("target") or {}
        node = target.get("name") if isinstance(target, dict) else None
        if not node:
            raise errors.invalid_object("Binding", "", t.name, [errors.required("target.name")])
        now = format_time(server.clock())

        def bind(pod: Obj) -> Obj:
            spec = pod.setdefault("spec", {})
            if pod["metadata"].get("deletionTimestamp"):
                raise errors.conflict("pods", "", t.name, "pod is being deleted, cannot be assigned to a host")
            if spec.get("nodeName"):
                raise errors.conflict("pods/binding", "", t.name,
                                      f'pod {t.name} is already assigned to node "{spec["nodeName"]}"')
            spec["nodeName"] = node
            status = pod.setdefault("status", {})
            conds = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
            conds.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": now})
            status["conditions"] = conds
            annotations = (body.get("metadata") or {}).get("annotations")
            if annotations:
                pod["metadata"].setdefault("annotations", {}).update(annotations)
            return pod

        await store.update(t.rt, t.namespace, t.name, bind, subresource="binding", dry_run=dry_run(req),
                           record_manager=False, validate=False)
        return _success()

    async def eviction(req: ApiRequest, t: Target) -> ApiResponse:
        if t.verb != "create":
            raise errors.method_not_allowed()
        body = body_of(req, "io.k8s.api.policy.v1.Eviction")
        pod = await store.get(t.rt, t.namespace, t.name)
        await _check_disruption_budgets(server, pod)
        opts = body.get("deleteOptions") or {}
        await store.delete(t.rt, t.namespace, t.name, grace_seconds=opts.get("gracePeriodSeconds"),
                           preconditions=opts.get("preconditions"), dry_run=dry_run(req))
        return _success()

    async def finalize(req: ApiRequest, t: Target) -> ApiResponse:
        if t.verb != "update":
            raise errors.method_not_allowed()
        body = body_of(req, "io.k8s.api.core.v1.Namespace")
        wanted = list((body.get("spec") or {}).get("finalizers") or [])

        def set_finalizers(ns: Obj) -> Obj:
            ns.setdefault("spec", {})["finalizers"] = wanted
            if not wanted:
                del ns["spec"]["finalizers"]
            return ns

        obj, _ = await store.update(t.rt, None, t.name, set_finalizers, subresource="finalize",
                                    manager=req.query.get("fieldManager", "namespace-controller"), dry_run=dry_run(req))
        return json_response(obj)

    async def needs_node(req: ApiRequest, t: Target) -> ApiResponse:
        pod = await store.get(t.rt, t.namespace, t.name)
        node = (pod.get("spec") or {}).get("nodeName")
        if not node:
            raise errors.bad_request(f"pod {t.name} does not have a host assigned")
        streamer = server.node_streamer
        if streamer is None:
            raise errors.StatusError(501, "NotImplemented", f"{t.subresource} is not available: node {node} has no streaming agent")
        return await streamer(req, t, pod)

    h = handlers.subresource_handlers
    h[("pods", "binding")] = binding
    h[("pods", "eviction")] = eviction
    h[("namespaces", "finalize")] = finalize
    for sub in ("log", "exec", "attach", "portforward"):
        h[("pods", sub)] = needs_node


async def _check_disruption_budgets(server: "ApiServer", pod: Obj) -> None:
    """Refuse an eviction that would take a PodDisruptionBudget below its floor (429, as Kubernetes)."""
    pdb_rt = server.registry.lookup("policy", "v1", "poddisruptionbudgets")
    if pdb_rt is None or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed", "Pending"):
        return
    ns = pod["metadata"]["namespace"]
    labels = pod["metadata"].get("labels") or {}
    budgets = [b for b in (await server.store.list(pdb_rt, ns)).items
               if from_label_selector((b.get("spec") or {}).get("selector")).matches(labels)]
    if not budgets:
        return
    pods_rt = server.rt("", "v1", "pods")
    all_pods = (await server.store.list(pods_rt, ns)).items
    for b in budgets:
        sel = from_label_selector((b.get("spec") or {}).get("selector"))
        matching = [p for p in all_pods if sel.matches(p["metadata"].get("labels") or {})
                    and not p["metadata"].get("deletionTimestamp")]
        healthy = sum(1 for p in matching if is_pod_ready(p))
        spec = b.get("spec") or {}
        expected = len(matching)
        if "minAvailable" in spec:
            desired = _resolve(spec["minAvailable"], expected, round_up=True)
        elif "maxUnavailable" in spec:
            desired = expected - _resolve(spec["maxUnavailable"], expected, round_up=True)
        else:
            continue
        if healthy - 1 < desired or not is_pod_ready(pod):
            if not is_pod_ready(pod) and healthy >= desired:
                continue  # an unhealthy pod can always go when the budget is met
            raise errors.StatusError(429, "TooManyRequests",
                                     "Cannot evict pod as it would violate the pod's disruption budget.",
                                     {"causes": [{"reason": "DisruptionBudget", "message": f"The disruption budget {b['metadata']['name']} needs {desired} healthy pods and has {healthy} currently"}]})


def _resolve(value: Any, total: int, *, round_up: bool) -> int:
    if isinstance(value, int):
        return value
    s = str(value)
    if s.endswith("%"):
        import math

        frac = int(s[:-1]) * total / 100
        return math.ceil(frac) if round_up else math.floor(frac)
    return int(s)



