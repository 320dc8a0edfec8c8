"""Server-side apply and managedFields bookkeeping (kubelite.machinery.apply)."""
from __future__ import annotations

import copy
import json

import pytest

from kubelite.machinery.apply import LAST_APPLIED, apply, record_update, schema_for
from kubelite.machinery.apply.fieldpath import from_fields_v1, path_string, to_fields_v1
from kubelite.machinery.errors import StatusError

DEPLOY = "io.k8s.api.apps.v1.Deployment"
T0, T1, T2 = "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z"


def deployment(replicas=2, image="nginx:1.25", labels=None, containers=None):
    labels = labels or {"app": "web"}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": dict(labels)},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": containers or [
                             {"name": "main", "image": image, "ports": [{"containerPort": 80}]}]}},
        },
    }


def stored(obj, rv="1"):
    """What the API server would store: identity fields filled in."""
    obj = copy.deepcopy(obj)
    obj["metadata"].update(uid="uid-1", resourceVersion=rv, generation=1, creationTimestamp=T0)
    return obj


def entries(obj):
    return obj["metadata"].get("managedFields", [])


def entry(obj, manager, operation=None):
    found = [e for e in entries(obj) if e["manager"] == manager and (operation is None or e["operation"] == operation)]
    assert len(found) == 1, entries(obj)
    return found[0]


def owned(obj, manager, operation=None):
    return {path_string(p) for p in from_fields_v1(entry(obj, manager, operation)["fieldsV1"])}


def created(manager="kubectl-client-side-apply", obj=None):
    new = stored(obj or deployment())
    record_update(None, new, manager=manager, now=T0, api_version="apps/v1")
    return new


# --- FieldsV1 encoding ----------------------------------------------------------------------

def test_create_records_update_entry_in_kubernetes_encoding():
    new = created("kubectl-create")
    assert entries(new) == [{
        "manager": "kubectl-create", "operation": "Update", "apiVersion": "apps/v1", "time": T0,
        "fieldsType": "FieldsV1",
        "fieldsV1": {
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:selector": {},  # LabelSelector is an atomic struct
                "f:template": {
                    "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                    "f:spec": {"f:containers": {
                        'k:{"name":"main"}': {
                            ".": {}, "f:image": {}, "f:name": {},
                            "f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}},
                        }}}}}},
    }]


def test_fields_v1_round_trip_and_canonical_keys():
    raw = {"f:spec": {"f:ports": {'k:{"protocol":"TCP", "port":80}': {".": {}, "f:name": {}}},
                      "f:finalizers": {'v:"a"': {}}, "f:x": {}}}
    paths = from_fields_v1(raw)
    assert ("f:spec", "f:ports", 'k:{"port":80,"protocol":"TCP"}') in paths
    assert to_fields_v1(paths) == {"f:spec": {"f:finalizers": {'v:"a"': {}},
                                              "f:ports": {'k:{"port":80,"protocol":"TCP"}': {".": {}, "f:name": {}}},
                                              "f:x": {}}}
    assert from_fields_v1(to_fields_v1(paths)) == paths
    assert path_string(("f:spec", "f:ports", 'k:{"port":80,"protocol":"TCP"}', "f:name")) == \
        '.spec.ports[port=80,protocol="TCP"].name'
    with pytest.raises(ValueError):
        from_fields_v1({"x:bad": {}})


def test_element_order_follows_structured_merge_diff():
    paths = {("f:b",), ("f:a",), ('k:{"n":2}',), ('k:{"n":10}',), ('v:"z"',), ("v:1",)}
    assert list(to_fields_v1(paths)) == ["f:a", "f:b", 'k:{"n":2}', 'k:{"n":10}', "v:1", 'v:"z"']


# --- record_update --------------------------------------------------------------------------

def test_update_moves_changed_fields_to_the_writer():
    old = created()
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 5
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    record_update(old, new, manager="kubectl-edit", now=T1, api_version="apps/v1")
    assert owned(new, "kubectl-edit") == {".spec.replicas", '.spec.template.spec.containers[name="main"].image'}
    assert ".spec.replicas" not in owned(new, "kubectl-client-side-apply")
    assert entry(new, "kubectl-client-side-apply")["time"] == T0
    assert entry(new, "kubectl-edit")["time"] == T1
    assert [e["manager"] for e in entries(new)] == ["kubectl-client-side-apply", "kubectl-edit"]  # by time


def test_unchanged_write_keeps_entries_byte_identical():
    old = created()
    # A stored entry in a non-canonical but valid form must survive untouched.
    old["metadata"]["managedFields"][0]["fieldsV1"] = json.loads(
        json.dumps(old["metadata"]["managedFields"][0]["fieldsV1"]))
    before = json.dumps(entries(old))
    new = copy.deepcopy(old)
    new["metadata"]["resourceVersion"] = "2"  # never owned, so not a change
    new["metadata"].pop("managedFields")
    record_update(old, new, manager="kubectl-patch", now=T2, api_version="apps/v1")
    assert json.dumps(entries(new)) == before


def test_removed_fields_leave_every_manager():
    old = created()
    new = copy.deepcopy(old)
    del new["metadata"]["labels"]
    record_update(old, new, manager="kubectl-label", now=T1, api_version="apps/v1")
    assert not any(p.startswith(".metadata") for p in owned(new, "kubectl-client-side-apply"))
    assert all(e["manager"] != "kubectl-label" for e in entries(new))  # removal alone owns nothing
    assert entry(new, "kubectl-client-side-apply")["time"] == T0


def test_list_item_added_by_updater():
    old = created()
    new = copy.deepcopy(old)
    new["spec"]["template"]["spec"]["containers"].append({"name": "side", "image": "busybox"})
    record_update(old, new, manager="injector", now=T1, api_version="apps/v1")
    assert owned(new, "injector") == {'.spec.template.spec.containers[name="side"]',
                                      '.spec.template.spec.containers[name="side"].image',
                                      '.spec.template.spec.containers[name="side"].name'}


def test_status_is_never_owned_through_the_main_endpoint():
    obj = deployment()
    obj["status"] = {"replicas": 2}
    new = created(obj=obj)
    assert not any(p.startswith(".status") for p in owned(new, "kubectl-client-side-apply"))


def test_status_subresource_write():
    old = created()
    new = copy.deepcopy(old)
    new["status"] = {"replicas": 2, "conditions": [{"type": "Available", "status": "True"}]}
    new["metadata"]["managedFields"] = []  # a status write cannot reset ownership
    record_update(old, new, manager="deployment-controller", now=T1, api_version="apps/v1", subresource="status")
    e = entry(new, "deployment-controller")
    assert e["subresource"] == "status" and list(e) == ["manager", "operation", "apiVersion", "time",
                                                          "fieldsType", "fieldsV1", "subresource"]
    assert owned(new, "deployment-controller") == {".status.replicas", '.status.conditions[type="Available"]',
                                                   '.status.conditions[type="Available"].status',
                                                   '.status.conditions[type="Available"].type'}
    assert entry(new, "kubectl-client-side-apply") == entry(old, "kubectl-client-side-apply")


def test_untracked_object_stays_untracked():
    old = stored(deployment())
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 3
    record_update(old, new, manager="x", now=T1, api_version="apps/v1")
    assert "managedFields" not in new["metadata"]


def test_reset_and_client_supplied_managed_fields():
    old = created()
    new = copy.deepcopy(old)
    new["metadata"]["managedFields"] = []
    record_update(old, new, manager="x", now=T1, api_version="apps/v1")
    assert "managedFields" not in new["metadata"]
    # kubectl's SSA migration: a JSON patch replaces managedFields wholesale.
    new = copy.deepcopy(old)
    migrated = [{"manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1", "time": T0,
                 "fieldsType": "FieldsV1", "fieldsV1": old["metadata"]["managedFields"][0]["fieldsV1"]}]
    new["metadata"]["managedFields"] = copy.deepcopy(migrated)
    record_update(old, new, manager="kubectl", now=T1, api_version="apps/v1")
    assert entries(new) == migrated


def test_update_managers_are_capped_at_ten():
    obj = created()
    for i in range(12):
        new = copy.deepcopy(obj)
        new["metadata"]["labels"][f"l{i}"] = "x"
        record_update(obj, new, manager=f"m{i}", now=f"2024-02-{i + 1:02d}T00:00:00Z", api_version="apps/v1")
        obj = new
    managers = [e["manager"] for e in entries(obj)]
    assert len(managers) == 10 and "ancient-changes" in managers
    assert ".metadata.labels.l0" in owned(obj, "ancient-changes")


def test_schema_is_inferred_from_api_version_and_kind():
    assert schema_for("apps/v1", "Deployment") == DEPLOY
    assert schema_for("v1", "Pod") == "io.k8s.api.core.v1.Pod"
    assert schema_for("rbac.authorization.k8s.io/v1", "Role") == "io.k8s.api.rbac.v1.Role"
    assert schema_for("apps.example.com/v1", "Deployment") is None
    assert schema_for("example.com/v1", "Widget") is None


# --- apply ----------------------------------------------------------------------------------

def do_apply(live, cfg, manager="kubectl", force=False, now=T1, schema=DEPLOY, **kw):
    return apply(live, cfg, manager=manager, force=force, schema=schema, now=now, api_version=cfg.get("apiVersion", "apps/v1"), **kw)


def test_apply_create():
    cfg = deployment()
    cfg["spec"]["paused"] = None  # null: owned, but absent from the object
    out = do_apply(None, cfg)
    assert out["spec"]["replicas"] == 2 and "paused" not in out["spec"]
    e = entry(out, "kubectl", "Apply")
    assert (e["apiVersion"], e["time"], e["fieldsType"]) == ("apps/v1", T1, "FieldsV1")
    assert e["fieldsV1"]["f:metadata"] == {"f:labels": {"f:app": {}}}  # apply: no "." on maps
    assert e["fieldsV1"]["f:spec"]["f:paused"] == {}
    assert cfg["spec"]["paused"] is None, "input must not be mutated"


def test_apply_conflict_with_client_side_apply_then_force():
    live = created()
    cfg = deployment(replicas=3)
    with pytest.raises(StatusError) as ei:
        do_apply(live, cfg, manager="other")
    e = ei.value
    assert (e.code, e.reason) == (409, "Conflict")
    assert e.message == 'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas'
    assert e.details == {"causes": [{"reason": "FieldManagerConflict",
                                     "message": 'conflict with "kubectl-client-side-apply" using apps/v1',
                                     "field": ".spec.replicas"}]}
    out = do_apply(live, cfg, manager="other", force=True)
    assert out["spec"]["replicas"] == 3
    assert ".spec.replicas" in owned(out, "other", "Apply")
    assert ".spec.replicas" not in owned(out, "kubectl-client-side-apply")


def test_several_conflicts_message():
    live = created()
    cfg = deployment(replicas=3, image="nginx:2")
    with pytest.raises(StatusError) as ei:
        do_apply(live, cfg, manager="other")
    assert ei.value.message == (
        'Apply failed with 2 conflicts: conflicts with "kubectl-client-side-apply" using apps/v1:\n'
        '- .spec.replicas\n- .spec.template.spec.containers[name="main"].image')
    assert len(ei.value.details["causes"]) == 2


def test_same_value_is_shared_not_a_conflict():
    live = created()
    out = do_apply(live, deployment(), manager="other")
    assert ".spec.replicas" in owned(out, "other", "Apply")
    assert ".spec.replicas" in owned(out, "kubectl-client-side-apply")


def test_apply_removes_what_it_no_longer_applies():
    out = do_apply(None, deployment(labels={"app": "web", "extra": "1"}), now=T0)
    out = stored(out)
    out2 = do_apply(out, deployment(), now=T1)
    assert out2["metadata"]["labels"] == {"app": "web"}
    assert ".metadata.labels.extra" not in owned(out2, "kubectl", "Apply")


def test_apply_keeps_removed_field_another_manager_owns():
    out = stored(do_apply(None, deployment(labels={"app": "web", "shared": "1"}), now=T0))
    out = do_apply(out, deployment(labels={"app": "web", "shared": "1"}), manager="second", now=T1)
    out = do_apply(out, deployment(), manager="kubectl", now=T2)
    assert out["metadata"]["labels"] == {"app": "web", "shared": "1"}
    assert ".metadata.labels.shared" in owned(out, "second", "Apply")


def test_apply_prunes_list_items_but_keeps_others_items():
    two = [{"name": "main", "image": "a"}, {"name": "side", "image": "b"}]
    out = stored(do_apply(None, deployment(containers=two), now=T0))
    # another writer adds an injected container
    new = copy.deepcopy(out)
    new["spec"]["template"]["spec"]["containers"].append({"name": "injected", "image": "c"})
    record_update(out, new, manager="injector", now=T1, api_version="apps/v1")
    out = do_apply(new, deployment(containers=[{"name": "main", "image": "a"}]), now=T2)
    names = [c["name"] for c in out["spec"]["template"]["spec"]["containers"]]
    assert names == ["main", "injected"]


def test_apply_list_merge_order():
    live = stored(do_apply(None, deployment(containers=[{"name": "a", "image": "1"}, {"name": "b", "image": "2"},
                                                        {"name": "c", "image": "3"}]), manager="m1", now=T0))
    out = do_apply(live, deployment(containers=[{"name": "c", "image": "3"}, {"name": "a", "image": "9"}]),
                   manager="m2", force=True)
    # structured-merge-diff's interleave: shared items (c, a) in the config's order, the
    # live-only b is emitted where the live walk meets it -- before c.
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["b", "c", "a"]
    assert out["spec"]["template"]["spec"]["containers"][2]["image"] == "9"
    out = do_apply(live, deployment(containers=[{"name": "a", "image": "1"}, {"name": "c", "image": "3"}]),
                   manager="m2")
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["a", "b", "c"]


def test_apply_set_list_by_value():
    cfg = deployment()
    cfg["metadata"]["finalizers"] = ["example.com/a"]
    live = stored(do_apply(None, cfg, manager="m1", now=T0))
    cfg2 = deployment()
    cfg2["metadata"]["finalizers"] = ["example.com/b"]
    out = do_apply(live, cfg2, manager="m2")
    assert out["metadata"]["finalizers"] == ["example.com/a", "example.com/b"]
    assert '.metadata.finalizers[="example.com/b"]' in owned(out, "m2", "Apply")


def test_atomic_lists_are_replaced():
    cfg = deployment(containers=[{"name": "main", "image": "a", "args": ["x", "y"]}])
    live = stored(do_apply(None, cfg, now=T0))
    out = do_apply(live, deployment(containers=[{"name": "main", "image": "a", "args": ["z"]}]))
    assert out["spec"]["template"]["spec"]["containers"][0]["args"] == ["z"]
    assert '.spec.template.spec.containers[name="main"].args' in owned(out, "kubectl", "Apply")


def test_noop_apply_keeps_managed_fields_identical():
    live = stored(do_apply(None, deployment(), now=T0))
    again = do_apply(live, deployment(), now=T2)
    assert again["metadata"]["managedFields"] == live["metadata"]["managedFields"]
    assert again == live


def test_first_apply_on_untracked_object_conflicts_with_before_first_apply():
    live = stored(deployment())
    with pytest.raises(StatusError) as ei:
        do_apply(live, deployment(replicas=7), manager="other")
    assert 'conflict with "before-first-apply" using apps/v1: .spec.replicas' in ei.value.message
    out = do_apply(live, deployment(), manager="other")
    assert ".spec.replicas" in owned(out, "before-first-apply", "Update")


def test_kubectl_takes_over_client_side_applied_fields_matching_last_applied():
    cfg = deployment()
    obj = stored(cfg)
    obj["metadata"]["annotations"] = {LAST_APPLIED: json.dumps(cfg)}
    record_update(None, obj, manager="kubectl-client-side-apply", now=T0, api_version="apps/v1")
    new_cfg = deployment(replicas=5)
    out = do_apply(obj, new_cfg, manager="kubectl")  # no force, yet no conflict
    assert out["spec"]["replicas"] == 5
    assert ".spec.replicas" in owned(out, "kubectl", "Apply")
    assert json.loads(out["metadata"]["annotations"][LAST_APPLIED])["spec"]["replicas"] == 5
    # a field whose live value drifted from last-applied still conflicts
    drifted = copy.deepcopy(obj)
    drifted["spec"]["replicas"] = 9
    with pytest.raises(StatusError):
        do_apply(drifted, new_cfg, manager="kubectl")
    with pytest.raises(StatusError):
        do_apply(obj, new_cfg, manager="not-kubectl")


def test_status_in_config_is_not_owned_on_main_endpoint_but_is_on_status():
    cfg = deployment()
    cfg["status"] = {"replicas": 1}
    out = do_apply(None, cfg)
    assert not any(p.startswith(".status") for p in owned(out, "kubectl", "Apply"))
    st = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "status": {"replicas": 4}}
    out2 = do_apply(stored(out), st, manager="ctrl", subresource="status")
    e = entry(out2, "ctrl", "Apply")
    assert e["subresource"] == "status" and owned(out2, "ctrl", "Apply") == {".status.replicas"}
    assert out2["status"]["replicas"] == 4


def test_custom_resource_apply_is_schemaless():
    cr = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "finalizers": ["x/y"]},
          "spec": {"size": 1, "tags": ["a", "b"], "nested": {"k": "v"}}}
    out = apply(None, cr, manager="m", force=False, schema=None, now=T0, api_version="example.com/v1")
    fields = entry(out, "m", "Apply")["fieldsV1"]
    assert fields["f:spec"] == {".": {}, "f:nested": {".": {}, "f:k": {}}, "f:size": {}, "f:tags": {}}
    assert fields["f:metadata"] == {"f:finalizers": {'v:"x/y"': {}}}  # metadata keeps its schema
    out = stored(out)
    out2 = apply(out, {**cr, "spec": {"tags": ["c"]}}, manager="m", force=False, schema=None, now=T1,
                 api_version="example.com/v1")
    assert out2["spec"] == {"tags": ["c"]}  # atomic list replaced, unapplied members pruned


@pytest.mark.parametrize("cfg,code,fragment", [
    ({**deployment(), "apiVersion": "apps/v1beta1"}, 400, "Incorrect version specified in apply patch. Specified patch version: apps/v1beta1, expected: apps/v1"),
    ({**deployment(), "metadata": {"name": "web", "managedFields": [{}]}}, 400, "metadata.managedFields must be nil"),
    (deployment(containers=[{"name": "a", "image": "x"}, {"name": "a", "image": "y"}]), 422,
     'duplicate entries for key [name="a"]'),
    (deployment(containers=[{"image": "x"}]), 422, 'omits key field "name"'),
])
def test_malformed_apply_configurations(cfg, code, fragment):
    with pytest.raises(StatusError) as ei:
        apply(None, cfg, manager="m", force=False, schema=DEPLOY, now=T0, api_version="apps/v1")
    assert ei.value.code == code and fragment in ei.value.message


def test_kind_mismatch_with_live_object():
    live = created()
    with pytest.raises(StatusError) as ei:
        do_apply(live, {**deployment(), "kind": "StatefulSet"})
    assert ei.value.code == 400 and ei.value.message == "invalid object type: apps/v1, Kind=StatefulSet"


def test_manager_dropped_when_it_applies_nothing_anymore():
    live = stored(do_apply(None, deployment(), manager="a", now=T0))
    live = stored(do_apply(live, deployment(), manager="b", now=T1))
    out = do_apply(live, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}}, manager="a", now=T2)
    assert {e["manager"] for e in entries(out)} == {"b"}
    assert out["spec"] == live["spec"]  # b still owns everything a gave up


def test_kubectl_csa_to_ssa_migration_sequence():
    """wire-contract.md (b) "apply --server-side" after a client-side apply."""
    from kubelite.machinery.patch import json_patch

    manifest = deployment()
    # 1. kubectl apply (client-side) creates the object with the last-applied annotation.
    obj = stored({**manifest, "metadata": {**manifest["metadata"], "annotations": {LAST_APPLIED: json.dumps(manifest)}}})
    record_update(None, obj, manager="kubectl-client-side-apply", now=T0, api_version="apps/v1")
    # 2. kubectl-last-applied applies just the annotation: same value, so shared, no conflict.
    ann_only = {"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "namespace": "default", "annotations": {LAST_APPLIED: json.dumps(manifest)}}}
    obj = stored(do_apply(obj, ann_only, manager="kubectl-last-applied", now=T1), rv="2")
    # 3. kubectl apply --server-side of the unchanged manifest: no conflict.
    out = stored(do_apply(obj, manifest, manager="kubectl", now=T1), rv="3")
    csa = owned(out, "kubectl-client-side-apply", "Update")
    assert ".metadata.annotations.kubectl.kubernetes.io/last-applied-configuration" in csa
    # 4. kubectl migrates: one JSON patch replaces managedFields (and checks resourceVersion).
    kubectl_apply = entry(out, "kubectl", "Apply")
    patched = json_patch(out, [{"op": "replace", "path": "/metadata/managedFields", "value": [kubectl_apply]},
                               {"op": "replace", "path": "/metadata/resourceVersion", "value": "3"}])
    record_update(out, patched, manager="kubectl", now=T2, api_version="apps/v1")
    assert entries(patched) == [kubectl_apply]
    # 5. the next server-side apply with a change is now conflict-free and owned by kubectl alone.
    final = do_apply(stored(patched, rv="4"), deployment(replicas=6), manager="kubectl", now=T2)
    assert final["spec"]["replicas"] == 6
    assert [e["manager"] for e in entries(final)] == ["kubectl"]


def test_conflict_names_subresource_managers():
    live = created()
    new = copy.deepcopy(live)
    new["spec"]["replicas"] = 4
    record_update(live, new, manager="kubectl-scale", now=T1, api_version="apps/v1", subresource="scale")
    with pytest.raises(StatusError) as ei:
        do_apply(stored(new), deployment(replicas=5), manager="ci")
    assert ei.value.message == ('Apply failed with 1 conflict: conflict with "kubectl-scale" with subresource '
                                '"scale" using apps/v1: .spec.replicas')


def test_record_update_for_custom_resources_is_schemaless():
    cr = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "uid": "u"},
          "spec": {"size": 1, "tags": ["a"]}}
    record_update(None, cr, manager="m", now=T0, api_version="example.com/v1")
    assert entry(cr, "m")["fieldsV1"] == {"f:spec": {".": {}, "f:size": {}, "f:tags": {}}}
