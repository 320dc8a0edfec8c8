"""A pod spec translated into what the runtime is given: cgroup resources from requests and
limits (per container and for the pod's cgroup), the effective securityContext, and the
per-pod /etc/hosts. Pure functions, used by the pod workers when they create a sandbox or a
container; table-tested in tests/kubelet/test_runtime_config.py."""
from __future__ import annotations

from typing import Any, Mapping

from kubelite.kubelet.runtime.interface import Resources, SecurityContext
from kubelite.machinery import quantity


def resources_of(container: Mapping[str, Any]) -> Resources:
    """CRI resources from requests/limits: cpu 500m limit -> quota 50000 per 100000 us; request
    250m -> shares 256; memory limit in bytes."""
    res = container.get("resources") or {}
    req, lim = res.get("requests") or {}, res.get("limits") or {}
    cpu_req = quantity.to_milli(str(req.get("cpu", lim.get("cpu", "0"))))
    shares = max(2, cpu_req * 1024 // 1000) if cpu_req else 2
    quota = quantity.to_milli(str(lim["cpu"])) * 100_000 // 1000 if lim.get("cpu") else 0
    mem = quantity.to_int(str(lim["memory"])) if lim.get("memory") else 0
    return Resources(cpu_shares=shares, cpu_quota_us=quota, memory_limit_bytes=mem)


def pod_resources(pod: Mapping[str, Any]) -> Resources:
    """The pod cgroup's limits: the sum over the containers that run together (regular
    containers and sidecars); unlimited when any of them has no memory / CPU limit."""
    spec = pod.get("spec") or {}
    members = [*(c for c in spec.get("initContainers") or () if c.get("restartPolicy") == "Always"),
               *(spec.get("containers") or ())]
    parts = [resources_of(c) for c in members]
    mem = 0 if any(p.memory_limit_bytes == 0 for p in parts) else sum(p.memory_limit_bytes for p in parts)
    quota = 0 if any(p.cpu_quota_us == 0 for p in parts) else sum(p.cpu_quota_us for p in parts)
    return Resources(cpu_shares=max(2, sum(p.cpu_shares for p in parts)), cpu_quota_us=quota, memory_limit_bytes=mem)


def security_of(pod: Mapping[str, Any], container: Mapping[str, Any]) -> SecurityContext:
    """The container's securityContext over the pod's (container fields win, as in Kubernetes)."""
    psc = (pod.get("spec") or {}).get("securityContext") or {}
    sc = container.get("securityContext") or {}
    caps = sc.get("capabilities") or {}
    seccomp = sc.get("seccompProfile") or psc.get("seccompProfile") or {}
    profile = seccomp.get("type") or "RuntimeDefault"
    if profile == "Localhost":
        profile = f"Localhost/{seccomp.get('localhostProfile', '')}"
    return SecurityContext(
        run_as_user=sc.get("runAsUser", psc.get("runAsUser")), run_as_group=sc.get("runAsGroup", psc.get("runAsGroup")),
        supplemental_groups=tuple(int(g) for g in psc.get("supplementalGroups") or ()),
        privileged=bool(sc.get("privileged")), read_only_root_filesystem=bool(sc.get("readOnlyRootFilesystem")),
        allow_privilege_escalation=sc.get("allowPrivilegeEscalation"),
        capabilities_add=tuple(caps.get("add") or ()), capabilities_drop=tuple(caps.get("drop") or ()),
        seccomp_profile=profile)


HOSTS_HEADER = "# Kubernetes-managed hosts file.\n"


def hosts_file(pod: Mapping[str, Any], pod_ip: str) -> str:
    spec = pod.get("spec") or {}
    hostname = spec.get("hostname") or (pod.get("metadata") or {}).get("name", "")
    lines = [HOSTS_HEADER.rstrip("\n"), "127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback",
             "fe00::0\tip6-localnet", "fe00::0\tip6-mcastprefix", "fe00::1\tip6-allnodes", "fe00::2\tip6-allrouters"]
    fqdn = f"{hostname}.{spec['subdomain']}.{(pod.get('metadata') or {}).get('namespace')}.svc.cluster.local" \
        if spec.get("subdomain") else ""
    lines.append(f"{pod_ip}\t{fqdn + chr(9) if fqdn else ''}{hostname}")
    for ha in spec.get("hostAliases") or ():
        lines.append(f"\n# Entries added by HostAliases.\n{ha.get('ip')}\t{chr(9).join(ha.get('hostnames') or ())}")
    return "\n".join(lines) + "\n"
