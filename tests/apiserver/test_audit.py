"""Audit policy matching (kube's policy checker) and the non-blocking writer, pure."""
from __future__ import annotations

import pytest

from kubelite.apiserver import audit
from kubelite.apiserver.audit import AuditPolicyError, Policy, RequestAttrs
from kubelite.apiserver.request import UserInfo

BOB = UserInfo("bob", ("devs", "system:authenticated"))


def res(verb: str, resource: str, *, group: str = "", sub: str = "", ns: str = "default", name: str = "",
        user: UserInfo = BOB) -> RequestAttrs:
    return RequestAttrs(user, verb, "/x", True, group, resource, sub, ns, name)


def policy(rules: str) -> Policy:
    return Policy.parse(f"apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n{rules}".encode())


@pytest.mark.parametrize("rule,attrs,level", [
    ("- {level: Metadata, users: [bob]}", res("get", "pods"), "Metadata"),
    ("- {level: Metadata, users: [alice]}", res("get", "pods"), "None"),
    ("- {level: Request, userGroups: [devs]}", res("get", "pods"), "Request"),
    ("- {level: Request, verbs: [create]}", res("get", "pods"), "None"),
    ("- {level: Metadata, resources: [{group: apps, resources: [deployments]}]}", res("get", "deployments", group="apps"), "Metadata"),
    ("- {level: Metadata, resources: [{group: '', resources: [deployments]}]}", res("get", "deployments", group="apps"), "None"),
    ("- {level: Metadata, resources: [{group: '', resources: ['pods/log']}]}", res("get", "pods", sub="log"), "Metadata"),
    ("- {level: Metadata, resources: [{group: '', resources: ['pods/*']}]}", res("get", "pods", sub="exec"), "Metadata"),
    ("- {level: Metadata, resources: [{group: '', resources: ['*/status']}]}", res("update", "pods", sub="status"), "Metadata"),
    ("- {level: Metadata, resources: [{group: '', resources: [pods]}]}", res("get", "pods", sub="log"), "None"),
    ("- {level: Metadata, resources: [{group: '', resources: [secrets], resourceNames: [a]}]}", res("get", "secrets", name="b"), "None"),
    ("- {level: Metadata, namespaces: [kube-system]}", res("get", "pods"), "None"),
    ("- {level: Metadata, nonResourceURLs: ['/healthz*']}", res("get", "pods"), "None"),
    ("- {level: None, users: [bob]}\n- {level: RequestResponse}", res("get", "pods"), "None"),
    ("- {level: RequestResponse}", res("get", "pods"), "RequestResponse"),
])
def test_first_matching_rule_decides(rule: str, attrs: RequestAttrs, level: str) -> None:
    assert policy(rule).decide(attrs)[0] == level


def test_non_resource_urls() -> None:
    p = policy("- {level: Metadata, nonResourceURLs: ['/healthz*', /version]}")
    assert p.decide(RequestAttrs(BOB, "get", "/healthz/etcd"))[0] == "Metadata"
    assert p.decide(RequestAttrs(BOB, "get", "/version"))[0] == "Metadata"
    assert p.decide(RequestAttrs(BOB, "get", "/apis"))[0] == "None"


def test_omit_stages_are_the_union() -> None:
    p = Policy.parse(b"apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\n"
                     b"rules:\n- {level: Metadata, omitStages: [ResponseStarted]}\n")
    assert p.decide(res("get", "pods"))[1] == {"RequestReceived", "ResponseStarted"}


@pytest.mark.parametrize("doc,message", [
    ("kind: Policy\napiVersion: v1\n", "expected kind Policy"),
    ("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- {level: All}\n", "rules[0].level"),
    ("apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [Done]\n", "unknown stage"),
    ("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- {level: None, users: bob}\n", "rules[0].users"),
])
def test_invalid_policies(doc: str, message: str) -> None:
    with pytest.raises(AuditPolicyError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Policy.parse(doc.encode())


def test_writer_drops_rather_than_blocks(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(audit, "QUEUE_LIMIT", 3)
    w = audit.LogWriter(str(tmp_path / "a.log"))
    w.queue.put(b"")  # keep the thread busy on nothing in particular
    for i in range(1000):
        w.write(b"%d\n" % i)  # never blocks, whatever the disk does
    w.close()
    lines = (tmp_path / "a.log").read_bytes().splitlines()
    assert 0 < len(lines) <= 1000 and len(lines) + w.dropped == 1000
    assert (tmp_path / "a.log").stat().st_mode & 0o777 == 0o600
