"""Pods: defaults (pod vs template), spec validation paths, update rules, status, selectors."""
from __future__ import annotations

import copy

import pytest

from kubelite.api.kinds.core.container import image_tag
from kubelite.api.kinds.core.pod import (
    POD, default_pod_spec, default_pod_template, qos_class, validate_pod_spec, validate_pod_template,
)
from tests.api.kinds.core.builders import container, create, fields, pod, update, with_status


def test_pod_defaults_show_through() -> None:
    p = pod(container("app", "nginx", ports=[{"containerPort": 80}],
                      env=[{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                      livenessProbe={"httpGet": {"port": 80}},
                      resources={"limits": {"cpu": "500m", "memory": "128Mi"}}),
            volumes=[{"name": "cfg", "configMap": {"name": "c"}}, {"name": "sec", "secret": {"secretName": "s"}},
                     {"name": "scratch"}])
    assert create(POD, p) == []
    spec = p["spec"]
    assert {k: spec[k] for k in ("restartPolicy", "dnsPolicy", "schedulerName", "terminationGracePeriodSeconds",
                                 "securityContext", "enableServiceLinks")} == {
        "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler",
        "terminationGracePeriodSeconds": 30, "securityContext": {}, "enableServiceLinks": True}
    c = spec["containers"][0]
    assert c["imagePullPolicy"] == "Always"  # no tag means :latest
    assert c["terminationMessagePath"] == "/dev/termination-log"
    assert c["terminationMessagePolicy"] == "File"
    assert c["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"] == "v1"
    assert c["livenessProbe"] == {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
                                  "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}
    # A limit without a request requests the limit (pods only).
    assert c["resources"]["requests"] == {"cpu": "500m", "memory": "128Mi"}
    assert spec["volumes"] == [{"name": "cfg", "configMap": {"name": "c", "defaultMode": 420}},
                               {"name": "sec", "secret": {"secretName": "s", "defaultMode": 420}},
                               {"name": "scratch", "emptyDir": {}}]
    assert p["status"] == {"phase": "Pending", "qosClass": "Guaranteed"}


def test_template_defaults_exclude_pod_only_fields() -> None:
    tmpl = {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [container(resources={"limits": {"cpu": "1"}})]}}
    default_pod_template(tmpl)
    spec = tmpl["spec"]
    assert "enableServiceLinks" not in spec
    assert "requests" not in spec["containers"][0]["resources"]
    assert spec["restartPolicy"] == "Always"
    assert spec["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    once = copy.deepcopy(tmpl)
    default_pod_template(tmpl)
    assert tmpl == once  # idempotent: defaulting a defaulted template changes nothing


@pytest.mark.parametrize("image,tag", [
    ("nginx", "latest"), ("nginx:1.27", "1.27"), ("nginx:latest", "latest"), ("localhost:5000/app", "latest"),
    ("localhost:5000/app:v2", "v2"), ("app@sha256:abcd", ""), ("app:v1@sha256:abcd", "v1"),
])
def test_image_tag(image: str, tag: str) -> None:
    assert image_tag(image) == tag


def test_host_network_defaults_host_ports() -> None:
    p = pod(container(ports=[{"containerPort": 8080}]), hostNetwork=True)
    assert create(POD, p) == []
    assert p["spec"]["containers"][0]["ports"][0]["hostPort"] == 8080


@pytest.mark.parametrize("spec,expected", [
    ({"containers": []}, ["spec.containers"]),
    ({"containers": [{"name": "Web"}]}, ["spec.containers[0].name", "spec.containers[0].image"]),
    ({"containers": [container("a"), container("a")]}, ["spec.containers[1].name"]),
    ({"initContainers": [container("a")], "containers": [container("a")]}, ["spec.containers[0].name"]),
    ({"containers": [container(ports=[{"containerPort": 70000}, {"containerPort": 80, "protocol": "HTTP"}])]},
     ["spec.containers[0].ports[0].containerPort", "spec.containers[0].ports[1].protocol"]),
    ({"containers": [container(ports=[{"name": "web", "containerPort": 1}, {"name": "web", "containerPort": 2}])]},
     ["spec.containers[0].ports[1].name"]),
    ({"containers": [container()], "restartPolicy": "Sometimes"}, ["spec.restartPolicy"]),
    ({"containers": [container(volumeMounts=[{"name": "nope", "mountPath": "/x"}])]},
     ["spec.containers[0].volumeMounts[0].name"]),
    ({"containers": [container(volumeMounts=[{"name": "v", "mountPath": "/x"}, {"name": "v", "mountPath": "/x"}])],
      "volumes": [{"name": "v", "emptyDir": {}}]}, ["spec.containers[0].volumeMounts[1].mountPath"]),
    ({"containers": [container()], "volumes": [{"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}}]},
     ["spec.volumes[1].name"]),
    ({"containers": [container()], "volumes": [{"name": "v", "emptyDir": {}, "hostPath": {"path": "/x"}}]},
     ["spec.volumes[0].hostPath"]),
    ({"containers": [container(env=[{"name": "1X"}, {"name": ""}])]},
     ["spec.containers[0].env[0].name", "spec.containers[0].env[1].name"]),
    ({"containers": [container(resources={"requests": {"cpu": "2"}, "limits": {"cpu": "1"}})]},
     ["spec.containers[0].resources.requests[cpu]"]),
    ({"containers": [container(resources={"requests": {"gpu": "1"}})]},
     ["spec.containers[0].resources.requests[gpu]"]),
    ({"containers": [container(livenessProbe={"periodSeconds": 5})]}, ["spec.containers[0].livenessProbe"]),
    ({"containers": [container(livenessProbe={"exec": {"command": ["true"]}, "successThreshold": 2})]},
     ["spec.containers[0].livenessProbe.successThreshold"]),
    ({"containers": [container()], "tolerations": [{"key": "k", "operator": "Exists", "value": "v"}]},
     ["spec.tolerations[0].operator"]),
    ({"containers": [container()], "dnsPolicy": "None"}, ["spec.dnsConfig"]),
    ({"containers": [container()], "nodeSelector": {"bad key": "x"}}, ["spec.nodeSelector"]),
    ({"containers": [container()], "activeDeadlineSeconds": 0}, ["spec.activeDeadlineSeconds"]),
    ({"containers": [container(ports=[{"containerPort": 80, "hostPort": 80}]),
                     container("b", ports=[{"containerPort": 81, "hostPort": 80}])]},
     ["spec.containers[1].ports[0].hostPort"]),
    ({"containers": [container(restartPolicy="Always")]}, ["spec.containers[0].restartPolicy"]),
    ({"containers": [container()], "initContainers": [container("i", readinessProbe={"exec": {"command": ["x"]}})]},
     ["spec.initContainers[0].readinessProbe"]),
])
def test_pod_spec_validation_paths(spec: dict, expected: list[str]) -> None:
    default_pod_spec(spec)
    assert fields(validate_pod_spec(spec, "spec")) == expected


def test_pod_spec_messages() -> None:
    spec = {"containers": [container(resources={"requests": {"cpu": "500m"}, "limits": {"cpu": "250m"}})]}
    default_pod_spec(spec)
    (err,) = validate_pod_spec(spec, "spec")
    assert err.message == 'Invalid value: "500m": must be less than or equal to cpu limit of 250m'
    spec = {"containers": [container(volumeMounts=[{"name": "data", "mountPath": "/d"}])]}
    default_pod_spec(spec)
    assert validate_pod_spec(spec, "spec")[0].message == 'Not found: "data"'
    spec = {"containers": [container()], "restartPolicy": "Sometimes"}
    default_pod_spec(spec)
    assert validate_pod_spec(spec, "spec")[0].message == (
        'Unsupported value: "Sometimes": supported values: "Always", "Never", "OnFailure"')


def test_sidecar_init_container_allowed() -> None:
    spec = {"containers": [container()],
            "initContainers": [container("proxy", restartPolicy="Always", readinessProbe={"tcpSocket": {"port": 1}})]}
    default_pod_spec(spec)
    assert validate_pod_spec(spec, "spec") == []


def test_pod_template_paths() -> None:
    tmpl = {"metadata": {"labels": {"bad key": "x"}}, "spec": {"containers": [{"name": "a"}]}}
    default_pod_template(tmpl)
    assert fields(validate_pod_template(tmpl, "spec.template")) == [
        "spec.template.labels", "spec.template.spec.containers[0].image"]


def test_create_forbids_ephemeral_containers_and_resets_status() -> None:
    p = with_status(pod(ephemeralContainers=[{"name": "dbg", "image": "busybox"}]), phase="Running", podIP="1.2.3.4")
    assert fields(create(POD, p)) == ["spec.ephemeralContainers"]
    assert p["status"] == {"phase": "Pending", "qosClass": "BestEffort"}


def test_scheduling_gates_condition() -> None:
    p = pod(schedulingGates=[{"name": "example.com/gate"}])
    create(POD, p)
    cond = p["status"]["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"]) == ("PodScheduled", "False", "SchedulingGated")


def _running() -> dict:
    p = pod(container("app", "nginx:1.27"), tolerations=[{"key": "a", "operator": "Exists"}],
            activeDeadlineSeconds=100)
    create(POD, p)
    return p


def test_pod_update_allows_image_deadline_and_added_tolerations() -> None:
    old = _running()
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "nginx:1.28"
    new["spec"]["activeDeadlineSeconds"] = 50
    new["spec"]["tolerations"].append({"key": "b", "operator": "Exists"})
    assert update(POD, new, old) == []


@pytest.mark.parametrize("mutate,field_path,message_start", [
    (lambda s: s["containers"][0].__setitem__("ports", [{"containerPort": 81}]), "spec",
     "Forbidden: pod updates may not change fields other than `spec.containers[*].image`"),
    (lambda s: s["containers"].append(container("b")), "spec.containers",
     "Forbidden: pod updates may not add or remove containers"),
    (lambda s: s.__setitem__("activeDeadlineSeconds", 200), "spec.activeDeadlineSeconds",
     "Invalid value: 200: must be less than or equal to previous value"),
    (lambda s: s.pop("activeDeadlineSeconds"), "spec.activeDeadlineSeconds",
     "Invalid value: null: must not update from a positive integer to nil value"),
    (lambda s: s.__setitem__("tolerations", []), "spec", "Forbidden: pod updates may not change fields"),
])
def test_pod_update_forbidden(mutate, field_path: str, message_start: str) -> None:
    old = _running()
    new = copy.deepcopy(old)
    mutate(new["spec"])
    errs = update(POD, new, old)
    assert [e.field for e in errs] == [field_path]
    assert errs[0].message.startswith(message_start)


def test_forbidden_update_lists_the_changed_field() -> None:
    old = _running()
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["ports"] = [{"containerPort": 81}]
    (err,) = update(POD, new, old)
    assert "spec.containers[0].ports" in err.message


def test_main_endpoint_keeps_status_and_status_endpoint_keeps_spec() -> None:
    old = _running()
    old["status"] = {"phase": "Running", "qosClass": "BestEffort", "podIP": "10.0.0.5"}
    new = copy.deepcopy(old)
    new["status"]["phase"] = "Failed"
    assert update(POD, new, old) == []
    assert new["status"]["phase"] == "Running"

    new = copy.deepcopy(old)
    new["spec"]["nodeName"] = "elsewhere"
    new["status"] = {"phase": "Succeeded", "podIP": "10.0.0.5"}  # a writer that omits qosClass
    POD.strategy.prepare_for_status_update(new, old)
    assert POD.strategy.validate_update(new, old) == []
    assert "nodeName" not in new["spec"]
    assert new["status"] == {"phase": "Succeeded", "podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.5"}],
                             "qosClass": "BestEffort"}


def test_status_validation() -> None:
    old = _running()
    new = copy.deepcopy(old)
    new["status"] = {"phase": "Running", "qosClass": "Guaranteed", "podIP": "not-an-ip",
                     "containerStatuses": [{"name": "app", "restartCount": -1}]}
    POD.strategy.prepare_for_status_update(new, old)
    assert fields(POD.strategy.validate_update(new, old)) == [
        "status.podIPs[0].ip", "status.containerStatuses[0].restartCount", "status.qosClass"]


@pytest.mark.parametrize("resources,qos", [
    ([{}], "BestEffort"),
    ([{"requests": {"cpu": "100m"}}], "Burstable"),
    ([{"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}], "Guaranteed"),
    ([{"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m", "memory": "1Gi"}}], "Burstable"),
    ([{"limits": {"cpu": "1", "memory": "1Gi"}}, {}], "Burstable"),
    ([{"requests": {"example.com/gpu": "1"}}], "BestEffort"),
])
def test_qos_class(resources: list[dict], qos: str) -> None:
    p = pod(*[container(f"c{i}", resources=r) for i, r in enumerate(resources)])
    assert qos_class(p) == qos


def test_field_labels() -> None:
    p = with_status(pod(nodeName="n1", serviceAccountName="sa"), phase="Running", podIPs=[{"ip": "10.0.0.1"}])
    POD.strategy.defaults(p)
    assert POD.strategy.field_labels(p) == {
        "spec.nodeName": "n1", "spec.restartPolicy": "Always", "spec.schedulerName": "default-scheduler",
        "spec.serviceAccountName": "sa", "spec.hostNetwork": "false", "status.phase": "Running",
        "status.podIP": "10.0.0.1", "status.nominatedNodeName": ""}


@pytest.mark.parametrize("node,phase,requested,grace,expected", [
    ("n1", "Running", None, 30, 30),
    ("n1", "Running", 5, 30, 5),
    ("", "Pending", None, 30, 0),       # never scheduled: nothing to wait for
    ("n1", "Succeeded", None, 30, 0),   # already finished
    ("n1", "Running", -5, 30, 1),
])
def test_graceful_delete(node: str, phase: str, requested: int | None, grace: int, expected: int) -> None:
    p = with_status(pod(nodeName=node, terminationGracePeriodSeconds=grace), phase=phase)
    assert POD.strategy.graceful_delete_seconds(p, requested) == expected


def test_resource_type() -> None:
    assert (POD.plural, POD.singular, POD.short_names, POD.categories) == ("pods", "pod", ("po",), ("all",))
    assert POD.schema == "io.k8s.api.core.v1.Pod"
    assert set(POD.subresources) >= {"status", "binding", "log", "exec", "portforward", "eviction"}


def test_pod_ip_pairs_stay_in_sync() -> None:
    old = _running()
    new = copy.deepcopy(old)
    new["status"] = {"phase": "Running", "podIP": "10.244.0.9", "hostIPs": [{"ip": "192.168.1.10"}]}
    POD.strategy.prepare_for_status_update(new, old)
    assert new["status"]["podIPs"] == [{"ip": "10.244.0.9"}]
    assert new["status"]["hostIP"] == "192.168.1.10"
