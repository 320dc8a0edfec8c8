"""The Pod kind: pod spec and pod template defaults/validation, pod update rules, and pods' strategy.

The pod-spec functions here are shared by every kind that embeds a pod template (Deployments,
ReplicaSets, Jobs, ... in ``kinds/apps`` and ``kinds/batch``, and ReplicationControllers and
PodTemplates here), so all of them default and validate pods identically:

* ``default_pod_spec`` / ``default_pod_template``: Kubernetes' SetDefaults_PodSpec and the defaults
  of containers and volumes (``restartPolicy: Always``, ``dnsPolicy: ClusterFirst``,
  ``imagePullPolicy`` from the tag, ``defaultMode: 420``, ...).
* ``default_pod``: additionally SetDefaults_Pod, which only real Pods get (``enableServiceLinks``,
  requests copied from limits) -- a Deployment's template therefore never shows them.
* ``validate_pod_spec`` / ``validate_pod_template``: ValidatePodSpec / ValidatePodTemplateSpec.
* ``validate_pod_update``: what may change on a running pod (images, activeDeadlineSeconds,
  added tolerations); everything else is "Forbidden: pod updates may not change fields other than ...".

The Table printer of pods lives in ``kinds/core/pod_table.py``.
"""
from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from kubelite.api.kinds.core import pod_resize
from kubelite.api.kinds.core.container import default_container, host_port_conflicts, validate_containers
from kubelite.api.kinds.core.pod_table import POD_COLUMNS, pod_row
from kubelite.api.kinds.core.volume import default_volume, validate_volumes
from kubelite.api.registry import ResourceType, Strategy
from kubelite.api.validation import (
    child, index, inclusive_range_error, is_dns1123_label, is_dns1123_subdomain, is_qualified_name, quantity_value,
    required, validate_annotations, validate_enum, validate_immutable, validate_ip, validate_label_selector,
    validate_labels, validate_nonnegative,
)
from kubelite.machinery.errors import FieldError, forbidden, invalid, not_supported

RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
TOLERATION_OPERATORS = ("Equal", "Exists")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
MAX_INT32 = 2**31 - 1
CONTAINER_KINDS = (("initContainers", "init"), ("containers", "regular"), ("ephemeralContainers", "ephemeral"))

POD_UPDATE_FORBIDDEN = (
    "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,"
    "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),"
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
)


# --- defaults -----------------------------------------------------------------------------------


def default_pod_spec(spec: dict[str, Any]) -> None:
    """SetDefaults_PodSpec plus container and volume defaults, in place (templates and pods)."""
    if not spec.get("dnsPolicy"):
        spec["dnsPolicy"] = "ClusterFirst"
    if not spec.get("restartPolicy"):
        spec["restartPolicy"] = "Always"
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = 30
    if not spec.get("schedulerName"):
        spec["schedulerName"] = "default-scheduler"
    for field_name, _ in CONTAINER_KINDS:
        for c in spec.get(field_name) or []:
            if isinstance(c, dict):
                default_container(c)
    for vol in spec.get("volumes") or []:
        if isinstance(vol, dict):
            default_volume(vol)
    # Kubernetes keeps the deprecated alias in step with serviceAccountName.
    if spec.get("serviceAccountName") and not spec.get("serviceAccount"):
        spec["serviceAccount"] = spec["serviceAccountName"]
    elif spec.get("serviceAccount") and not spec.get("serviceAccountName"):
        spec["serviceAccountName"] = spec["serviceAccount"]


def default_pod_template(template: dict[str, Any]) -> None:
    """Defaults of a PodTemplateSpec (``{"metadata": ..., "spec": ...}``) in place."""
    spec = template.get("spec")
    if isinstance(spec, dict):
        default_pod_spec(spec)


def sync_pod_ips(status: Any) -> None:
    """podIP = podIPs[0].ip and hostIP = hostIPs[0].ip, as Kubernetes' v1 conversion keeps them: a
    status written with only one of the pair reads back with both (the list wins when both are given)."""
    if not isinstance(status, dict):
        return
    for single, plural in (("podIP", "podIPs"), ("hostIP", "hostIPs")):
        many = status.get(plural)
        if status.get(single) and not many:
            status[plural] = [{"ip": status[single]}]
        elif many and isinstance(many[0], dict) and many[0].get("ip"):
            status[single] = many[0]["ip"]


def default_pod(pod: dict[str, Any]) -> None:
    """Defaults of a Pod object: the spec defaults plus SetDefaults_Pod (pods only)."""
    sync_pod_ips(pod.get("status"))
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return
    default_pod_spec(spec)
    for field_name in ("containers", "initContainers"):
        for c in spec.get(field_name) or []:
            res = (c or {}).get("resources")
            if isinstance(res, dict) and isinstance(res.get("limits"), dict) and res["limits"]:
                # A limit without a request means "request exactly the limit".
                requests = res.setdefault("requests", {})
                if isinstance(requests, dict):
                    for k, v in res["limits"].items():
                        requests.setdefault(k, v)
    if spec.get("enableServiceLinks") is None:
        spec["enableServiceLinks"] = True
    if spec.get("hostNetwork"):
        for field_name in ("containers", "initContainers"):
            for c in spec.get(field_name) or []:
                for port in (c or {}).get("ports") or []:
                    if isinstance(port, dict) and not port.get("hostPort") and port.get("containerPort"):
                        port["hostPort"] = port["containerPort"]


# --- validation ---------------------------------------------------------------------------------


def _validate_tolerations(tolerations: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, t in enumerate(tolerations or []):
        p = index(path, i)
        if not isinstance(t, dict):
            errs.append(invalid(p, t, "must be an object"))
            continue
        k, op = t.get("key", ""), t.get("operator") or "Equal"
        if k:
            errs += [invalid(child(p, "key"), k, m) for m in is_qualified_name(k)]
        elif op != "Exists":
            errs.append(invalid(child(p, "operator"), op, "operator must be Exists when `key` is empty, which means "
                                                          "\"match all values and all keys\""))
        if t.get("tolerationSeconds") is not None and t.get("effect") != "NoExecute":
            errs.append(invalid(child(p, "effect"), t.get("effect", ""),
                                "effect must be 'NoExecute' when `tolerationSeconds` is set"))
        if op == "Exists" and t.get("value"):
            errs.append(invalid(child(p, "operator"), t["value"], "value must be empty when `operator` is 'Exists'"))
        elif op not in TOLERATION_OPERATORS:
            errs.append(not_supported(child(p, "operator"), op, list(TOLERATION_OPERATORS)))
        if t.get("effect"):
            errs += validate_enum(t["effect"], child(p, "effect"), TAINT_EFFECTS)
    return errs


def _validate_dns(spec: dict[str, Any], path: str) -> list[FieldError]:
    errs = validate_enum(spec.get("dnsPolicy"), child(path, "dnsPolicy"), DNS_POLICIES)
    cfg = spec.get("dnsConfig")
    if spec.get("dnsPolicy") == "None" and cfg is None:
        errs.append(required(child(path, "dnsConfig"), "must provide `dnsConfig` when `dnsPolicy` is None"))
    if isinstance(cfg, dict):
        servers = cfg.get("nameservers") or []
        if spec.get("dnsPolicy") == "None" and not servers:
            errs.append(required(child(path, "dnsConfig", "nameservers"),
                                 "must provide at least one DNS nameserver when `dnsPolicy` is None"))
        if len(servers) > 3:
            errs.append(invalid(child(path, "dnsConfig", "nameservers"), servers,
                                "must not have more than 3 nameservers"))
        for i, s in enumerate(servers):
            errs += validate_ip(s, index(child(path, "dnsConfig", "nameservers"), i))
        for i, s in enumerate(cfg.get("searches") or []):
            errs += [invalid(index(child(path, "dnsConfig", "searches"), i), s, m)
                     for m in is_dns1123_subdomain(str(s).rstrip("."))]
        for i, o in enumerate(cfg.get("options") or []):
            if not (o or {}).get("name"):
                errs.append(required(child(index(child(path, "dnsConfig", "options"), i), "name"),
                                     "Option.Name must not be empty"))
    return errs


def _validate_affinity(aff: Any, path: str) -> list[FieldError]:
    if not isinstance(aff, dict):
        return []
    errs: list[FieldError] = []
    for kind in ("podAffinity", "podAntiAffinity"):
        a = aff.get(kind) or {}
        req_path = child(path, kind, "requiredDuringSchedulingIgnoredDuringExecution")
        for i, term in enumerate(a.get("requiredDuringSchedulingIgnoredDuringExecution") or []):
            errs += _validate_affinity_term(term, index(req_path, i))
        pref_path = child(path, kind, "preferredDuringSchedulingIgnoredDuringExecution")
        for i, w in enumerate(a.get("preferredDuringSchedulingIgnoredDuringExecution") or []):
            weight = (w or {}).get("weight")
            if not isinstance(weight, int) or not 1 <= weight <= 100:
                errs.append(invalid(child(index(pref_path, i), "weight"), weight, "must be in the range 1-100"))
            errs += _validate_affinity_term((w or {}).get("podAffinityTerm") or {},
                                            child(index(pref_path, i), "podAffinityTerm"))
    return errs


def _validate_affinity_term(term: Any, path: str) -> list[FieldError]:
    if not isinstance(term, dict):
        return [invalid(path, term, "must be an object")]
    errs = validate_label_selector(term.get("labelSelector"), child(path, "labelSelector"))
    errs += validate_label_selector(term.get("namespaceSelector"), child(path, "namespaceSelector"))
    tk = term.get("topologyKey")
    if not tk:
        errs.append(required(child(path, "topologyKey"), "can not be empty"))
    else:
        errs += [invalid(child(path, "topologyKey"), tk, m) for m in is_qualified_name(tk)]
    return errs


def _validate_topology_spread(constraints: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[tuple[str, str]] = set()
    for i, c in enumerate(constraints or []):
        p = index(path, i)
        if not isinstance(c, dict):
            errs.append(invalid(p, c, "must be an object"))
            continue
        skew = c.get("maxSkew")
        if not isinstance(skew, int) or skew <= 0:
            errs.append(invalid(child(p, "maxSkew"), skew, "must be greater than zero"))
        tk = c.get("topologyKey")
        if not tk:
            errs.append(required(child(p, "topologyKey"), "can not be empty"))
        errs += validate_enum(c.get("whenUnsatisfiable"), child(p, "whenUnsatisfiable"),
                              ("DoNotSchedule", "ScheduleAnyway"))
        pair = (str(tk), str(c.get("whenUnsatisfiable")))
        if pair in seen:
            errs.append(FieldError(child(p, "{topologyKey, whenUnsatisfiable}"),
                                   f'Duplicate value: "{pair[0]}, {pair[1]}"', "FieldValueDuplicate"))
        seen.add(pair)
        errs += validate_label_selector(c.get("labelSelector"), child(p, "labelSelector"))
    return errs


def validate_pod_spec(spec: dict[str, Any] | None, path: str) -> list[FieldError]:
    """ValidatePodSpec: volumes, containers, policies, scheduling fields, DNS, security.

    Example: ``{"containers": [{"name": "Web"}]}`` at path "spec" gives
    ``spec.containers[0].name: Invalid value: "Web": a lowercase RFC 1123 label ...`` and
    ``spec.containers[0].image: Required value``.
    """
    if not isinstance(spec, dict):
        return [required(path)] if spec is None else [invalid(path, spec, "must be an object")]
    errs, volume_names = validate_volumes(spec.get("volumes"), child(path, "volumes"))
    names: set[str] = set()
    for field_name, kind in CONTAINER_KINDS:
        errs += validate_containers(spec.get(field_name), child(path, field_name), volume_names, names, kind=kind)
    errs += host_port_conflicts((spec.get("initContainers") or []) + (spec.get("containers") or []),
                                child(path, "containers"))
    if spec.get("hostNetwork"):
        for i, c in enumerate(spec.get("containers") or []):
            for j, port in enumerate((c or {}).get("ports") or []):
                if isinstance(port, dict) and port.get("hostPort") and port["hostPort"] != port.get("containerPort"):
                    p = child(index(child(index(child(path, "containers"), i), "ports"), j), "hostPort")
                    errs.append(invalid(p, port["hostPort"], "must match `containerPort` when `hostNetwork` is true"))
    errs += validate_enum(spec.get("restartPolicy"), child(path, "restartPolicy"), RESTART_POLICIES)
    errs += _validate_dns(spec, path)
    errs += validate_labels(spec.get("nodeSelector"), child(path, "nodeSelector"))
    for field_name, check in (("serviceAccountName", is_dns1123_subdomain), ("nodeName", is_dns1123_subdomain),
                              ("hostname", is_dns1123_label), ("subdomain", is_dns1123_label),
                              ("priorityClassName", is_dns1123_subdomain)):
        v = spec.get(field_name)
        if v:
            errs += [invalid(child(path, field_name), v, m) for m in check(str(v))]
    ads = spec.get("activeDeadlineSeconds")
    if ads is not None and (not isinstance(ads, int) or not 1 <= ads <= MAX_INT32):
        errs.append(invalid(child(path, "activeDeadlineSeconds"), ads, inclusive_range_error(1, MAX_INT32)))
    for f in ("terminationGracePeriodSeconds",):
        v = spec.get(f)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool)):
            errs.append(invalid(child(path, f), v, "must be an integer"))
    errs += _validate_tolerations(spec.get("tolerations"), child(path, "tolerations"))
    errs += _validate_affinity(spec.get("affinity"), child(path, "affinity"))
    errs += _validate_topology_spread(spec.get("topologySpreadConstraints"), child(path, "topologySpreadConstraints"))
    for i, ref in enumerate(spec.get("imagePullSecrets") or []):
        if not (ref or {}).get("name"):
            errs.append(required(child(index(child(path, "imagePullSecrets"), i), "name")))
    for i, gate in enumerate(spec.get("readinessGates") or []):
        ct = (gate or {}).get("conditionType", "")
        errs += [invalid(child(index(child(path, "readinessGates"), i), "conditionType"), ct, m)
                 for m in is_qualified_name(str(ct))]
    for i, alias in enumerate(spec.get("hostAliases") or []):
        errs += validate_ip((alias or {}).get("ip"), child(index(child(path, "hostAliases"), i), "ip"))
    sc = spec.get("securityContext") or {}
    if isinstance(sc, dict):
        for f in ("runAsUser", "runAsGroup", "fsGroup"):
            v = sc.get(f)
            if v is not None and (not isinstance(v, int) or not 0 <= v <= MAX_INT32):
                errs.append(invalid(child(path, "securityContext", f), v, inclusive_range_error(0, MAX_INT32)))
    if spec.get("overhead") is not None:
        for k, q in (spec.get("overhead") or {}).items():
            try:
                quantity_value(q)
            except ValueError:
                errs.append(invalid(child(path, "overhead", k), q, "must be a valid quantity"))
    return errs


def validate_pod_template(template: dict[str, Any] | None, path: str) -> list[FieldError]:
    """ValidatePodTemplateSpec: template labels/annotations (at ``<path>.labels``, as Kubernetes
    reports them) and the pod spec at ``<path>.spec``."""
    if not isinstance(template, dict):
        return [required(path)] if template is None else [invalid(path, template, "must be an object")]
    meta = template.get("metadata") or {}
    errs = validate_labels(meta.get("labels"), child(path, "labels"))
    errs += validate_annotations(meta.get("annotations"), child(path, "annotations"))
    errs += validate_pod_spec(template.get("spec"), child(path, "spec"))
    return errs


# --- updates ------------------------------------------------------------------------------------


def _diff_paths(new: Any, old: Any, path: str, out: list[str]) -> None:
    """Collect the dotted paths where ``new`` and ``old`` differ (for the Forbidden message)."""
    if isinstance(new, dict) and isinstance(old, dict):
        for k in sorted(set(new) | set(old)):
            _diff_paths(new.get(k), old.get(k), child(path, k), out)
    elif isinstance(new, list) and isinstance(old, list) and len(new) == len(old):
        for i, (a, b) in enumerate(zip(new, old)):
            _diff_paths(a, b, index(path, i), out)
    elif new != old:
        out.append(f"{path}: {old!r} -> {new!r}")


def _without_seconds(toleration: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in toleration.items() if k != "tolerationSeconds"}


def _tolerations_only_added(new: list[Any], old: list[Any]) -> bool:
    """Every old toleration is still there (tolerationSeconds may only be tightened)."""
    remaining = list(new)
    for t in old:
        if not isinstance(t, dict):
            return False
        match = next((n for n in remaining if isinstance(n, dict) and _without_seconds(n) == _without_seconds(t)), None)
        if match is None:
            return False
        if t.get("tolerationSeconds") is not None and (
                match.get("tolerationSeconds") is None or match["tolerationSeconds"] > t["tolerationSeconds"]):
            return False
        remaining.remove(match)
    return True


def validate_pod_update(pod: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    """ValidatePodUpdate: only images, activeDeadlineSeconds (never longer), added tolerations and a
    negative terminationGracePeriodSeconds raised to 1 may change; containers can't be added/removed."""
    spec, old_spec = pod.get("spec") or {}, old.get("spec") or {}
    errs: list[FieldError] = []
    for field_name in ("containers", "initContainers"):
        if len(spec.get(field_name) or []) != len(old_spec.get(field_name) or []):
            return [forbidden(child("spec", field_name), "pod updates may not add or remove containers")]
        for i, c in enumerate(spec.get(field_name) or []):
            if not (c or {}).get("image"):
                errs.append(required(child(index(child("spec", field_name), i), "image")))
    new_ads, old_ads = spec.get("activeDeadlineSeconds"), old_spec.get("activeDeadlineSeconds")
    if new_ads is not None:
        if not isinstance(new_ads, int) or not 0 <= new_ads <= MAX_INT32:
            return errs + [invalid("spec.activeDeadlineSeconds", new_ads, inclusive_range_error(0, MAX_INT32))]
        if old_ads is not None and old_ads < new_ads:
            return errs + [invalid("spec.activeDeadlineSeconds", new_ads,
                                   "must be less than or equal to previous value")]
    elif old_ads is not None:
        errs.append(invalid("spec.activeDeadlineSeconds", None, "must not update from a positive integer to nil value"))
    # Compare the specs with the mutable fields taken from the new pod ("munged" old spec).
    munged = copy.deepcopy(old_spec)
    for field_name in ("containers", "initContainers"):
        for c_new, c_old in zip(spec.get(field_name) or [], munged.get(field_name) or []):
            if isinstance(c_old, dict):
                c_old["image"] = (c_new or {}).get("image")
    munged["activeDeadlineSeconds"] = new_ads
    if new_ads is None:
        munged.pop("activeDeadlineSeconds")
    if _tolerations_only_added(spec.get("tolerations") or [], old_spec.get("tolerations") or []):
        munged["tolerations"] = spec.get("tolerations")
        if spec.get("tolerations") is None:
            munged.pop("tolerations", None)
    old_grace, new_grace = old_spec.get("terminationGracePeriodSeconds"), spec.get("terminationGracePeriodSeconds")
    if isinstance(old_grace, int) and old_grace < 0 and new_grace == 1:
        munged["terminationGracePeriodSeconds"] = 1
    if munged != spec:
        changes: list[str] = []
        _diff_paths(spec, munged, "spec", changes)
        errs.append(forbidden("spec", POD_UPDATE_FORBIDDEN + "\n" + "\n".join(changes)))
    return errs


def validate_pod_status(pod: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    """ValidatePodStatusUpdate (subset): IPs are IPs, counters non-negative, qosClass immutable."""
    status, old_status = pod.get("status") or {}, old.get("status") or {}
    errs: list[FieldError] = []
    nominated = status.get("nominatedNodeName")
    if nominated:
        errs += [invalid("status.nominatedNodeName", nominated, m) for m in is_dns1123_subdomain(nominated)]
    # podIP/hostIP are copies of podIPs[0]/hostIPs[0] (sync_pod_ips); report on the lists only.
    for f in ("podIPs", "hostIPs"):
        ips = status.get(f) or []
        for i, entry in enumerate(ips):
            errs += validate_ip((entry or {}).get("ip"), child(index(child("status", f), i), "ip"))
        if len(ips) > 2:
            errs.append(invalid(child("status", f), ips, "may specify no more than one IP for each IP family"))
    for f in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
        for i, cs in enumerate(status.get(f) or []):
            errs += validate_nonnegative((cs or {}).get("restartCount"),
                                         child(index(child("status", f), i), "restartCount"))
    if old_status.get("qosClass"):
        errs += validate_immutable(status.get("qosClass"), old_status.get("qosClass"), "status.qosClass")
    return errs


def qos_class(pod: dict[str, Any]) -> str:
    """Guaranteed (cpu+memory limits == requests everywhere), BestEffort (none set) or Burstable."""
    spec = pod.get("spec") or {}
    containers = (spec.get("initContainers") or []) + (spec.get("containers") or [])
    requests: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    guaranteed = True
    for c in containers:
        res = (c or {}).get("resources") or {}
        c_req = {k: quantity_value(v) for k, v in (res.get("requests") or {}).items()
                 if k in ("cpu", "memory") and _parses(v) and quantity_value(v) != 0}
        c_lim = {k: quantity_value(v) for k, v in (res.get("limits") or {}).items()
                 if k in ("cpu", "memory") and _parses(v) and quantity_value(v) != 0}
        requests.update(c_req)
        limits.update(c_lim)
        if set(c_lim) != {"cpu", "memory"} or any(c_req.get(k, c_lim[k]) != c_lim[k] for k in c_lim):
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    return "Guaranteed" if guaranteed and containers else "Burstable"


def _parses(q: Any) -> bool:
    try:
        quantity_value(q)
        return True
    except ValueError:
        return False


# --- strategy -------------------------------------------------------------------------------------


class PodStrategy(Strategy):
    """Pods: spec mostly immutable, status written by the kubelet through ``pods/status``."""

    has_status = True
    name_validator = staticmethod(is_dns1123_subdomain)
    columns = POD_COLUMNS
    update_subresources = ("resize",)

    def defaults(self, obj: dict[str, Any]) -> None:
        default_pod(obj)

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        spec = obj.get("spec") or {}
        # A negative grace period means "immediately" to old clients; Kubernetes stores 1.
        if isinstance(spec.get("terminationGracePeriodSeconds"), int) and spec["terminationGracePeriodSeconds"] < 0:
            spec["terminationGracePeriodSeconds"] = 1
        status: dict[str, Any] = {"phase": "Pending", "qosClass": qos_class(obj)}
        if spec.get("schedulingGates"):
            status["conditions"] = [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated",
                                     "message": "Scheduling is blocked due to non-empty scheduling gates",
                                     "lastProbeTime": None, "lastTransitionTime": None}]
        obj["status"] = status

    def prepare_for_status_update(self, obj: dict[str, Any], old: dict[str, Any]) -> None:
        super().prepare_for_status_update(obj, old)
        status, old_status = obj.get("status"), old.get("status") or {}
        # A status writer that omits qosClass keeps the computed one (it is immutable).
        if isinstance(status, dict) and not status.get("qosClass") and old_status.get("qosClass"):
            status["qosClass"] = old_status["qosClass"]
        sync_pod_ips(status)

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = validate_pod_spec(obj.get("spec"), "spec")
        if (obj.get("spec") or {}).get("ephemeralContainers"):
            errs.append(forbidden("spec.ephemeralContainers", "cannot be set on create"))
        return errs

    def validate_update(self, obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = validate_pod_spec(obj.get("spec"), "spec")
        errs += validate_pod_update(obj, old)
        errs += validate_pod_status(obj, old)
        return errs

    def prepare_for_subresource_update(self, subresource: str, obj: dict[str, Any], old: dict[str, Any]) -> None:
        pod_resize.prepare(obj, old)  # "resize", the one update subresource of a pod

    def validate_subresource_update(self, subresource: str, obj: dict[str, Any],
                                    old: dict[str, Any]) -> list[FieldError]:
        return pod_resize.validate(obj, old, qos_class=qos_class, validate_spec=validate_pod_spec)

    def spec_changed(self, obj: dict[str, Any], old: dict[str, Any]) -> bool:
        return obj.get("spec") != old.get("spec")

    def graceful_delete_seconds(self, obj: dict[str, Any], requested: int | None) -> int:
        """CheckGracefulDelete: the requested period, else terminationGracePeriodSeconds; 0 for a pod
        no kubelet runs (unscheduled) or that has finished; a negative period becomes 1."""
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        period = requested if requested is not None else spec.get("terminationGracePeriodSeconds") or 0
        if not spec.get("nodeName") or status.get("phase") in ("Succeeded", "Failed"):
            return 0
        return 1 if period < 0 else int(period)

    def field_labels(self, obj: dict[str, Any]) -> dict[str, str]:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        ips = status.get("podIPs") or []
        pod_ip = (ips[0] or {}).get("ip", "") if ips else status.get("podIP", "")
        return {
            "spec.nodeName": spec.get("nodeName", ""),
            "spec.restartPolicy": spec.get("restartPolicy", ""),
            "spec.schedulerName": spec.get("schedulerName", ""),
            "spec.serviceAccountName": spec.get("serviceAccountName", ""),
            "spec.hostNetwork": "true" if spec.get("hostNetwork") else "false",
            "status.phase": status.get("phase", ""),
            "status.podIP": pod_ip or "",
            "status.nominatedNodeName": status.get("nominatedNodeName", ""),
        }

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        return pod_row(obj, now)


POD = ResourceType(
    group="", version="v1", kind="Pod", plural="pods", singular="pod", namespaced=True,
    strategy=PodStrategy(), schema="io.k8s.api.core.v1.Pod", short_names=("po",), categories=("all",),
    subresources=("status", "binding", "log", "exec", "portforward", "eviction", "resize"),
)
