"""The pure rule-covering logic of RBAC escalation prevention (kube's policy_comparator)."""
from __future__ import annotations

import pytest

from kubelite.apiserver.rbac_escalation import compact, compact_string, covers, escalation_message
from kubelite.apiserver.request import UserInfo


def r(verbs: str, groups: str = "", resources: str = "", names: str = "", urls: str = "") -> dict:
    out: dict = {"verbs": verbs.split(",")}
    if resources:
        out["apiGroups"], out["resources"] = groups.split(","), resources.split(",")
    if names:
        out["resourceNames"] = names.split(",")
    if urls:
        out["nonResourceURLs"] = urls.split(",")
    return out


@pytest.mark.parametrize("owner,wanted,ok", [
    ([r("*", "*", "*")], [r("get,list", "apps", "deployments")], True),
    ([r("get", "", "pods")], [r("get,list", "", "pods")], False),
    ([r("get", "", "pods")], [r("get", "", "pods", names="a")], True),
    ([r("get", "", "pods", names="a")], [r("get", "", "pods")], False),
    ([r("get", "", "pods", names="a,b")], [r("get", "", "pods", names="b")], True),
    ([r("get", "", "*/log")], [r("get", "", "pods/log")], True),
    ([r("get", "", "*/log")], [r("get", "", "pods")], False),
    ([r("get", "", "pods")], [r("get", "", "pods/log")], False),
    ([r("get", urls="/api/*")], [r("get", urls="/api/v1")], True),
    ([r("get", urls="/api")], [r("get", urls="/api/v1")], False),
    ([r("*", "*", "*")], [r("get", urls="/healthz")], False),
    ([r("get", "", "pods"), r("list", "", "pods")], [r("get,list", "", "pods")], True),
])
def test_covers(owner: list, wanted: list, ok: bool) -> None:
    assert covers(owner, wanted)[0] is ok


def test_missing_rules_are_compacted_in_kubes_format() -> None:
    _, missing = covers([r("get", "", "pods")], [r("get,list,watch", ",apps", "secrets,pods")])
    lines = sorted(compact_string(x) for x in compact(missing))
    assert lines == ['{APIGroups:[""], Resources:["pods"], Verbs:["list" "watch"]}',
                     '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "list" "watch"]}',
                     '{APIGroups:["apps"], Resources:["pods"], Verbs:["get" "list" "watch"]}',
                     '{APIGroups:["apps"], Resources:["secrets"], Verbs:["get" "list" "watch"]}']
    msg = escalation_message(UserInfo("bob", ("devs", "system:authenticated")), missing)
    assert msg.startswith('user "bob" (groups=["devs" "system:authenticated"]) is attempting to grant RBAC '
                          "permissions not currently held:\n{APIGroups:")
