"""Table-driven tests of each plugin's Filter and Score."""
from __future__ import annotations

import pytest

from kubelite.scheduler.framework.interface import Code
from kubelite.scheduler.framework.runtime import PluginConfig
from kubelite.scheduler.framework.types import PodInfo, pod_requests
from kubelite.scheduler.plugins import (
    interpodaffinity, nodeaffinity, nodename, nodeports, noderesources, nodeunschedulable, podtopologyspread,
    tainttoleration,
)
from tests.scheduler.builders import make_node, make_pod
from tests.scheduler.harness import filter_all, filter_status, framework, scores

GPU = "nvidia.com/gpu"


# -- pod requests -------------------------------------------------------------------------------

@pytest.mark.parametrize("pod, cpu, mem", [
    (make_pod().req(cpu="500m", memory="1Gi"), 500, 1 << 30),
    (make_pod().req(cpu="2").container(cpu="1"), 3000, 0),
    # init containers run alone: max(sum of containers, largest init)
    (make_pod().req(cpu="2").container(cpu="1").init_container(cpu="2").init_container(cpu="4"), 4000, 0),
    # a sidecar runs next to everything after it
    (make_pod().req(cpu="1").init_container(sidecar=True, cpu="1").init_container(cpu="3"), 4000, 0),
    (make_pod(), 0, 0),
])
def test_pod_requests(pod, cpu, mem):
    pi = pod.info()
    assert (pi.cpu, pi.mem) == (cpu, mem)


def test_non_zero_requests_for_scoring():
    pi = make_pod().req(cpu="250m").info()
    assert (pi.cpu, pi.mem) == (250, 0)
    assert (pi.nz_cpu, pi.nz_mem) == (250, 200 * 1024 * 1024)
    assert pod_requests({"containers": [{}]}, non_zero=True) == {"cpu": 100, "memory": 200 * 1024 * 1024}


# -- NodeResourcesFit ---------------------------------------------------------------------------

FIT_CASES = [
    ("fits", make_pod().req(cpu="1", memory="1Gi"), make_node().capacity(cpu="2", memory="4Gi", pods="10"), [],
     None, ()),
    ("cpu", make_pod().req(cpu="2"), make_node().capacity(cpu="2", memory="4Gi", pods="10"),
     [make_pod("e").req(cpu="1")], Code.UNSCHEDULABLE, ("Insufficient cpu",)),
    ("cpu and memory", make_pod().req(cpu="2", memory="4Gi"), make_node().capacity(cpu="2", memory="4Gi", pods="10"),
     [make_pod("e").req(cpu="1", memory="1Gi")], Code.UNSCHEDULABLE, ("Insufficient cpu", "Insufficient memory")),
    ("bigger than the node", make_pod().req(cpu="8"), make_node().capacity(cpu="2", memory="4Gi", pods="10"), [],
     Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ("Insufficient cpu",)),
    ("too many pods", make_pod(), make_node().capacity(cpu="2", memory="4Gi", pods="1"), [make_pod("e")],
     Code.UNSCHEDULABLE, ("Too many pods",)),
    ("gpu missing", make_pod().req(**{GPU: "1"}), make_node().capacity(cpu="2", memory="4Gi", pods="10"), [],
     Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (f"Insufficient {GPU}",)),
    ("gpu used up", make_pod().req(**{GPU: "1"}), make_node().capacity(cpu="2", memory="4Gi", pods="10", **{GPU: "1"}),
     [make_pod("e").req(**{GPU: "1"})], Code.UNSCHEDULABLE, (f"Insufficient {GPU}",)),
    ("gpu fits", make_pod().req(**{GPU: "2"}), make_node().capacity(cpu="2", memory="4Gi", pods="10", **{GPU: "4"}),
     [make_pod("e").req(**{GPU: "2"})], None, ()),
    ("0-cpu pod on an overcommitted node", make_pod().req(memory="1Gi"),
     make_node().capacity(cpu="1", memory="4Gi", pods="10"), [make_pod("e").req(cpu="2")], None, ()),
]


@pytest.mark.parametrize("name, pod, node, existing, code, reasons", FIT_CASES, ids=[c[0] for c in FIT_CASES])
def test_node_resources_fit(name, pod, node, existing, code, reasons):
    fwk = framework(noderesources.FIT)
    st = filter_status(fwk, pod.info(), node.info(*existing))
    if code is None:
        assert st is None
    else:
        assert st is not None and st.code == code and st.reasons == reasons


def test_fit_ignored_resources():
    fwk = framework(PluginConfig(noderesources.FIT, args={"ignoredResources": [GPU]}))
    assert filter_status(fwk, make_pod().req(**{GPU: "1"}).info(), make_node().info()) is None


def test_least_allocated_score():
    # 4 cpu / 32Gi nodes; pod requests 1 cpu, 8Gi.
    pod = make_pod().req(cpu="1", memory="8Gi").info()
    empty = make_node("empty").info()
    half = make_node("half").info(make_pod("e").req(cpu="1", memory="8Gi"))
    got = scores(framework(noderesources.FIT), pod, [empty, half])
    # empty: cpu (4000-1000)*100//4000 = 75, mem (32-8)/32 = 75 -> 75; half: 50, 50 -> 50
    assert got == {"empty": 75, "half": 50}


def test_most_allocated_score():
    pod = make_pod().req(cpu="1", memory="8Gi").info()
    empty = make_node("empty").info()
    half = make_node("half").info(make_pod("e").req(cpu="1", memory="8Gi"))
    fwk = framework(PluginConfig(noderesources.FIT, args={"scoringStrategy": {"type": "MostAllocated"}}))
    assert scores(fwk, pod, [empty, half]) == {"empty": 25, "half": 50}


def test_balanced_allocation_score():
    pod = make_pod().req(cpu="1", memory="1Gi").info()
    # node a: cpu 2/4 = 0.5, memory 9Gi/32Gi ~= 0.28 -> std 0.11 -> 88
    a = make_node("a").info(make_pod("e").req(cpu="1", memory="8Gi"))
    # node b: cpu 1/4 = 0.25, memory 1/32 -> std ~0.11 -> 89
    b = make_node("b").info()
    got = scores(framework(noderesources.BALANCED), pod, [a, b])
    assert got == {"a": int((1 - abs(0.5 - 9 / 32) / 2) * 100), "b": int((1 - abs(0.25 - 1 / 32) / 2) * 100)}


def test_balanced_allocation_skips_best_effort_pods():
    fwk = framework(noderesources.BALANCED)
    assert scores(fwk, make_pod().info(), [make_node("a").info(), make_node("b").info()]) == {"a": 0, "b": 0}


# -- NodeName, NodeUnschedulable ----------------------------------------------------------------

def test_node_name():
    fwk = framework(nodename.NAME)
    pod = make_pod().node("n2").info()
    got = filter_all(fwk, pod, [make_node("n1").info(), make_node("n2").info()])
    assert got == {"n1": nodename.ERR_REASON, "n2": ""}


@pytest.mark.parametrize("pod, node, reason", [
    (make_pod(), make_node(), ""),
    (make_pod(), make_node().unschedulable(), nodeunschedulable.ERR_REASON),
    (make_pod().toleration("node.kubernetes.io/unschedulable", effect="NoSchedule", operator="Exists"),
     make_node().unschedulable(), ""),
])
def test_node_unschedulable(pod, node, reason):
    got = filter_all(framework(nodeunschedulable.NAME), pod.info(), [node.info()])
    assert got == {"n1": reason}


# -- NodeAffinity -------------------------------------------------------------------------------

AFFINITY_ERR = nodeaffinity.ERR_REASON
AFFINITY_CASES = [
    ("no constraints", make_pod(), {"disk": "ssd"}, ""),
    ("selector match", make_pod().node_selector(disk="ssd"), {"disk": "ssd"}, ""),
    ("selector mismatch", make_pod().node_selector(disk="ssd"), {"disk": "hdd"}, AFFINITY_ERR),
    ("selector missing label", make_pod().node_selector(disk="ssd"), {}, AFFINITY_ERR),
    ("In", make_pod().node_affinity_in("zone", "a", "b"), {"zone": "b"}, ""),
    ("NotIn", make_pod().node_affinity_in("zone", "a", op="NotIn"), {"zone": "a"}, AFFINITY_ERR),
    ("NotIn absent label", make_pod().node_affinity_in("zone", "a", op="NotIn"), {}, ""),
    ("Exists", make_pod().node_affinity_in("gpu", op="Exists"), {"gpu": ""}, ""),
    ("DoesNotExist", make_pod().node_affinity_in("gpu", op="DoesNotExist"), {"gpu": "x"}, AFFINITY_ERR),
    ("Gt", make_pod().node_affinity_in("cores", "8", op="Gt"), {"cores": "16"}, ""),
    ("Gt fails", make_pod().node_affinity_in("cores", "8", op="Gt"), {"cores": "8"}, AFFINITY_ERR),
    ("Lt non-integer label", make_pod().node_affinity_in("cores", "8", op="Lt"), {"cores": "four"}, AFFINITY_ERR),
    ("terms are ORed", make_pod().node_affinity_in("zone", "a").node_affinity_in("zone", "b"), {"zone": "b"}, ""),
    ("selector AND affinity", make_pod().node_selector(disk="ssd").node_affinity_in("zone", "a"),
     {"zone": "a", "disk": "hdd"}, AFFINITY_ERR),
]


@pytest.mark.parametrize("name, pod, labels, reason", AFFINITY_CASES, ids=[c[0] for c in AFFINITY_CASES])
def test_node_affinity_filter(name, pod, labels, reason):
    got = filter_all(framework(nodeaffinity.NAME), pod.info(), [make_node().labels(labels).info()])
    assert got == {"n1": reason}


def test_node_affinity_match_fields_narrows_nodes():
    pod = make_pod().node_name_affinity("n2").info()
    nodes = [make_node(f"n{i}").info() for i in range(1, 4)]
    got = filter_all(framework(nodeaffinity.NAME), pod, nodes)
    assert got == {"n1": "excluded by PreFilterResult", "n2": "", "n3": "excluded by PreFilterResult"}


def test_node_affinity_preferred_score():
    pod = make_pod().preferred_node(80, "zone", "a").preferred_node(20, "disk", "ssd").info()
    nodes = [make_node("both").label(zone="a", disk="ssd").info(), make_node("zone").label(zone="a").info(),
             make_node("disk").label(disk="ssd").info(), make_node("none").info()]
    got = scores(framework(PluginConfig(nodeaffinity.NAME, weight=2)), pod, nodes)
    assert got == {"both": 200, "zone": 160, "disk": 40, "none": 0}


# -- TaintToleration ----------------------------------------------------------------------------

TAINT_CASES = [
    ("no taints", make_pod(), make_node(), ""),
    ("untolerated", make_pod(), make_node().taint("dedicated", "gpu"),
     "node(s) had untolerated taint {dedicated: gpu}"),
    ("value-less taint", make_pod(), make_node().taint("node.kubernetes.io/unreachable", effect="NoExecute"),
     "node(s) had untolerated taint {node.kubernetes.io/unreachable: }"),
    ("tolerated Equal", make_pod().toleration("dedicated", "gpu", "NoSchedule"), make_node().taint("dedicated", "gpu"), ""),
    ("wrong value", make_pod().toleration("dedicated", "cpu", "NoSchedule"), make_node().taint("dedicated", "gpu"),
     "node(s) had untolerated taint {dedicated: gpu}"),
    ("Exists any value", make_pod().toleration("dedicated", operator="Exists"), make_node().taint("dedicated", "gpu"), ""),
    ("empty key Exists tolerates all", make_pod().toleration(operator="Exists"),
     make_node().taint("a", "1").taint("b", "2", "NoExecute"), ""),
    ("effect must match", make_pod().toleration("dedicated", "gpu", "NoExecute"), make_node().taint("dedicated", "gpu"),
     "node(s) had untolerated taint {dedicated: gpu}"),
    ("PreferNoSchedule does not filter", make_pod(), make_node().taint("soft", "x", "PreferNoSchedule"), ""),
]


@pytest.mark.parametrize("name, pod, node, reason", TAINT_CASES, ids=[c[0] for c in TAINT_CASES])
def test_taint_toleration_filter(name, pod, node, reason):
    fwk = framework(tainttoleration.NAME)
    st = filter_status(fwk, pod.info(), node.info())
    assert (st.message if st else "") == reason
    if reason:
        assert st.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE


def test_taint_toleration_score_prefers_fewer_intolerable_taints():
    pod = make_pod().toleration("b", "x", "PreferNoSchedule").info()
    nodes = [make_node("clean").info(),
             make_node("one").taint("a", "x", "PreferNoSchedule").info(),
             make_node("tolerated").taint("b", "x", "PreferNoSchedule").info(),
             make_node("two").taint("a", "x", "PreferNoSchedule").taint("c", "y", "PreferNoSchedule").info()]
    got = scores(framework(tainttoleration.NAME), pod, nodes)
    assert got == {"clean": 100, "one": 50, "tolerated": 100, "two": 0}


# -- NodePorts ----------------------------------------------------------------------------------

PORT_CASES = [
    ("free", make_pod().host_port(80), [], ""),
    ("same port", make_pod().host_port(80), [make_pod("e").host_port(80)], nodeports.ERR_REASON),
    ("other protocol", make_pod().host_port(80, "UDP"), [make_pod("e").host_port(80)], ""),
    ("specific IP vs wildcard", make_pod().host_port(80, ip="10.0.0.1"), [make_pod("e").host_port(80)],
     nodeports.ERR_REASON),
    ("two specific IPs", make_pod().host_port(80, ip="10.0.0.1"), [make_pod("e").host_port(80, ip="10.0.0.2")], ""),
]


@pytest.mark.parametrize("name, pod, existing, reason", PORT_CASES, ids=[c[0] for c in PORT_CASES])
def test_node_ports(name, pod, existing, reason):
    got = filter_all(framework(nodeports.NAME), pod.info(), [make_node().info(*existing)])
    assert got == {"n1": reason}


# -- PodTopologySpread --------------------------------------------------------------------------

def _zones(pods_per_zone: dict[str, int], nodes_per_zone: int = 1, **labels: str):
    nodes = []
    for zone, count in pods_per_zone.items():
        for i in range(nodes_per_zone):
            pods = [make_pod(f"{zone}-{i}-{j}").labels(**labels) for j in range(count if i == 0 else 0)]
            nodes.append(make_node(f"{zone}{i}").label(zone=zone).info(*pods))
    return nodes


def test_topology_spread_filter_max_skew():
    nodes = _zones({"a": 2, "b": 0, "c": 1}, app="web")
    pod = make_pod().labels(app="web").spread(1, "zone", app="web").info()
    got = filter_all(framework(podtopologyspread.NAME), pod, nodes)
    # min 0 (zone b): a: 2+1-0=3 > 1, b: 0+1-0=1, c: 1+1-0=2 > 1
    err = podtopologyspread.ERR_REASON_CONSTRAINTS_NOT_MATCH
    assert got == {"a0": err, "b0": "", "c0": err}


def test_topology_spread_missing_label_and_other_namespaces():
    nodes = _zones({"a": 1, "b": 0}, app="web") + [make_node("nolabel").info()]
    # pods in another namespace do not count
    nodes[1].add_pod(make_pod("other", namespace="x").labels(app="web").info().assumed("b0"))
    pod = make_pod().labels(app="web").spread(1, "zone", app="web").info()
    got = filter_all(framework(podtopologyspread.NAME), pod, nodes)
    assert got["nolabel"] == podtopologyspread.ERR_REASON_NODE_LABEL_NOT_MATCH
    assert got["a0"] == podtopologyspread.ERR_REASON_CONSTRAINTS_NOT_MATCH and got["b0"] == ""


def test_topology_spread_min_domains():
    # Only two zones exist but minDomains=3: the global minimum is taken as 0.
    nodes = _zones({"a": 1, "b": 1}, app="web")
    pod = make_pod().labels(app="web").spread(1, "zone", min_domains=3, app="web").info()
    got = filter_all(framework(podtopologyspread.NAME), pod, nodes)
    assert set(got.values()) == {podtopologyspread.ERR_REASON_CONSTRAINTS_NOT_MATCH}


def test_topology_spread_honors_node_affinity():
    # Zone c is excluded by the pod's node selector, so its emptiness does not count as the minimum.
    nodes = _zones({"a": 1, "b": 1}, app="web") + [make_node("c0").label(zone="c").info()]
    for n in nodes[:2]:
        n.labels["pool"] = "x"
    pod = make_pod().labels(app="web").node_selector(pool="x").spread(1, "zone", app="web").info()
    got = filter_all(framework(podtopologyspread.NAME, nodeaffinity.NAME), pod, nodes)
    assert got == {"a0": "", "b0": "", "c0": nodeaffinity.ERR_REASON}


def test_topology_spread_score_prefers_emptier_domain():
    nodes = _zones({"a": 3, "b": 0}, app="web")
    pod = make_pod().labels(app="web").spread(1, "zone", when="ScheduleAnyway", app="web").info()
    got = scores(framework(podtopologyspread.NAME), pod, nodes)
    assert got["b0"] == 100 and got["a0"] < got["b0"]


def test_topology_spread_system_defaults_use_owner_selector():
    from kubelite.machinery.selectors import parse_label_selector

    def default_selector(pod):
        return parse_label_selector("app=web")

    nodes = [make_node("busy").info(make_pod("e1").labels(app="web"), make_pod("e2").labels(app="web")),
             make_node("idle").info()]
    fwk = framework(podtopologyspread.NAME, default_selector=default_selector)
    got = scores(fwk, make_pod().labels(app="web").owner("ReplicaSet", "web-1").info(), nodes)
    assert got["idle"] == 100 and got["busy"] < 100


# -- InterPodAffinity ---------------------------------------------------------------------------

def test_pod_anti_affinity_filter():
    nodes = [make_node("a").label(zone="z1").info(make_pod("db").labels(app="db")),
             make_node("b").label(zone="z1").info(), make_node("c").label(zone="z2").info()]
    pod = make_pod().labels(app="db").pod_anti_affinity("zone", app="db").info()
    got = filter_all(framework(interpodaffinity.NAME), pod, nodes)
    assert got == {"a": interpodaffinity.ERR_ANTI, "b": interpodaffinity.ERR_ANTI, "c": ""}


def test_existing_pods_anti_affinity_filter():
    nodes = [make_node("a").info(make_pod("lonely").labels(app="x").pod_anti_affinity(
                 "kubernetes.io/hostname", app="web")),
             make_node("b").info()]
    got = filter_all(framework(interpodaffinity.NAME), make_pod().labels(app="web").info(), nodes)
    assert got == {"a": interpodaffinity.ERR_EXISTING_ANTI, "b": ""}


def test_pod_affinity_filter_and_first_pod_of_group():
    nodes = [make_node("a").label(zone="z1").info(make_pod("cache").labels(app="cache")),
             make_node("b").label(zone="z1").info(), make_node("c").label(zone="z2").info()]
    pod = make_pod().labels(app="web").pod_affinity("zone", app="cache").info()
    got = filter_all(framework(interpodaffinity.NAME), pod, nodes)
    assert got == {"a": "", "b": "", "c": interpodaffinity.ERR_AFFINITY}
    # Self-affine pod with no matching pod anywhere: may go anywhere that has the key.
    first = make_pod().labels(app="solo").pod_affinity("zone", app="solo").info()
    got = filter_all(framework(interpodaffinity.NAME), first, nodes + [make_node("nozone").info()])
    assert got == {"a": "", "b": "", "c": "", "nozone": interpodaffinity.ERR_AFFINITY}


def test_pod_affinity_namespaces():
    nodes = [make_node("a").info(make_pod("cache", namespace="other").labels(app="cache")), make_node("b").info()]
    pod = make_pod().pod_affinity("kubernetes.io/hostname", app="cache").info()
    got = filter_all(framework(interpodaffinity.NAME), pod, nodes)
    assert got == {"a": interpodaffinity.ERR_AFFINITY, "b": interpodaffinity.ERR_AFFINITY}
    pod = make_pod().pod_affinity("kubernetes.io/hostname", namespaces=["other"], app="cache").info()
    assert filter_all(framework(interpodaffinity.NAME), pod, nodes) == {"a": "", "b": interpodaffinity.ERR_AFFINITY}


def test_pod_affinity_preferred_score():
    nodes = [make_node("a").label(zone="z1").info(make_pod("cache").labels(app="cache")),
             make_node("b").label(zone="z1").info(), make_node("c").label(zone="z2").info(make_pod("web2").labels(app="web"))]
    pod = (make_pod().labels(app="web").pod_affinity("zone", weight=50, app="cache")
           .pod_anti_affinity("zone", weight=50, app="web").info())
    got = scores(framework(interpodaffinity.NAME), pod, nodes)
    # z1 raw +50, z2 raw -50 -> normalised 100 / 100 / 0
    assert got == {"a": 100, "b": 100, "c": 0}


def test_unparseable_affinity_is_unresolvable():
    pod = make_pod().obj()
    pod["spec"]["affinity"] = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchExpressions": [{"key": "a", "operator": "Bogus"}]}, "topologyKey": "zone"}]}}
    st = filter_status(framework(interpodaffinity.NAME), PodInfo(pod), make_node().info())
    assert st is not None and st.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE


# -- batch forms agree with the per-node forms (and their memo follows node changes) ------------

from hypothesis import given, settings
from hypothesis import strategies as st

_cpu = st.sampled_from(["0", "100m", "500m", "1", "2", "3500m", "5"])
_mem = st.sampled_from(["0", "128Mi", "1Gi", "4Gi", "30Gi"])


@settings(max_examples=60, deadline=None)
@given(pod=st.tuples(_cpu, _mem), existing=st.lists(st.tuples(_cpu, _mem), max_size=4),
       alloc=st.tuples(st.sampled_from(["1", "4"]), st.sampled_from(["2Gi", "32Gi"]), st.sampled_from(["2", "110"])))
def test_batch_forms_match_per_node(pod, existing, alloc):
    fit = noderesources.Fit()
    bal = noderesources.BalancedAllocation()
    p = make_pod().req(cpu=pod[0], memory=pod[1]).info()
    nodes = [make_node("a").capacity(cpu=alloc[0], memory=alloc[1], pods=alloc[2]).info(
                 *[make_pod(f"e{i}").req(cpu=c, memory=m) for i, (c, m) in enumerate(existing)]),
             make_node("b").info()]
    assert fit.filter_nodes(None, p, nodes) == [fit.filter(None, p, n) for n in nodes]
    assert fit.score_nodes(None, p, nodes) == [fit.score(None, p, n) for n in nodes]
    assert bal.score_nodes(None, p, nodes) == [bal.score(None, p, n) for n in nodes]


def test_batch_memo_follows_node_changes():
    fit = noderesources.Fit()
    pod = make_pod().req(cpu="1").info()
    node = make_node().capacity(cpu="2", memory="4Gi", pods="10").info()
    assert fit.filter_nodes(None, pod, [node]) == [None]
    assert fit.score_nodes(None, pod, [node]) == [fit.score(None, pod, node)]
    node.add_pod(make_pod("e").req(cpu="1500m").info().assumed(node.name))  # new generation
    st_ = fit.filter_nodes(None, pod, [node])[0]
    assert st_ is not None and st_.reasons == ("Insufficient cpu",)
    assert fit.score_nodes(None, pod, [node]) == [fit.score(None, pod, node)]
