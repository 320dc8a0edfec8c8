"""The Go facts behind the JSON view of built-in messages (inline, names, pointers, omitempty)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubelite.api import jsonshape, schema
from kubelite.api.jsonshape import shape

CORE = "io.k8s.api.core.v1."
MIRROR = Path("/work/.mirror")


@pytest.mark.parametrize("message, proto_field, member", [
    (CORE + "Volume", "volumeSource", "configMap"),
    (CORE + "PersistentVolumeSpec", "persistentVolumeSource", "hostPath"),
    (CORE + "ConfigMapKeySelector", "localObjectReference", "name"),
    (CORE + "SecretEnvSource", "localObjectReference", "name"),
    (CORE + "Probe", "handler", "httpGet"),
    (CORE + "EphemeralContainer", "ephemeralContainerCommon", "image"),
    ("io.k8s.api.networking.v1.IngressRule", "ingressRuleValue", "http"),
])
def test_inline_embeddings_are_flattened(message: str, proto_field: str, member: str) -> None:
    shp = shape(message)
    assert proto_field not in shp.fields
    assert member in shp.fields
    assert any(s.inline and s.field.name == proto_field for s in shp.by_number.values())


@pytest.mark.parametrize("message, json_name, proto_name", [
    ("io.k8s.api.authentication.v1.BoundObjectReference", "uid", "uID"),
    ("io.k8s.api.networking.v1.IngressClassParametersReference", "apiGroup", "aPIGroup"),
    (schema.CRD_SCHEMA_PROPS, "$ref", "ref"),
])
def test_json_names(message: str, json_name: str, proto_name: str) -> None:
    fields = shape(message).fields
    assert json_name in fields and proto_name not in fields


@pytest.mark.parametrize("message, field, pointer, omitempty", [
    ("io.k8s.api.apps.v1.DeploymentSpec", "replicas", True, True),
    ("io.k8s.api.apps.v1.DeploymentStatus", "replicas", False, True),
    ("io.k8s.api.apps.v1.DeploymentSpec", "paused", False, True),
    (CORE + "ContainerPort", "containerPort", False, False),
    (CORE + "VolumeSource", "emptyDir", True, True),
    (CORE + "ServicePort", "targetPort", False, True),
    ("io.k8s.api.apps.v1.RollingUpdateDeployment", "maxUnavailable", True, True),
    (schema.META + "ObjectMeta", "creationTimestamp", False, True),
    (schema.META + "DeleteOptions", "gracePeriodSeconds", True, True),
])
def test_pointer_and_omitempty(message: str, field: str, pointer: bool, omitempty: bool) -> None:
    slot = shape(message).fields[field]
    assert (slot.pointer, slot.omitempty) == (pointer, omitempty)


def test_type_meta_and_slice_messages() -> None:
    assert shape("io.k8s.api.apps.v1.Deployment").type_meta
    assert shape(CORE + "PersistentVolumeClaim").type_meta
    assert not shape(CORE + "PodSpec").type_meta
    assert shape(schema.META + "DeleteOptions").type_meta
    assert shape("io.k8s.api.authorization.v1.ExtraValue").list_items is not None
    assert shape(schema.META + "Verbs").list_items is not None
    assert shape("io.k8s.api.apps.v1.Deployment").go_name == "v1.Deployment"


def test_every_schema_field_has_go_facts() -> None:
    # If types.json gains messages or fields, gofields.json must be regenerated with it.
    facts = jsonshape._facts()
    exempt = {schema.QUANTITY + "Value", CORE + "List", schema.META + "Patch",
              schema.APIEXT + "CustomResourceSubresourceStatus"}
    missing = []
    for name, msg in schema.all_messages().items():
        if name in exempt or name in schema.SPECIAL or shape(name).list_items is not None:
            continue
        for field in msg.proto_fields:
            if field not in facts.get(name, {}):
                missing.append(f"{name}.{field}")
    assert missing == []


@pytest.mark.skipif(not (MIRROR / "kubernetes+api" / "repo").exists(), reason="needs the k8s git mirrors")
def test_checked_in_facts_match_the_go_sources() -> None:
    generated = {k: v for k, v in jsonshape.generate(MIRROR).items() if schema.has_message(k)
                 and (k not in schema.SPECIAL or k == schema.CRD_SCHEMA_PROPS)}
    assert generated == json.loads(Path(jsonshape.__file__).with_name("gofields.json").read_text())
