"""RFC 7386 JSON merge patch (kubectl label/annotate/scale, CR patches)."""
from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubelite.machinery.errors import StatusError
from kubelite.machinery.patch import merge_patch


@pytest.mark.parametrize("doc,patch,expected", [
    # The RFC 7386 appendix examples.
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    # kubectl label key- / annotate
    ({"metadata": {"labels": {"app": "web", "tier": "x"}}},
     {"metadata": {"labels": {"tier": None, "new": "1"}}},
     {"metadata": {"labels": {"app": "web", "new": "1"}}}),
    # kubectl scale on the scale subresource
    ({"spec": {"replicas": 1}, "status": {"replicas": 1}}, {"spec": {"replicas": 5}},
     {"spec": {"replicas": 5}, "status": {"replicas": 1}}),
    # evanphx v4: nulls inside newly added arrays are pruned too
    ({}, {"a": [1, None, {"x": None, "y": 2}]}, {"a": [1, {"y": 2}]}),
    # deleting a member that does not exist is a no-op
    ({"a": 1}, {"zzz": None}, {"a": 1}),
])
def test_merge_patch(doc, patch, expected):
    before = copy.deepcopy(doc)
    assert merge_patch(doc, patch) == expected
    assert doc == before


def test_array_patch_replaces_document():
    assert merge_patch({"a": 1}, [1, None, 2]) == [1, 2]


@pytest.mark.parametrize("patch", [None, 5, "x", True])
def test_non_object_patch_is_400(patch):
    with pytest.raises(StatusError) as ei:
        merge_patch({"a": 1}, patch)
    assert ei.value.code == 400 and ei.value.message == "Invalid JSON Patch"


# --- properties -------------------------------------------------------------------------------

scalars = st.one_of(st.booleans(), st.integers(-5, 5), st.text(max_size=3))
json_values = st.recursive(scalars, lambda c: st.one_of(st.lists(c, max_size=3),
                                                        st.dictionaries(st.text(max_size=2), c, max_size=3)),
                           max_leaves=8)
objects = st.dictionaries(st.text(max_size=2), json_values, max_size=4)
patches = st.dictionaries(st.text(max_size=2), st.one_of(st.none(), json_values), max_size=4)


@settings(max_examples=150, deadline=None)
@given(objects)
def test_empty_patch_is_identity(doc):
    assert merge_patch(doc, {}) == doc


@settings(max_examples=150, deadline=None)
@given(objects, patches)
def test_patch_is_idempotent(doc, patch):
    once = merge_patch(doc, patch)
    assert merge_patch(once, patch) == once


@settings(max_examples=150, deadline=None)
@given(objects, patches)
def test_patched_members_take_patch_values(doc, patch):
    out = merge_patch(doc, patch)
    for k, v in patch.items():
        if v is None:
            assert k not in out
        elif not isinstance(v, dict):
            assert out[k] == merge_patch({}, {k: v})[k]
    for k in doc.keys() - patch.keys():
        assert out[k] == doc[k]


@settings(max_examples=100, deadline=None)
@given(objects)
def test_patching_with_itself_is_identity(doc):
    # ``objects`` hold no nulls, so a document is a merge patch that changes nothing in itself.
    assert merge_patch(doc, doc) == doc
