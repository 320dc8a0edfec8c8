"""The API server's rules for node streaming (which container, why no logs, where the kubelet
is), the ephemeral containers update rules, and the Status shapes kubectl relies on."""
from __future__ import annotations

import pytest

from kubelite.apiserver import nodeproxy
from kubelite.apiserver.handlers import parse_resource_path
from kubelite.apiserver.resources import ResourceRegistry
from kubelite.apiserver.subresources import validate_ephemeral_update
from kubelite.api.kinds import BUILTIN
from kubelite.machinery import errors


def pod(containers=("app",), statuses=None, init=(), eph=()) -> dict:
    return {"metadata": {"name": "p", "namespace": "d"},
            "spec": {"containers": [{"name": c} for c in containers],
                     "initContainers": [{"name": c} for c in init],
                     "ephemeralContainers": [{"name": c} for c in eph]},
            "status": {"containerStatuses": statuses or []}}


def cs(name="app", state=None, last=None) -> dict:
    return {"name": name, "state": state or {}, "lastState": last or {}}


def test_pick_container() -> None:
    assert nodeproxy.pick_container(pod(), "") == "app"
    assert nodeproxy.pick_container(pod(("a", "b"), init=("i",)), "i") == "i"
    with pytest.raises(errors.StatusError) as e:
        nodeproxy.pick_container(pod(("a", "b"), init=("i",), eph=("dbg",)), "")
    assert e.value.message == ("a container name must be specified for pod p, choose one of: [a b] or one of the "
                               "init containers: [i] or one of the ephemeral containers: [dbg]")
    with pytest.raises(errors.StatusError) as e:
        nodeproxy.pick_container(pod(), "nope")
    assert (e.value.code, e.value.message) == (400, "container nope is not valid for pod p")


@pytest.mark.parametrize(("status", "previous", "why"), [
    (None, False, 'container "app" in pod "p" is waiting to start: ContainerCreating'),
    (cs(state={"running": {}}), False, None),
    (cs(state={"waiting": {"reason": "CrashLoopBackOff"}}, last={"terminated": {"containerID": "x://1"}}), False, None),
    (cs(state={"waiting": {"reason": "ImagePullBackOff"}}), False,
     'container "app" in pod "p" is waiting to start: trying and failing to pull image'),
    (cs(state={"waiting": {"reason": "ErrImagePull"}}), False,
     'container "app" in pod "p" is waiting to start: image can\'t be pulled'),
    (cs(state={"waiting": {"reason": "ContainerCreating"}}), False,
     'container "app" in pod "p" is waiting to start: ContainerCreating'),
    (cs(state={"terminated": {"containerID": "x://1"}}), False, None),
    (cs(state={"terminated": {}}), False, 'container "app" in pod "p" is terminated'),
    (cs(state={"running": {}}), True, 'previous terminated container "app" in pod "p" not found'),
    (cs(state={"running": {}}, last={"terminated": {"containerID": "x://0"}}), True, None),
])
def test_log_container_error(status, previous, why) -> None:
    p = pod(statuses=[status] if status else [])
    assert nodeproxy.log_container_error(p, "app", previous) == why


def test_stream_container_error() -> None:
    assert nodeproxy.stream_container_error(pod(statuses=[cs(state={"running": {}})]), "app") is None
    assert nodeproxy.stream_container_error(pod(), "app") == \
        'container "app" in pod "p" is waiting to start: ContainerCreating'
    assert nodeproxy.stream_container_error(pod(statuses=[cs(state={"terminated": {"exitCode": 0}})]), "app") == \
        'container "app" in pod "p" is not running'


def test_kubelet_address() -> None:
    node = {"metadata": {"name": "n"}, "status": {
        "addresses": [{"type": "Hostname", "address": "n"}, {"type": "InternalIP", "address": "10.0.0.5"}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10260}}}}
    assert nodeproxy.kubelet_address(node) == ("10.0.0.5", 10260)
    node["status"].pop("daemonEndpoints")
    assert nodeproxy.kubelet_address(node) == ("10.0.0.5", 10250)
    client = nodeproxy.KubeletClient()
    node["status"]["addresses"] = [{"type": "InternalIP", "address": "fd00::1"}]
    assert client.url(node, "stats/summary", [("a", "b c")]) == "http://[fd00::1]:10250/stats/summary?a=b+c"
    with pytest.raises(errors.StatusError):
        nodeproxy.kubelet_address({"metadata": {"name": "n"}, "status": {}})


def test_ephemeral_containers_are_append_only() -> None:
    p = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "app"}],
                                               "ephemeralContainers": [{"name": "d1", "image": "busybox"}]}}
    assert validate_ephemeral_update(p, [{"name": "d1", "image": "busybox"}, {"name": "d2", "image": "x",
                                                                            "targetContainerName": "app"}]) == []
    [err] = validate_ephemeral_update(p, [])
    assert err.message == 'Forbidden: existing ephemeral containers "d1" may not be removed'
    [err] = validate_ephemeral_update(p, [{"name": "d1", "image": "other"}])
    assert err.message == 'Forbidden: existing ephemeral containers "d1" may not be changed'
    errs = validate_ephemeral_update(p, [{"name": "d1", "image": "busybox"},
                                         {"name": "d2", "image": "x", "ports": [{"containerPort": 1}],
                                          "resources": {"limits": {"cpu": "1"}}, "targetContainerName": "zz"}])
    assert [e.field for e in errs] == ["spec.ephemeralContainers[1].ports", "spec.ephemeralContainers[1].resources",
                                      "spec.ephemeralContainers[1].targetContainerName"]


def test_statuses_carry_details() -> None:
    """kubectl debug tells a missing subresource from a missing pod by details.name: a NotFound
    always has details; Forbidden names the object as kube-apiserver does."""
    generic = errors.StatusError(404, "NotFound", "the server could not find the requested resource").status()
    assert generic["details"] == {}
    assert errors.not_found("pods", "", "web").status()["details"] == {"name": "web", "kind": "pods"}
    f = errors.forbidden_request("alice", "create", "pods/exec", "", "d", name="web", kind="pods")
    assert f.message == ('pods "web" is forbidden: User "alice" cannot create resource "pods/exec" '
                         'in API group "" in the namespace "d"')
    assert f.status()["details"] == {"name": "web", "kind": "pods"}


def test_streams_need_create_and_node_proxy_keeps_its_path() -> None:
    reg = ResourceRegistry(list(BUILTIN))
    for sub in ("exec", "attach", "portforward"):
        assert parse_resource_path(reg, "GET", "", "v1", ["namespaces", "d", "pods", "p", sub], {}).verb == "create"
    assert parse_resource_path(reg, "GET", "", "v1", ["namespaces", "d", "pods", "p", "log"], {}).verb == "get"
    t = parse_resource_path(reg, "GET", "", "v1", ["nodes", "n", "proxy", "stats", "summary"], {})
    assert (t.subresource, t.path, t.verb) == ("proxy", "stats/summary", "get")
    with pytest.raises(errors.StatusError):
        parse_resource_path(reg, "GET", "", "v1", ["namespaces", "d", "pods", "p", "status", "x"], {})
