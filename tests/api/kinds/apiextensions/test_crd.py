"""CustomResourceDefinitions: defaults, the Established status, validation paths, updates."""
from __future__ import annotations

import copy

import pytest

from kubelite.api.kinds.apiextensions.customresourcedefinition import RESOURCE as CRD
from tests.api.kinds.kindtest import CREATED, changed, create, created, fields, meta, row, update

SCHEMA = {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object", "properties": {
    "size": {"type": "integer"}}}}}}


def crd(*versions: dict, **spec: object) -> dict:
    body = {"group": "example.com", "scope": "Namespaced", "names": {"plural": "widgets", "kind": "Widget"},
            "versions": list(versions) or [{"name": "v1", "served": True, "storage": True, "schema": SCHEMA}]}
    body.update(spec)
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": meta("widgets.example.com", None), "spec": body}


def test_defaults_and_status() -> None:
    c = created(CRD, crd())
    assert c["spec"]["names"] == {"plural": "widgets", "kind": "Widget", "singular": "widget", "listKind": "WidgetList"}
    assert c["spec"]["conversion"] == {"strategy": "None"}
    status = c["status"]
    assert status["acceptedNames"] == c["spec"]["names"]
    assert status["storedVersions"] == ["v1"]
    assert [(x["type"], x["status"], x["reason"], x["lastTransitionTime"]) for x in status["conditions"]] == [
        ("NamesAccepted", "True", "NoConflicts", CREATED), ("Established", "True", "InitialNamesAccepted", CREATED)]


def test_user_status_is_replaced_on_create() -> None:
    obj = crd()
    obj["status"] = {"storedVersions": ["v9"], "conditions": [{"type": "Established", "status": "False"}]}
    c = created(CRD, obj)
    assert c["status"]["storedVersions"] == ["v1"]
    conditions = {x["type"]: x["status"] for x in c["status"]["conditions"]}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}


V1 = {"name": "v1", "served": True, "storage": True, "schema": SCHEMA}
V2 = {"name": "v2", "served": True, "storage": False, "schema": SCHEMA}


@pytest.mark.parametrize("obj,expected", [
    (changed(crd(), "metadata.name", "gadgets.example.com"), ["metadata.name"]),
    (crd(group="example"), ["metadata.name", "spec.group"]),
    (crd(scope="Global"), ["spec.scope"]),
    (crd({**V1, "storage": False}), ["spec.versions", "status.storedVersions"]),
    (crd(V1, {**V2, "storage": True}), ["spec.versions"]),
    (crd(V1, {**V2, "name": "v1"}), ["spec.versions"]),
    (crd({**V1, "name": "V1"}), ["spec.versions[0].name"]),
    (crd({**V1, "schema": None}), ["spec.versions[0].schema.openAPIV3Schema"]),
    (crd({**V1, "schema": {"openAPIV3Schema": {"type": "object", "properties": {"x": {}}}}}),
     ["spec.versions[0].schema.openAPIV3Schema.properties[x].type"]),
    (crd({**V1, "subresources": {"scale": {"specReplicasPath": ".status.x", "statusReplicasPath": "status.y"}}}),
     ["spec.versions[0].subresources.scale.specReplicasPath",
      "spec.versions[0].subresources.scale.statusReplicasPath"]),
    (crd({**V1, "additionalPrinterColumns": [{"name": "Size", "type": "int", "jsonPath": "spec.size"}]}),
     ["spec.versions[0].additionalPrinterColumns[0].type", "spec.versions[0].additionalPrinterColumns[0].JSONPath"]),
    (crd(names={"plural": "widgets", "kind": "Widget", "listKind": "Widget"}), ["spec.names.listKind"]),
    (crd(names={"plural": "Widgets", "kind": "Widget"}), ["metadata.name", "spec.names.plural"]),
    (crd(conversion={"strategy": "Webhook"}), ["spec.conversion.webhookClientConfig",
                                               "spec.conversion.conversionReviewVersions"]),
    (crd(preserveUnknownFields=True), ["spec.preserveUnknownFields"]),
])
def test_invalid(obj: dict, expected: list[str]) -> None:
    assert fields(create(CRD, obj)) == expected


def test_protected_groups_need_approval() -> None:
    obj = crd(group="gateway.networking.k8s.io")
    obj["metadata"]["name"] = "widgets.gateway.networking.k8s.io"
    assert fields(create(CRD, copy.deepcopy(obj))) == ["metadata.annotations[api-approved.kubernetes.io]"]
    obj["metadata"]["annotations"] = {"api-approved.kubernetes.io": "https://github.com/kubernetes-sigs/gateway-api/pull/1"}
    assert create(CRD, obj) == []


def test_updates() -> None:
    old = created(CRD, crd())
    assert fields(update(CRD, changed(old, "spec.group", "example.org"), old)) == ["metadata.name", "spec.group"]
    assert fields(update(CRD, changed(old, "spec.scope", "Cluster"), old)) == ["spec.scope"]
    assert fields(update(CRD, changed(old, "spec.names.kind", "Gadget"), old)) == ["spec.names.kind"]
    # Adding a version and moving storage to it keeps the old one in storedVersions.
    moved = changed(old, "spec.versions", [{**V1, "storage": False}, {**V2, "storage": True}])
    assert update(CRD, moved, old) == []
    assert moved["status"]["storedVersions"] == ["v1", "v2"]
    assert moved["status"]["acceptedNames"]["kind"] == "Widget"
    # ...so v1 cannot simply be dropped while objects may still be stored in it.
    dropped = changed(moved, "spec.versions", [{**V2, "storage": True}])
    assert fields(update(CRD, dropped, moved)) == ["status.storedVersions[0]"]


def test_discovery_and_columns() -> None:
    assert (CRD.short_names, CRD.categories, CRD.namespaced) == (("crd", "crds"), ("api-extensions",), False)
    assert row(CRD, created(CRD, crd())) == {"Name": "widgets.example.com", "Created At": CREATED}
