"""A pod's resourceClaims and its containers' resources.claims: kube's rules and messages."""
from __future__ import annotations

from kubelite.api.kinds.core.pod import validate_pod_spec


def spec(claims: list | None, used: list | None = None) -> dict:
    c: dict = {"name": "app", "image": "nginx", "imagePullPolicy": "IfNotPresent", "terminationMessagePolicy": "File"}
    if used is not None:
        c["resources"] = {"claims": used}
    out: dict = {"containers": [c], "restartPolicy": "Always", "dnsPolicy": "ClusterFirst"}
    if claims is not None:
        out["resourceClaims"] = claims
    return out


def messages(s: dict) -> list[str]:
    return [f"{e.field}: {e.message}" for e in validate_pod_spec(s, "spec")]


def test_pod_claims() -> None:
    assert messages(spec([{"name": "gpu", "resourceClaimTemplateName": "single-gpu"}], [{"name": "gpu"}])) == []
    assert messages(spec([{"name": "gpu"}])) == [
        'spec.resourceClaims[0]: Invalid value: core.PodResourceClaim{Name:"gpu", ResourceClaimName:(*string)(nil), '
        'ResourceClaimTemplateName:(*string)(nil)}: must specify one of: `resourceClaimName`, `resourceClaimTemplateName`']
    both = messages(spec([{"name": "gpu", "resourceClaimName": "a", "resourceClaimTemplateName": "b"}]))
    assert len(both) == 1 and both[0].endswith(
        "at most one of `resourceClaimName` or `resourceClaimTemplateName` may be specified")
    assert [m.split(":")[0] for m in messages(spec([{"name": "gpu", "resourceClaimName": "a"},
                                                    {"name": "gpu", "resourceClaimName": "b"},
                                                    {"name": "Bad", "resourceClaimName": "c_d"}]))] == \
        ["spec.resourceClaims[1].name", "spec.resourceClaims[2].name", "spec.resourceClaims[2].resourceClaimName"]


def test_container_claims_name_pod_claims() -> None:
    assert messages(spec(None, [{"name": "gpu"}])) == [
        'spec.containers[0].resources.claims[0]: Not found: "gpu": must be one of the names in '
        'pod.spec.resourceClaims which is empty']
    assert messages(spec([{"name": "a", "resourceClaimName": "x"}, {"name": "b", "resourceClaimName": "y"}],
                         [{"name": "gpu"}, {"name": "a"}, {"name": "a"}])) == [
        'spec.containers[0].resources.claims[0]: Not found: "gpu": must be one of the names in '
        'pod.spec.resourceClaims: a, b',
        'spec.containers[0].resources.claims[2]: Duplicate value: "a"']
