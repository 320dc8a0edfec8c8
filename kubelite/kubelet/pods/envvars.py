"""A container's environment, as the kubelet builds it (pure: every input is passed in).

- ``expand("$(A)-$$(A)-$(B)", {"A": "x"})`` -> ``"x-$(A)-$(B)"``: Kubernetes' ``$(VAR)``
  syntax (``third_party/forked/golang/expansion``): ``$$`` escapes a ``$``, an undefined or
  unterminated reference is kept verbatim.
- ``service_env(services, namespace, enable_links)``: the Docker-links style variables of the
  Services of the pod's namespace (``MY_SVC_SERVICE_HOST``, ``MY_SVC_SERVICE_PORT``,
  ``MY_SVC_SERVICE_PORT_HTTP``, ``MY_SVC_PORT_80_TCP_ADDR``...), plus the ``kubernetes``
  Service of ``default`` whatever ``enableServiceLinks`` says.
- ``container_env(...)``: envFrom first (prefix), then env in order, each value expanded with
  the variables defined before it and the service variables; valueFrom configMapKeyRef /
  secretKeyRef (``optional``), fieldRef and resourceFieldRef (divisor, rounded up as the kubelet
  does). A missing required reference raises ``ConfigError`` (the CreateContainerConfigError
  waiting reason).
"""
from __future__ import annotations

import base64
import math
from typing import Any, Callable, Mapping, Sequence

from kubelite.machinery import quantity

Obj = Mapping[str, Any]
# (kind "configmap"|"secret", namespace, name) -> the object, or None when it does not exist
Lookup = Callable[[str, str], Obj | None]


class ConfigError(Exception):
    """A reference the container needs cannot be resolved (CreateContainerConfigError)."""


def expand(text: str, mapping: Mapping[str, str]) -> str:
    """Expand ``$(VAR)`` references in ``text`` from ``mapping``.

    Examples: ``$(A)`` with A=1 -> ``1``; ``$$(A)`` -> ``$(A)``; ``$(MISSING)`` -> ``$(MISSING)``;
    ``$(A`` -> ``$(A``; ``$A`` -> ``$A``; ``$$`` -> ``$``.
    """
    if "$" not in text:
        return text
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch != "$" or i + 1 >= n:
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "(":
            end = text.find(")", i + 2)
            if end < 0:  # unterminated: the rest is literal
                out.append(text[i:])
                break
            name = text[i + 2:end]
            out.append(mapping[name] if name in mapping else text[i:end + 1])
            i = end + 1
        else:
            out.append("$")
            i += 1
    return "".join(out)


def _env_name(service_name: str) -> str:
    return service_name.upper().replace("-", "_")


def _ip_set(svc: Obj) -> str | None:
    ip = (svc.get("spec") or {}).get("clusterIP") or ""
    return None if ip in ("", "None") else ip


def service_env(services: Sequence[Obj], namespace: str, enable_links: bool,
                api_override: tuple[str, int] | None = None) -> dict[str, str]:
    """The service variables of a pod in ``namespace``. ``api_override`` (host, port) replaces
    the ``kubernetes`` Service's address: without a service proxy on this node its cluster IP
    leads nowhere, so in-cluster clients are pointed at the API server itself."""
    chosen: dict[str, Obj] = {}
    for svc in services:
        meta = svc.get("metadata") or {}
        name, ns = meta.get("name", ""), meta.get("namespace", "")
        if _ip_set(svc) is None:
            continue
        if ns == "default" and name == "kubernetes":
            chosen.setdefault(name, svc)
        elif ns == namespace and enable_links:
            chosen[name] = svc
    env: dict[str, str] = {}
    for name in sorted(chosen):
        svc = chosen[name]
        ip = _ip_set(svc) or ""
        ports = [(p.get("name") or "", int(p.get("port") or 0), (p.get("protocol") or "TCP"))
                 for p in (svc.get("spec") or {}).get("ports") or ()]
        if name == "kubernetes" and (svc.get("metadata") or {}).get("namespace") == "default" and api_override:
            ip = api_override[0]
            ports = [(pn, api_override[1], proto) for pn, _, proto in ports] or [("https", api_override[1], "TCP")]
        prefix = _env_name(name)
        env[f"{prefix}_SERVICE_HOST"] = ip
        if not ports:
            continue
        env[f"{prefix}_SERVICE_PORT"] = str(ports[0][1])
        for pname, port, _ in ports:
            if pname:
                env[f"{prefix}_SERVICE_PORT_{_env_name(pname)}"] = str(port)
        # Docker links: the first port as <NAME>_PORT, then one block per port.
        first_proto = ports[0][2].lower()
        env[f"{prefix}_PORT"] = f"{first_proto}://{ip}:{ports[0][1]}"
        for _, port, proto in ports:
            p = f"{prefix}_PORT_{port}_{proto.upper()}"
            env[p] = f"{proto.lower()}://{ip}:{port}"
            env[p + "_PROTO"] = proto.lower()
            env[p + "_PORT"] = str(port)
            env[p + "_ADDR"] = ip
    return env


def _subscript(path: str, field: str) -> str | None:
    """``metadata.labels['app']`` -> ``app`` for ``field`` = ``metadata.labels``."""
    if path.startswith(field + "['") and path.endswith("']"):
        return path[len(field) + 2:-2]
    return None


def field_value(pod: Obj, path: str, *, host_ip: str, pod_ip: str) -> str:
    """A downward-API fieldRef (``metadata.name``, ``metadata.labels['k']``, ``status.podIP``...)."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.hostIP": host_ip,
        "status.hostIPs": host_ip,
        "status.podIP": pod_ip,
        "status.podIPs": pod_ip,
    }
    if path in simple:
        return str(simple[path])
    for field in ("metadata.labels", "metadata.annotations"):
        key = _subscript(path, field)
        if key is not None:
            return str((meta.get(field.split(".")[1]) or {}).get(key, ""))
        if path == field:  # the whole map, as the downward API volume writes it
            items = meta.get(field.split(".")[1]) or {}
            return "\n".join(f'{k}="{_quote(v)}"' for k, v in sorted(items.items()))
    raise ConfigError(f"unsupported fieldRef {path!r}")


def _quote(v: Any) -> str:
    return str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def resource_value(pod: Obj, container_name: str, resource: str, divisor: str | None,
                   node_allocatable: Mapping[str, str]) -> str:
    """A resourceFieldRef: the container's limit (or request) of ``resource`` divided by the
    divisor and rounded up; an unset limit is the node's allocatable, as the kubelet does.

    Example: limits.cpu 250m, divisor 1 -> "1"; divisor 1m -> "250"; limits.memory 64Mi,
    divisor 1Mi -> "64".
    """
    spec = pod.get("spec") or {}
    found: Obj | None = next((c for c in spec.get("containers") or () if c.get("name") == container_name), None)
    c: Obj = found or next((c for c in spec.get("initContainers") or () if c.get("name") == container_name), {})
    kind, _, name = resource.partition(".")
    res = (c.get("resources") or {}).get(kind) or {}
    value = res.get(name)
    if value is None:
        if kind == "requests":
            value = "0"
        else:
            value = node_allocatable.get(name, "0")
    num = quantity.to_milli(str(value))
    div = quantity.to_milli(str(divisor or "1"))
    if div <= 0:
        raise ConfigError(f"invalid divisor {divisor!r}")
    return str(math.ceil(num / div))


def _data(obj: Obj, kind: str) -> dict[str, str]:
    if kind == "secret":
        out = {}
        for k, v in (obj.get("data") or {}).items():
            try:
                out[k] = base64.b64decode(v).decode("utf-8", "replace")
            except (ValueError, TypeError):
                continue
        for k, v in (obj.get("stringData") or {}).items():
            out[k] = v
        return out
    return dict(obj.get("data") or {})


def container_env(pod: Obj, container: Obj, *, lookup: Lookup, services_env: Mapping[str, str],
                  host_ip: str, pod_ip: str, node_allocatable: Mapping[str, str]) -> list[tuple[str, str]]:
    """The container's final environment, in the kubelet's order: envFrom entries, then env
    entries (a later one replaces an earlier one of the same name, keeping its place), then the
    service variables not already defined."""
    ns = (pod.get("metadata") or {}).get("namespace", "")
    result: dict[str, str] = {}
    for src in container.get("envFrom") or ():
        prefix = src.get("prefix") or ""
        for kind, key in (("configmap", "configMapRef"), ("secret", "secretRef")):
            ref = src.get(key)
            if not ref:
                continue
            obj = lookup(kind, ref.get("name", ""))
            if obj is None:
                if ref.get("optional"):
                    continue
                what = "configmap" if kind == "configmap" else "secret"
                raise ConfigError(f'{what} "{ref.get("name", "")}" not found')
            for k, v in _data(obj, kind).items():
                result[prefix + k] = v
    for ev in container.get("env") or ():
        name = ev.get("name", "")
        if "value" in ev or not ev.get("valueFrom"):
            mapping = {**services_env, **result}
            result[name] = expand(str(ev.get("value") or ""), mapping)
            continue
        vf = ev["valueFrom"]
        if vf.get("fieldRef"):
            result[name] = field_value(pod, vf["fieldRef"].get("fieldPath", ""), host_ip=host_ip, pod_ip=pod_ip)
        elif vf.get("resourceFieldRef"):
            rf = vf["resourceFieldRef"]
            result[name] = resource_value(pod, rf.get("containerName") or container.get("name", ""),
                                          rf.get("resource", ""), rf.get("divisor"), node_allocatable)
        else:
            for kind, key in (("configmap", "configMapKeyRef"), ("secret", "secretKeyRef")):
                ref = vf.get(key)
                if not ref:
                    continue
                obj = lookup(kind, ref.get("name", ""))
                data = _data(obj, kind) if obj is not None else None
                k = ref.get("key", "")
                if data is None or k not in data:
                    if ref.get("optional"):
                        break
                    if data is None:
                        raise ConfigError(f'{kind} "{ref.get("name", "")}" not found')
                    raise ConfigError(f"couldn't find key {k} in {'ConfigMap' if kind == 'configmap' else 'Secret'} "
                                      f"{ns}/{ref.get('name', '')}")
                result[name] = data[k]
                break
    for k, v in services_env.items():
        result.setdefault(k, v)
    return list(result.items())


def expand_command(container: Obj, env: Sequence[tuple[str, str]]) -> list[str]:
    """``command`` + ``args`` with ``$(VAR)`` expanded from the final environment. The process
    runtime has no image entrypoint: a container without ``command`` runs ``args`` alone."""
    mapping = dict(env)
    argv = [expand(str(a), mapping) for a in container.get("command") or ()]
    argv += [expand(str(a), mapping) for a in container.get("args") or ()]
    return argv
