"""Pod resource requests and the kubelet's resource fit, shared by the node agent and the sim."""
from __future__ import annotations

import pytest

from kubelite.api.helpers.resources import check_fit, pod_requests
from kubelite.machinery.quantity import to_milli


def make_pod(*containers: dict, init: tuple[dict, ...] = (), **spec: object) -> dict:
    return {"metadata": {"name": "p"}, "spec": {"containers": list(containers), "initContainers": list(init), **spec}}


def c(name: str, image: str = "nginx", **requests: str) -> dict:
    out: dict = {"name": name, "image": image}
    if requests:
        out["resources"] = {"requests": {k.replace("_", "-"): v for k, v in requests.items()}}
    return out


@pytest.mark.parametrize("pod, want", [
    (make_pod(c("a", cpu="1"), c("b", cpu="500m", memory="1Ki")), {"cpu": 1500, "memory": 1024000}),
    (make_pod(c("a", cpu="1"), c("b", cpu="1"), init=(c("i", cpu="3"),)), {"cpu": 3000}),
    # a sidecar's requests count for the whole life of the pod and under later init containers
    (make_pod(c("a", cpu="1"), init=({**c("s", cpu="1"), "restartPolicy": "Always"}, c("i", cpu="1500m"))),
     {"cpu": 2500}),
    (make_pod(c("a", cpu="1"), overhead={"cpu": "250m"}), {"cpu": 1250}),
    (make_pod(c("a")), {}),
    (make_pod(c("a", cpu="lots"), c("b", cpu="1")), {"cpu": 1000}),     # not a quantity: skipped
])
def test_pod_requests(pod, want) -> None:
    assert pod_requests(pod) == want


def test_check_fit() -> None:
    alloc = {k: to_milli(v) for k, v in {"cpu": "32", "memory": "1Gi", "pods": "2", "nvidia.com/gpu": "1"}.items()}
    assert check_fit({"cpu": 2000}, alloc, {"cpu": 30000}, 0) is None
    reason, msg = check_fit({"cpu": 2000}, alloc, {"cpu": 31000}, 0)
    assert reason == "OutOfcpu"
    assert msg == ("Pod was rejected: Node didn't have enough resource: cpu, requested: 2000, used: 31000, "
                   "capacity: 32000")
    assert check_fit({"memory": 2 * 1024**3 * 1000}, alloc, {}, 0)[0] == "OutOfmemory"
    assert check_fit({"example.com/fpga": 1000}, alloc, {}, 0)[0] == "OutOfexample.com/fpga"
    assert check_fit({}, alloc, {}, 2)[0] == "OutOfpods"
    assert check_fit({"cpu": 0, "pods": 5000}, alloc, {}, 0) is None      # zero and "pods" requests are no demand
