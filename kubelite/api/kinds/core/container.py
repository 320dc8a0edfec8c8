"""Containers of a pod spec: their server-side defaults and their validation.

Called by ``kinds/core/pod.py`` (``default_pod_spec``/``validate_pod_spec``) for ``containers``,
``initContainers`` and ``ephemeralContainers``. The rules follow Kubernetes' SetDefaults_Container
/ SetDefaults_Probe and validateContainers / validateInitContainers: names are DNS labels unique
across all containers of a pod, images are required, ports / env / volumeMounts / resources /
probes are checked with Kubernetes' field paths (``spec.containers[0].ports[1].containerPort``).
"""
from __future__ import annotations

from typing import Any

from kubelite.api.validation import (
    child, index, is_config_map_key, is_dns1123_label, is_env_var_name, is_qualified_name,
    is_valid_port_name, key, not_found, quantity_value, required, validate_enum, validate_name_ref,
    validate_nonnegative, validate_port_num_or_name, validate_port_number, validate_quantity,
)
from kubelite.machinery.errors import FieldError, duplicate, forbidden, invalid, not_supported

PROTOCOLS = ("TCP", "UDP", "SCTP")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
TERMINATION_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
PROBE_NAMES = ("livenessProbe", "readinessProbe", "startupProbe")
#: fieldRef paths a container env var may read (Kubernetes' validEnvDownwardAPIFieldPathExpressions)
ENV_FIELD_PATHS = ("metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName",
                   "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs")
RESOURCE_FIELD_REFS = ("limits.cpu", "limits.memory", "limits.ephemeral-storage", "requests.cpu",
                       "requests.memory", "requests.ephemeral-storage")
STANDARD_CONTAINER_RESOURCES = ("cpu", "memory", "ephemeral-storage")


# --- defaults ---------------------------------------------------------------------------------


def image_tag(image: str) -> str:
    """The tag of an image reference; "latest" when there is neither tag nor digest.

    ``nginx`` -> latest, ``nginx:1.27`` -> 1.27, ``localhost:5000/app`` -> latest (the colon belongs
    to the registry host), ``app@sha256:ab..`` -> "" (pinned by digest).
    """
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        return last.rsplit(":", 1)[1]
    return "" if digest else "latest"


def default_probe(probe: dict[str, Any]) -> None:
    for field_name, value in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1),
                              ("failureThreshold", 3)):
        if not probe.get(field_name):
            probe[field_name] = value
    default_handler(probe)


def default_handler(handler: dict[str, Any]) -> None:
    """httpGet path "/" and scheme HTTP (probes and lifecycle hooks alike)."""
    http = handler.get("httpGet")
    if isinstance(http, dict):
        if not http.get("path"):
            http["path"] = "/"
        if not http.get("scheme"):
            http["scheme"] = "HTTP"


def default_container(c: dict[str, Any]) -> None:
    """SetDefaults_Container plus the defaults of what it contains (ports, env, probes, hooks)."""
    if not c.get("imagePullPolicy"):
        c["imagePullPolicy"] = "Always" if image_tag(str(c.get("image") or "")) == "latest" else "IfNotPresent"
    if not c.get("terminationMessagePath"):
        c["terminationMessagePath"] = "/dev/termination-log"
    if not c.get("terminationMessagePolicy"):
        c["terminationMessagePolicy"] = "File"
    # Go serialises the non-pointer ResourceRequirements struct even when empty: `resources: {}`.
    if c.get("resources") is None:
        c["resources"] = {}
    for port in c.get("ports") or []:
        if isinstance(port, dict) and not port.get("protocol"):
            port["protocol"] = "TCP"
    for env in c.get("env") or []:
        ref = ((env or {}).get("valueFrom") or {}).get("fieldRef")
        if isinstance(ref, dict) and not ref.get("apiVersion"):
            ref["apiVersion"] = "v1"
    for name in PROBE_NAMES:
        if isinstance(c.get(name), dict):
            default_probe(c[name])
    for hook in ("postStart", "preStop"):
        h = (c.get("lifecycle") or {}).get(hook)
        if isinstance(h, dict):
            default_handler(h)


# --- validation ---------------------------------------------------------------------------------


def _number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_container_ports(ports: Any, path: str) -> list[FieldError]:
    if not ports:
        return []
    if not isinstance(ports, list):
        return [invalid(path, ports, "must be a list")]
    errs: list[FieldError] = []
    names: set[str] = set()
    for i, port in enumerate(ports):
        p = index(path, i)
        if not isinstance(port, dict):
            errs.append(invalid(p, port, "must be an object"))
            continue
        name = port.get("name")
        if name:
            errs += [invalid(child(p, "name"), name, m) for m in is_valid_port_name(str(name))]
            if name in names:
                errs.append(duplicate(child(p, "name"), name))
            names.add(name)
        cp = port.get("containerPort")
        if not cp:
            errs.append(required(child(p, "containerPort")))
        else:
            errs += validate_port_number(cp, child(p, "containerPort"))
        if port.get("hostPort"):
            errs += validate_port_number(port["hostPort"], child(p, "hostPort"))
        errs += validate_enum(port.get("protocol"), child(p, "protocol"), PROTOCOLS)
    return errs


def _validate_key_ref(ref: dict[str, Any], path: str) -> list[FieldError]:
    """configMapKeyRef / secretKeyRef: a key that could name a file, and the object's name."""
    errs: list[FieldError] = []
    k = ref.get("key")
    if not k:
        errs.append(required(child(path, "key")))
    else:
        errs += [invalid(child(path, "key"), k, m) for m in is_config_map_key(str(k))]
    if not ref.get("name"):
        errs.append(required(child(path, "name")))
    return errs


def _validate_value_from(vf: Any, path: str, has_value: bool) -> list[FieldError]:
    if not isinstance(vf, dict):
        return [invalid(path, vf, "must be an object")]
    errs: list[FieldError] = []
    sources = [s for s in ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef") if vf.get(s) is not None]
    ref = vf.get("fieldRef")
    if isinstance(ref, dict):
        errs += validate_field_ref(ref, child(path, "fieldRef"))
    rref = vf.get("resourceFieldRef")
    if isinstance(rref, dict):
        r = rref.get("resource")
        if not r:
            errs.append(required(child(path, "resourceFieldRef", "resource")))
        elif r not in RESOURCE_FIELD_REFS and not str(r).startswith(("limits.hugepages-", "requests.hugepages-")):
            errs.append(not_supported(child(path, "resourceFieldRef", "resource"), r, list(RESOURCE_FIELD_REFS)))
    for name in ("configMapKeyRef", "secretKeyRef"):
        if isinstance(vf.get(name), dict):
            errs += _validate_key_ref(vf[name], child(path, name))
    if not sources:
        errs.append(invalid(path, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or "
                                      "`secretKeyRef`"))
    elif len(sources) > 1:
        errs.append(invalid(path, "", "may not have more than one field specified at a time"))
    elif has_value:
        errs.append(invalid(path, "", "may not be specified when `value` is not empty"))
    return errs


def validate_field_ref(ref: dict[str, Any], path: str) -> list[FieldError]:
    """A downward-API fieldRef: apiVersion and a supported fieldPath (labels/annotations by key)."""
    errs: list[FieldError] = []
    if not ref.get("apiVersion"):
        errs.append(required(child(path, "apiVersion")))
    fp = ref.get("fieldPath")
    if not fp:
        return errs + [required(child(path, "fieldPath"))]
    for prefix in ("metadata.labels['", "metadata.annotations['"):
        if fp.startswith(prefix) and fp.endswith("']"):
            k = fp[len(prefix):-2]
            return errs + [invalid(child(path, "fieldPath"), k, m) for m in is_qualified_name(k.lower())]
    if fp not in ENV_FIELD_PATHS and fp not in ("metadata.labels", "metadata.annotations"):
        errs.append(not_supported(child(path, "fieldPath"), fp, list(ENV_FIELD_PATHS)))
    return errs


def validate_env(env: Any, path: str) -> list[FieldError]:
    if not env:
        return []
    if not isinstance(env, list):
        return [invalid(path, env, "must be a list")]
    errs: list[FieldError] = []
    for i, ev in enumerate(env):
        p = index(path, i)
        if not isinstance(ev, dict):
            errs.append(invalid(p, ev, "must be an object"))
            continue
        name = ev.get("name")
        if not name:
            errs.append(required(child(p, "name")))
        else:
            errs += [invalid(child(p, "name"), name, m) for m in is_env_var_name(str(name))]
        if ev.get("valueFrom") is not None:
            errs += _validate_value_from(ev["valueFrom"], child(p, "valueFrom"), bool(ev.get("value")))
    return errs


def validate_env_from(env_from: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, ef in enumerate(env_from or []):
        p = index(path, i)
        if not isinstance(ef, dict):
            errs.append(invalid(p, ef, "must be an object"))
            continue
        if ef.get("prefix"):
            errs += [invalid(child(p, "prefix"), ef["prefix"], m) for m in is_env_var_name(str(ef["prefix"]))]
        refs = [r for r in ("configMapRef", "secretRef") if ef.get(r) is not None]
        for r in refs:
            errs += validate_name_ref((ef[r] or {}).get("name"), child(p, r, "name"))
        if not refs:
            errs.append(invalid(p, "", "must specify one of: `configMapRef` or `secretRef`"))
        elif len(refs) > 1:
            errs.append(invalid(p, "", "may not have more than one field specified at a time"))
    return errs


def _validate_sub_path(sub: str, path: str) -> list[FieldError]:
    if sub.startswith("/"):
        return [invalid(path, sub, "must be a relative path")]
    if ".." in sub.split("/"):
        return [invalid(path, sub, "must not contain '..'")]
    return []


def validate_volume_mounts(mounts: Any, volumes: set[str], path: str) -> list[FieldError]:
    """Each mount names a pod volume, has a mountPath unique in the container and a relative subPath."""
    if not mounts:
        return []
    if not isinstance(mounts, list):
        return [invalid(path, mounts, "must be a list")]
    errs: list[FieldError] = []
    paths: set[str] = set()
    for i, m in enumerate(mounts):
        p = index(path, i)
        if not isinstance(m, dict):
            errs.append(invalid(p, m, "must be an object"))
            continue
        name = m.get("name")
        if not name:
            errs.append(required(child(p, "name")))
        elif name not in volumes:
            errs.append(not_found(child(p, "name"), name))
        mp = m.get("mountPath")
        if not mp:
            errs.append(required(child(p, "mountPath")))
        elif mp in paths:
            errs.append(invalid(child(p, "mountPath"), mp, "must be unique"))
        else:
            paths.add(mp)
        if m.get("subPath"):
            errs += _validate_sub_path(str(m["subPath"]), child(p, "subPath"))
        if m.get("subPathExpr"):
            if m.get("subPath"):
                errs.append(invalid(child(p, "subPathExpr"), m["subPathExpr"],
                                    "subPathExpr and subPath are mutually exclusive"))
            errs += _validate_sub_path(str(m["subPathExpr"]), child(p, "subPathExpr"))
        prop = m.get("mountPropagation")
        if prop:
            errs += validate_enum(prop, child(p, "mountPropagation"), ("Bidirectional", "HostToContainer", "None"))
    return errs


def _validate_resource_name(name: str, path: str) -> list[FieldError]:
    errs = [invalid(path, name, m) for m in is_qualified_name(name)]
    if errs:
        return errs
    if "/" not in name and name not in STANDARD_CONTAINER_RESOURCES and not name.startswith("hugepages-"):
        return [invalid(path, name, "must be a standard resource for containers")]
    return []


def validate_resources(res: Any, path: str) -> list[FieldError]:
    """Requests and limits: known resource names, non-negative quantities, request <= limit.

    Worked example: requests.cpu "500m" with limits.cpu "250m" gives
    ``resources.requests[cpu]: Invalid value: "500m": must be less than or equal to cpu limit of 250m``.
    Extended resources (``example.com/gpu``) and hugepages cannot be overcommitted: request == limit.
    """
    if not res:
        return []
    if not isinstance(res, dict):
        return [invalid(path, res, "must be an object")]
    errs: list[FieldError] = []
    limits, requests = res.get("limits") or {}, res.get("requests") or {}
    for section, values in (("limits", limits), ("requests", requests)):
        if not isinstance(values, dict):
            errs.append(invalid(child(path, section), values, "must be a map of resource quantities"))
            continue
        for name, q in values.items():
            p = key(child(path, section), name)
            errs += _validate_resource_name(name, p)
            errs += validate_quantity(q, p)
    if errs or not isinstance(limits, dict) or not isinstance(requests, dict):
        return errs
    for name, q in requests.items():
        p = key(child(path, "requests"), name)
        overcommit = name in STANDARD_CONTAINER_RESOURCES
        if name in limits:
            req, lim = quantity_value(q), quantity_value(limits[name])
            if overcommit and req > lim:
                errs.append(invalid(p, str(q), f"must be less than or equal to {name} limit of {limits[name]}"))
            elif not overcommit and req != lim:
                errs.append(invalid(p, str(q), f"must be equal to {name} limit of {limits[name]}"))
        elif not overcommit:
            errs.append(forbidden(child(path, "limits"), "Resource " + name + " must have a limit"))
    return errs


def validate_handler(handler: Any, path: str, *, probe: bool) -> list[FieldError]:
    """Exactly one of exec / httpGet / tcpSocket (/ grpc for probes, / sleep for hooks)."""
    if not isinstance(handler, dict):
        return [invalid(path, handler, "must be an object")]
    kinds = ("exec", "httpGet", "tcpSocket", "grpc") if probe else ("exec", "httpGet", "tcpSocket", "sleep")
    errs: list[FieldError] = []
    seen = 0
    for k in kinds:
        if handler.get(k) is None:
            continue
        if seen:
            errs.append(forbidden(child(path, k), "may not specify more than 1 handler type"))
            continue
        seen += 1
        v, p = handler[k], child(path, k)
        if k == "exec":
            if not (v or {}).get("command"):
                errs.append(required(child(p, "command")))
        elif k == "httpGet":
            errs += validate_port_num_or_name((v or {}).get("port"), child(p, "port"))
            if (v or {}).get("scheme"):
                errs += validate_enum(v["scheme"], child(p, "scheme"), ("HTTP", "HTTPS"))
        elif k == "tcpSocket":
            errs += validate_port_num_or_name((v or {}).get("port"), child(p, "port"))
        elif k == "grpc":
            errs += validate_port_number((v or {}).get("port"), child(p, "port"))
        elif k == "sleep":
            secs = (v or {}).get("seconds")
            if not isinstance(secs, int) or isinstance(secs, bool) or secs < 0:
                errs.append(invalid(child(p, "seconds"), secs, "must be greater than or equal to 0"))
    if not seen:
        errs.append(required(path, "must specify a handler type"))
    return errs


def validate_probe(probe: Any, path: str, *, success_must_be_one: bool) -> list[FieldError]:
    if probe is None:
        return []
    errs = validate_handler(probe, path, probe=True)
    if not isinstance(probe, dict):
        return errs
    for f in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold",
              "terminationGracePeriodSeconds"):
        errs += validate_nonnegative(probe.get(f), child(path, f))
    if success_must_be_one and probe.get("successThreshold") not in (None, 1):
        errs.append(invalid(child(path, "successThreshold"), probe["successThreshold"], "must be 1"))
    tg = probe.get("terminationGracePeriodSeconds")
    if tg is not None and _number(tg) and tg <= 0:
        errs.append(invalid(child(path, "terminationGracePeriodSeconds"), tg, "must be greater than 0"))
    return errs


def _validate_security_context(sc: Any, path: str) -> list[FieldError]:
    if not isinstance(sc, dict):
        return [] if sc is None else [invalid(path, sc, "must be an object")]
    errs: list[FieldError] = []
    for f in ("runAsUser", "runAsGroup"):
        v = sc.get(f)
        if v is not None and (not _number(v) or not 0 <= v <= 2**31 - 1):
            errs.append(invalid(child(path, f), v, "must be between 0 and 2147483647, inclusive"))
    if sc.get("privileged") and sc.get("allowPrivilegeEscalation") is False:
        errs.append(invalid(path, sc, "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"))
    return errs


def validate_container(c: Any, path: str, volumes: set[str], names: set[str], *,
                       kind: str = "regular") -> list[FieldError]:
    """One container; ``kind`` is "regular", "init" or "ephemeral" (what may be set differs).

    ``names`` accumulates container names across the pod (they share one namespace).
    """
    if not isinstance(c, dict):
        return [invalid(path, c, "must be an object")]
    errs: list[FieldError] = []
    name = c.get("name")
    if not name:
        errs.append(required(child(path, "name")))
    elif not isinstance(name, str):
        errs.append(invalid(child(path, "name"), name, "must be a string"))
    else:
        errs += [invalid(child(path, "name"), name, m) for m in is_dns1123_label(name)]
        if name in names:
            errs.append(duplicate(child(path, "name"), name))
        names.add(name)
    image = c.get("image")
    if not image:
        errs.append(required(child(path, "image")))
    elif not isinstance(image, str):
        errs.append(invalid(child(path, "image"), image, "must be a string"))
    elif image.strip() != image:
        errs.append(invalid(child(path, "image"), image, "must not have leading or trailing whitespace"))
    errs += validate_enum(c.get("imagePullPolicy"), child(path, "imagePullPolicy"), PULL_POLICIES)
    errs += validate_enum(c.get("terminationMessagePolicy"), child(path, "terminationMessagePolicy"),
                          TERMINATION_MESSAGE_POLICIES)
    sidecar = kind == "init" and c.get("restartPolicy") == "Always"
    rp = c.get("restartPolicy")
    if rp is not None:
        if kind == "init":
            if rp != "Always":
                errs.append(not_supported(child(path, "restartPolicy"), rp, ["Always"]))
        else:
            errs.append(forbidden(child(path, "restartPolicy"), "may not be set for non-init containers"))
    if kind == "ephemeral":
        for f in ("ports", "livenessProbe", "readinessProbe", "startupProbe", "lifecycle"):
            if c.get(f):
                errs.append(forbidden(child(path, f), "cannot be set for an Ephemeral Container"))
    else:
        errs += validate_container_ports(c.get("ports"), child(path, "ports"))
    errs += validate_env(c.get("env"), child(path, "env"))
    errs += validate_env_from(c.get("envFrom"), child(path, "envFrom"))
    errs += validate_volume_mounts(c.get("volumeMounts"), volumes, child(path, "volumeMounts"))
    errs += validate_resources(c.get("resources"), child(path, "resources"))
    errs += _validate_security_context(c.get("securityContext"), child(path, "securityContext"))
    if kind == "init" and not sidecar:
        for f in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
            if c.get(f) is not None:
                errs.append(forbidden(child(path, f),
                                      "may not be set for init containers without restartPolicy=Always"))
    elif kind != "ephemeral":
        errs += validate_probe(c.get("livenessProbe"), child(path, "livenessProbe"), success_must_be_one=True)
        errs += validate_probe(c.get("startupProbe"), child(path, "startupProbe"), success_must_be_one=True)
        errs += validate_probe(c.get("readinessProbe"), child(path, "readinessProbe"), success_must_be_one=False)
        for hook in ("postStart", "preStop"):
            h = (c.get("lifecycle") or {}).get(hook)
            if h is not None:
                errs += validate_handler(h, child(path, "lifecycle", hook), probe=False)
    return errs


def validate_containers(containers: Any, path: str, volumes: set[str], names: set[str], *,
                        kind: str = "regular") -> list[FieldError]:
    """A container list; regular containers are required (at least one)."""
    if containers is None or containers == []:
        return [required(path)] if kind == "regular" else []
    if not isinstance(containers, list):
        return [invalid(path, containers, "must be a list")]
    errs: list[FieldError] = []
    for i, c in enumerate(containers):
        errs += validate_container(c, index(path, i), volumes, names, kind=kind)
    return errs


def host_port_conflicts(containers: list[Any], path: str) -> list[FieldError]:
    """Two ports of one pod may not claim the same protocol/hostIP/hostPort."""
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, c in enumerate(containers):
        for j, port in enumerate((c or {}).get("ports") or []):
            if not isinstance(port, dict) or not port.get("hostPort"):
                continue
            k = f"{port.get('protocol', 'TCP')}/{port.get('hostIP', '')}/{port['hostPort']}"
            if k in seen:
                errs.append(duplicate(child(index(child(index(path, i), "ports"), j), "hostPort"), k))
            seen.add(k)
    return errs


__all__ = ["default_container", "default_probe", "image_tag", "validate_container", "validate_containers",
           "validate_resources", "validate_env", "validate_volume_mounts", "host_port_conflicts"]
