"""What the pod workers hand the runtime: resources, security, hosts file (pure)."""
from __future__ import annotations

from kubelite.kubelet.pods.runtimeconfig import hosts_file, pod_resources, resources_of, security_of


def test_container_resources() -> None:
    r = resources_of({"resources": {"requests": {"cpu": "250m"}, "limits": {"cpu": "500m", "memory": "64Mi"}}})
    assert (r.cpu_shares, r.cpu_quota_us, r.cpu_period_us, r.memory_limit_bytes) == (256, 50_000, 100_000, 64 << 20)
    assert resources_of({}).cpu_shares == 2 and resources_of({}).memory_limit_bytes == 0
    assert resources_of({"resources": {"limits": {"cpu": "1"}}}).cpu_shares == 1024   # request defaults to the limit


def test_pod_resources_sum_or_unlimited() -> None:
    limited = {"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}
    pod = {"spec": {"containers": [limited, limited], "initContainers": [{**limited, "restartPolicy": "Always"},
                                                                            {"name": "once"}]}}
    r = pod_resources(pod)
    assert r.memory_limit_bytes == 3 << 30 and r.cpu_quota_us == 300_000
    assert pod_resources({"spec": {"containers": [limited, {}]}}).memory_limit_bytes == 0


def test_security_context_container_over_pod() -> None:
    pod = {"spec": {"securityContext": {"runAsUser": 1000, "runAsGroup": 3000, "supplementalGroups": [4000],
                                        "seccompProfile": {"type": "Unconfined"}}}}
    sc = security_of(pod, {"securityContext": {"runAsUser": 2000, "readOnlyRootFilesystem": True,
                                               "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]}}})
    assert (sc.run_as_user, sc.run_as_group, sc.supplemental_groups) == (2000, 3000, (4000,))
    assert sc.read_only_root_filesystem and sc.capabilities_add == ("NET_ADMIN",) and sc.capabilities_drop == ("ALL",)
    assert sc.seccomp_profile == "Unconfined"
    assert security_of({}, {}).seccomp_profile == "RuntimeDefault"


def test_hosts_file() -> None:
    text = hosts_file({"metadata": {"name": "web-0", "namespace": "shop"},
                       "spec": {"subdomain": "web", "hostAliases": [{"ip": "10.1.1.1", "hostnames": ["db", "db.local"]}]}},
                      "10.0.0.5")
    assert text.startswith("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n")
    assert "10.0.0.5\tweb-0.web.shop.svc.cluster.local\tweb-0\n" in text
    assert "# Entries added by HostAliases.\n10.1.1.1\tdb\tdb.local\n" in text
