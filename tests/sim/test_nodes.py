"""Pure node logic: option validation, the address plan, Node/Lease objects, conditions."""
from __future__ import annotations

import pytest

from kubelite.machinery.errors import StatusError
from kubelite.sim import nodes as N


@pytest.mark.parametrize("spec, want", [
    ("dedicated=gpu:NoSchedule", {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}),
    ("dedicated:NoExecute", {"key": "dedicated", "effect": "NoExecute"}),
    ("example.com/k=v:PreferNoSchedule", {"key": "example.com/k", "value": "v", "effect": "PreferNoSchedule"}),
    ({"key": "a", "effect": "NoSchedule", "value": None}, {"key": "a", "effect": "NoSchedule"}),
])
def test_parse_taint(spec, want) -> None:
    assert N.parse_taint(spec) == want


@pytest.mark.parametrize("kwargs, code, fragment", [
    ({"taints": ["novalue"]}, 400, "expected KEY[=VALUE]:EFFECT"),
    ({"taints": ["k=v:Sometimes"]}, 422, "spec.taints[0].effect"),
    ({"taints": ["k:NoSchedule", "k=x:NoSchedule"]}, 422, "unique by key and effect"),
    ({"labels": ["noequals"]}, 400, "expected KEY=VALUE"),
    ({"labels": {"ok": "bad value!"}}, 422, "labels[ok]"),
    ({"cpu": "lots"}, 422, "capacity[cpu]"),
    ({"memory": "-1Gi"}, 422, "capacity[memory]"),
    ({"extended": ["gpu=4"]}, 422, "domain-qualified"),
    ({"prefix": "Bad_Prefix"}, 422, "prefix"),
    ({"prefix": ""}, 400, "must not be empty"),
    ({"zones": "a,b c"}, 422, "zones"),
    ({"pods": 10**9}, 422, "too many pods"),
])
def test_bad_options_raise_status_errors(kwargs, code, fragment) -> None:
    with pytest.raises(StatusError) as exc:
        N.node_options(**kwargs)
    assert exc.value.code == code
    assert fragment in exc.value.message


def test_options_normalised() -> None:
    opts = N.node_options(cpu=8, memory="32Gi", pods=300, zones="z1, z2", labels=["team=a"],
                          extended={"nvidia.com/gpu": 4})
    assert opts.capacity["cpu"] == "8" and opts.capacity["pods"] == "300"
    assert opts.capacity["nvidia.com/gpu"] == "4"
    assert opts.zones == ("z1", "z2") and opts.labels == {"team": "a"}
    assert opts.pod_block_prefix == 23  # 300 pods need more than a /24
    assert N.node_options(zones="").zones == ()


def test_address_plan() -> None:
    assert N.slot_node_ip(0) == "10.200.0.1"
    assert N.slot_node_ip(300) == "10.200.1.45"
    assert N.node_ip_slot("10.200.1.45") == 300
    assert N.node_ip_slot("192.168.1.1") is None and N.node_ip_slot("junk") is None
    assert N.slot_pod_cidr(0) == "10.64.0.0/24"
    assert N.slot_pod_cidr(300) == "10.65.44.0/24"
    assert N.slot_pod_cidr(2, 23) == "10.64.4.0/23"
    assert N.node_options().max_slots == 16384


def test_build_node_and_lease() -> None:
    opts = N.node_options(prefix="p", zones=["a", "b"], taints=["t=v:NoSchedule"], labels={"x": "y"})
    node = N.build_node(opts, 3, ip="10.200.0.4", pod_cidr="10.64.3.0/24", now="2025-01-01T00:00:00Z", boot_id="b")
    meta, spec, status = node["metadata"], node["spec"], node["status"]
    assert meta["name"] == "p-3"
    assert meta["labels"]["topology.kubernetes.io/zone"] == "b" and meta["labels"]["x"] == "y"
    assert meta["labels"][N.SIM_LABEL] == "true"
    assert spec["podCIDRs"] == ["10.64.3.0/24"] and spec["taints"][0]["effect"] == "NoSchedule"
    assert status["capacity"] == status["allocatable"]
    assert [c["type"] for c in status["conditions"]] == list(N.HEALTHY_CONDITIONS)
    assert status["nodeInfo"]["machineID"] != N.build_node(opts, 4, ip="10.200.0.5", pod_cidr="10.64.4.0/24",
                                                          now="x", boot_id="b")["status"]["nodeInfo"]["machineID"]
    lease = N.build_lease("p-3", "uid-1", "2025-01-01T00:00:00.000000Z", 40)
    assert lease["metadata"]["namespace"] == "kube-node-lease"
    assert lease["metadata"]["ownerReferences"][0] == {"apiVersion": "v1", "kind": "Node", "name": "p-3", "uid": "uid-1"}
    assert lease["spec"] == {"holderIdentity": "p-3", "leaseDurationSeconds": 40,
                             "renewTime": "2025-01-01T00:00:00.000000Z"}


def test_conditions_keep_transition_time_unless_status_changed() -> None:
    first = N.node_conditions("T1")
    summary = N.condition_summary(first)
    assert N.conditions_healthy(summary)
    again = {c["type"]: c for c in N.node_conditions("T2", summary)}
    assert again["Ready"]["lastTransitionTime"] == "T1" and again["Ready"]["lastHeartbeatTime"] == "T2"
    summary["Ready"] = ("Unknown", "T3")  # the node lifecycle controller gave up on us
    assert not N.conditions_healthy(summary)
    back = {c["type"]: c for c in N.node_conditions("T4", summary)}
    assert back["Ready"]["status"] == "True" and back["Ready"]["lastTransitionTime"] == "T4"
    assert back["MemoryPressure"]["lastTransitionTime"] == "T1"
