"""RFC 6902 JSON patch as kube-apiserver applies it (evanphx/json-patch v4 semantics)."""
from __future__ import annotations

import copy

import pytest

from kubelite.machinery.errors import StatusError
from kubelite.machinery.patch import json_patch

DOC = {
    "metadata": {"name": "web", "annotations": {"a/b": "1", "t~x": "2"}},
    "spec": {"replicas": 1, "list": [1, 2, 3]},
}


@pytest.mark.parametrize("ops,expected", [
    ([{"op": "replace", "path": "/spec/replicas", "value": 2}],
     {"spec": {"replicas": 2, "list": [1, 2, 3]}}),
    ([{"op": "add", "path": "/spec/list/-", "value": 4}],
     {"spec": {"replicas": 1, "list": [1, 2, 3, 4]}}),
    ([{"op": "add", "path": "/spec/list/0", "value": 0}],
     {"spec": {"replicas": 1, "list": [0, 1, 2, 3]}}),
    ([{"op": "add", "path": "/spec/list/3", "value": 9}],
     {"spec": {"replicas": 1, "list": [1, 2, 3, 9]}}),
    ([{"op": "add", "path": "/spec/list/-1", "value": 9}],  # v4: negative counts from the end
     {"spec": {"replicas": 1, "list": [1, 2, 3, 9]}}),
    ([{"op": "remove", "path": "/spec/list/1"}],
     {"spec": {"replicas": 1, "list": [1, 3]}}),
    ([{"op": "remove", "path": "/spec/list/-1"}],
     {"spec": {"replicas": 1, "list": [1, 2]}}),
    ([{"op": "remove", "path": "/spec/replicas"}],
     {"spec": {"list": [1, 2, 3]}}),
    ([{"op": "move", "from": "/spec/replicas", "path": "/spec/count"}],
     {"spec": {"count": 1, "list": [1, 2, 3]}}),
    ([{"op": "copy", "from": "/spec/list", "path": "/spec/copy"}],
     {"spec": {"replicas": 1, "list": [1, 2, 3], "copy": [1, 2, 3]}}),
    ([{"op": "test", "path": "/spec/replicas", "value": 1},
      {"op": "replace", "path": "/spec/replicas", "value": 5}],
     {"spec": {"replicas": 5, "list": [1, 2, 3]}}),
    ([{"op": "test", "path": "/spec/replicas", "value": 1.0}],  # numbers compare by value
     {"spec": {"replicas": 1, "list": [1, 2, 3]}}),
    ([{"op": "test", "path": "/spec/missing", "value": None}],  # absent member tests as null
     {"spec": {"replicas": 1, "list": [1, 2, 3]}}),
    # v4: replace of a missing object member adds it (kubectl rollout undo relies on this)
    ([{"op": "replace", "path": "/spec/new", "value": {"x": 1}}],
     {"spec": {"replicas": 1, "list": [1, 2, 3], "new": {"x": 1}}}),
])
def test_ops(ops, expected):
    doc = {"spec": {"replicas": 1, "list": [1, 2, 3]}}
    assert json_patch(doc, ops) == expected


def test_escaping_tilde_and_slash():
    out = json_patch(DOC, [
        {"op": "replace", "path": "/metadata/annotations/a~1b", "value": "x"},
        {"op": "remove", "path": "/metadata/annotations/t~0x"},
        {"op": "add", "path": "/metadata/annotations/~01", "value": "y"},
    ])
    assert out["metadata"]["annotations"] == {"a/b": "x", "~1": "y"}


def test_input_not_mutated():
    before = copy.deepcopy(DOC)
    value = {"deep": [1]}
    out = json_patch(DOC, [{"op": "add", "path": "/spec/v", "value": value},
                           {"op": "add", "path": "/spec/list/-", "value": 4}])
    assert DOC == before
    out["spec"]["v"]["deep"].append(2)
    assert value == {"deep": [1]}


def test_rollout_undo_shape():
    # kubectl rollout undo: replace the whole template and annotations map.
    live = {"metadata": {"name": "d", "resourceVersion": "7"}, "spec": {"template": {"a": 1}}}
    out = json_patch(live, [
        {"op": "replace", "path": "/spec/template", "value": {"b": 2}},
        {"op": "replace", "path": "/metadata/annotations", "value": {"deployment.kubernetes.io/revision": "1"}},
    ])
    assert out["spec"]["template"] == {"b": 2}
    assert out["metadata"]["annotations"] == {"deployment.kubernetes.io/revision": "1"}


@pytest.mark.parametrize("ops,fragment", [
    ([{"op": "test", "path": "/spec/replicas", "value": 2}], "testing value /spec/replicas failed"),
    ([{"op": "test", "path": "/spec/replicas", "value": True}], "testing value"),
    ([{"op": "remove", "path": "/spec/nope"}], "Unable to remove nonexistent key: nope"),
    ([{"op": "add", "path": "/nope/x", "value": 1}], "doc is missing path"),
    ([{"op": "replace", "path": "/spec/list/7", "value": 1}], "Unable to access invalid index: 7"),
    ([{"op": "add", "path": "/spec/list/5", "value": 1}], "Unable to access invalid index: 5"),
    ([{"op": "add", "path": "/spec/list/x", "value": 1}], "value was not a proper array index"),
    ([{"op": "frobnicate", "path": "/spec"}], "Unexpected kind: frobnicate"),
    ([{"path": "/spec"}], "Unexpected kind: unknown"),
    ([{"op": "add", "value": 1}], "add operation failed to decode path"),
    ([{"op": "move", "from": "/spec/nope", "path": "/spec/x"}], "Unable to remove nonexistent key"),
    ([{"op": "add", "path": "", "value": 1}], "doc is missing path"),
    ([{"op": "add", "path": "/spec/replicas/x", "value": 1}], "doc is missing path"),
])
def test_failures_are_422_invalid(ops, fragment):
    with pytest.raises(StatusError) as ei:
        json_patch({"spec": {"replicas": 1, "list": [1, 2, 3]}}, ops)
    e = ei.value
    assert (e.code, e.reason) == (422, "Invalid")
    assert e.message == "the server rejected our request due to an error in our request"
    assert fragment in e.details["causes"][0]["message"]


def test_failed_patch_leaves_input_alone():
    doc = {"spec": {"replicas": 1}}
    with pytest.raises(StatusError):
        json_patch(doc, [{"op": "replace", "path": "/spec/replicas", "value": 9},
                         {"op": "test", "path": "/spec/replicas", "value": 1}])
    assert doc == {"spec": {"replicas": 1}}


@pytest.mark.parametrize("body", [{"op": "add"}, "x", [1], [["op"]]])
def test_malformed_body_is_400(body):
    with pytest.raises(StatusError) as ei:
        json_patch({}, body)
    assert ei.value.code == 400 and ei.value.reason == "BadRequest"


def test_too_many_operations():
    with pytest.raises(StatusError) as ei:
        json_patch({}, [{"op": "test", "path": "/a", "value": None}] * 10001)
    assert ei.value.code == 413


def test_copies_are_bounded_by_accumulated_size() -> None:
    """Each copy of ``/d`` into itself doubles it; the copies' total is capped (3 MiB, as
    kube-apiserver sets evanphx/json-patch's AccumulatedCopySizeLimit) with a 422."""
    from kubelite.machinery.patch.jsonpatch import MAX_COPY_BYTES

    doc = {"d": {"k": "v" * 1000}}
    ops = [{"op": "copy", "from": "/d", "path": f"/d/a{i}"} for i in range(22)]
    with pytest.raises(StatusError) as e:
        json_patch(doc, ops)
    assert e.value.code == 422
    cause = e.value.details["causes"][0]["message"]
    assert cause.startswith("Unable to complete the copy, the accumulated size increase of copy is ")
    assert cause.endswith(f"exceeding the limit {MAX_COPY_BYTES}")
    # eleven doublings of 1 KB stay under the limit and apply
    assert len(json_patch(doc, ops[:11])["d"]) == 12
