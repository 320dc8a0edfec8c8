"""Subresources computed by the server: pods/binding, pods/eviction, namespaces/finalize,
pods/ephemeralcontainers, and the node-streaming ones (log, exec, attach, portforward,
nodes/proxy) that are proxied to the node's kubelet (``nodeproxy.py``).

Each turns a request into a *trusted* update of the parent object (the store skips the
main-endpoint update rules for them, e.g. a pod's spec.nodeName may be set only by binding).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import copy

from kubelite.api import conformance
from kubelite.api.helpers.podutil import is_pod_ready
from kubelite.api.helpers.times import format_time
from kubelite.api.kinds.core.pod import validate_pod_spec
from kubelite.apiserver import codec, nodeproxy
from kubelite.apiserver.handlers import Target, dry_run
from kubelite.apiserver.request import ApiRequest, ApiResponse, json_response
from kubelite.machinery import errors
from kubelite.machinery.patch import json_patch, merge_patch, strategic_merge
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

    kubelet_streams = streaming(server)
    ephemeral = ephemeral_containers(server, body_of)

    h = handlers.subresource_handlers
    h[("pods", "binding")] = binding
    h[("pods", "eviction")] = eviction
    h[("namespaces", "finalize")] = finalize
    for sub in ("log", "exec", "attach", "portforward"):
        h[("pods", sub)] = kubelet_streams
    h[("nodes", "proxy")] = node_proxy(server)
    h[("pods", "ephemeralcontainers")] = ephemeral


# -- node streaming: proxied to the pod's kubelet (nodeproxy.py) --------------------------------

LOG_PARAMS = ("follow", "previous", "tailLines", "sinceSeconds", "sinceTime", "timestamps", "limitBytes")


def streaming(server: "ApiServer") -> Any:
    store = server.store

    async def handle(req: ApiRequest, t: Target) -> ApiResponse:
        pod = await store.get(t.rt, t.namespace, t.name)
        node_name = (pod.get("spec") or {}).get("nodeName")
        if not node_name:
            raise errors.bad_request(f"pod {t.name} does not have a host assigned")
        container = nodeproxy.pick_container(pod, req.query.get("container", ""))
        ns = t.namespace or ""
        if t.subresource == "log":
            if t.verb != "get":
                raise errors.method_not_allowed()
            log_query = _log_query(req, t.name)
            why = nodeproxy.log_container_error(pod, container, log_query.get("previous") == "true")
            if why:
                raise errors.bad_request(why)
            node = await store.get(server.rt("", "v1", "nodes"), None, node_name)
            url = server.kubelet.url(node, "containerLogs/" + nodeproxy.path_of(ns, t.name, container),
                                     list(log_query.items()))
            resp = await server.kubelet.request("GET", url)
            if resp.status < 400:
                resp.content_type = "text/plain"
            return resp
        if t.subresource in ("exec", "attach"):
            why = nodeproxy.stream_container_error(pod, container)
            if why:
                raise errors.bad_request(why)
            path = f"{t.subresource}/" + nodeproxy.path_of(ns, t.name, container)
        else:
            path = "portForward/" + nodeproxy.path_of(ns, t.name)
        node = await store.get(server.rt("", "v1", "nodes"), None, node_name)
        query = [(k, v) for k, vs in req.query_all.items() for v in vs if k != "container"]
        url = server.kubelet.url(node, path, query)
        if (req.headers.get("Upgrade") or req.headers.get("upgrade") or "").lower() != "websocket":
            # kubectl retries with SPDY when the WebSocket handshake failed, and shows only this
            # second answer: repeat the kubelet's refusal (or the dial error), then say that
            # this server relays WebSocket only
            probe = await server.kubelet.request("GET", url, stream=False)
            if probe.status >= 400 and b"Upgrade request required" not in probe.body:
                return probe
            raise errors.bad_request(f"Upgrade request required: {t.subresource} is served over WebSocket "
                                     f"(v5.channel.k8s.io; port-forward: SPDY/3.1+portforward.k8s.io)")
        return server.kubelet.relay_upgrade(url)

    return handle


def _log_query(req: ApiRequest, pod: str) -> dict[str, str]:
    """PodLogOptions from the query, checked as kube-apiserver checks them (422 Invalid)."""
    out: dict[str, str] = {}
    errs: list[errors.FieldError] = []
    for name in LOG_PARAMS:
        raw = req.query.get(name)
        if raw is None:
            continue
        if name in ("follow", "previous", "timestamps"):
            if raw.lower() not in ("true", "false", "1", "0", ""):
                raise errors.bad_request(f'strconv.ParseBool: parsing "{raw}": invalid syntax')
            if raw.lower() in ("true", "1"):
                out[name] = "true"
            continue
        if name == "sinceTime":
            out[name] = raw
            continue
        try:
            value = int(raw)
        except ValueError:
            raise errors.bad_request(f'strconv.ParseInt: parsing "{raw}": invalid syntax') from None
        if name == "tailLines" and value < 0:
            errs.append(errors.invalid("tailLines", value, "must be greater than or equal to 0"))
        elif name in ("sinceSeconds", "limitBytes") and value < 1:
            errs.append(errors.invalid(name, value, "must be greater than 0"))
        out[name] = str(value)
    if "sinceSeconds" in out and "sinceTime" in out:
        errs.append(errors.forbidden("", "at most one of `sinceTime` or `sinceSeconds` may be specified"))
    if errs:
        raise errors.invalid_object("PodLogOptions", "", pod, errs)
    return out


def node_proxy(server: "ApiServer") -> Any:
    """``/api/v1/nodes/N/proxy/<path>``: any request passed to the node's kubelet."""

    async def handle(req: ApiRequest, t: Target) -> ApiResponse:
        node = await server.store.get(t.rt, None, t.name)
        query = [(k, v) for k, vs in req.query_all.items() for v in vs]
        url = server.kubelet.url(node, t.path, query)
        if (req.headers.get("Upgrade") or req.headers.get("upgrade") or "").lower() == "websocket":
            return server.kubelet.relay_upgrade(url)
        headers = {k: v for k, v in req.headers.items() if k.lower() in ("content-type", "accept")}
        return await server.kubelet.request(req.method, url, body=req.body, headers=headers)

    return handle


# -- pods/ephemeralcontainers (kubectl debug) ------------------------------------------------

EPHEMERAL_FORBIDDEN = ("ports", "livenessProbe", "readinessProbe", "startupProbe", "lifecycle", "resources",
                       "resizePolicy")


def ephemeral_containers(server: "ApiServer", body_of: Any) -> Any:
    """GET returns the pod; PUT and PATCH may only *add* ephemeral containers, as
    kube-apiserver's EphemeralContainers strategy allows: existing ones can be neither removed
    nor changed. The kubelet then starts them and reports ephemeralContainerStatuses."""
    store = server.store
    handlers = server.resources

    async def handle(req: ApiRequest, t: Target) -> ApiResponse:
        if t.verb == "get":
            return json_response(await store.get(t.rt, t.namespace, t.name))
        if t.verb not in ("update", "patch"):
            raise errors.method_not_allowed()
        ctype = codec.media_type(req.content_type)
        if t.verb == "update":
            sent = body_of(req, "io.k8s.api.core.v1.Pod")
        else:
            sent = codec.decode_body(req.body, req.content_type)
        rt = t.rt

        def mutate(current: Obj) -> Obj:
            if t.verb == "update":
                rv = str((sent.get("metadata") or {}).get("resourceVersion") or "")
                if rv and rv != current["metadata"].get("resourceVersion"):
                    raise errors.conflict(rt.plural, rt.group, t.name, errors.STALE_OBJECT)
                wanted = sent
            elif ctype == "application/json-patch+json":
                if not isinstance(sent, list):
                    raise errors.bad_request("json patch must be a list of operations")
                wanted = json_patch(copy.deepcopy(current), sent)
            elif ctype == "application/merge-patch+json":
                wanted = merge_patch(copy.deepcopy(current), sent)
            elif ctype == "application/strategic-merge-patch+json":
                if not isinstance(sent, dict):
                    raise errors.bad_request("strategic merge patch must be an object")
                wanted = strategic_merge(copy.deepcopy(current), sent, cast(str, rt.schema))  # built-in Pod
            else:
                raise errors.StatusError(415, "UnsupportedMediaType", f"unsupported patch type {ctype}")
            if not isinstance(wanted, dict) or not isinstance(wanted.get("spec", {}), dict):
                raise errors.bad_request("the patched object must be a Pod")
            new_list = (wanted.get("spec") or {}).get("ephemeralContainers") or []
            if not isinstance(new_list, list) or not all(isinstance(c, dict) for c in new_list):
                raise errors.invalid_object("Pod", "", t.name, [
                    errors.invalid("spec.ephemeralContainers", new_list, "must be a list of containers")])
            # defaulted as a decoded Pod is, so an unchanged container compares equal
            candidate = copy.deepcopy(current)
            candidate.setdefault("spec", {})["ephemeralContainers"] = copy.deepcopy(new_list)
            rt.strategy.defaults(candidate)
            new_list = candidate["spec"].get("ephemeralContainers") or []
            errs = validate_ephemeral_update(current, new_list)
            current.setdefault("spec", {})["ephemeralContainers"] = new_list
            if not new_list:
                current["spec"].pop("ephemeralContainers")
            errs += [e for e in validate_pod_spec(current.get("spec"), "spec")
                     if e.field.startswith("spec.ephemeralContainers")]
            if errs:
                raise errors.invalid_object("Pod", "", t.name, errs)
            return current

        obj, _ = await store.update(rt, t.namespace, t.name, mutate, subresource="ephemeralcontainers",
                                    manager=handlers._manager(req), dry_run=dry_run(req), validate=False)
        return json_response(obj)

    return handle


def validate_ephemeral_update(pod: Obj, new_list: list[Obj]) -> list[errors.FieldError]:
    """Ephemeral containers may be added, never removed or changed; and they get no ports,
    probes, lifecycle or resources."""
    path = "spec.ephemeralContainers"
    old = {c.get("name"): c for c in (pod.get("spec") or {}).get("ephemeralContainers") or []}
    new = {c.get("name"): c for c in new_list}
    errs: list[errors.FieldError] = []
    for name, c in old.items():
        if name not in new:
            errs.append(errors.forbidden(path, f'existing ephemeral containers "{name}" may not be removed'))
        elif new[name] != c:
            errs.append(errors.forbidden(path, f'existing ephemeral containers "{name}" may not be changed'))
    regular = {c.get("name") for k in ("containers", "initContainers") for c in (pod.get("spec") or {}).get(k) or []}
    for i, c in enumerate(new_list):
        if c.get("name") in old:
            continue
        for f in EPHEMERAL_FORBIDDEN:
            if c.get(f):
                errs.append(errors.forbidden(f"{path}[{i}].{f}", "cannot be set for an Ephemeral Container"))
        target = c.get("targetContainerName")
        if target and target not in regular:
            errs.append(errors.FieldError(f"{path}[{i}].targetContainerName", f'Not found: "{target}"',
                                          "FieldValueNotFound"))
    return errs


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



