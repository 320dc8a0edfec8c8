"""Pure deployment arithmetic: fenceposts, the rolling-update step (hypothesis), proportional
scaling, revisions, hashes and pod ranking."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubelite.controllers.deployment import util
from kubelite.controllers.deployment.progress import paused_condition, rollout_status
from kubelite.controllers.deployment.rolling import RSView, old_rs_targets, plan_step
from kubelite.controllers.podcontrol import rank_for_deletion
from kubelite.controllers.revisions import compute_hash, fnv32a, safe_encode


@pytest.mark.parametrize("surge,unavail,replicas,want", [
    ("25%", "25%", 10, (3, 2)),   # 2.5 -> surge up, unavailable down
    ("25%", "25%", 4, (1, 1)),
    ("25%", "25%", 1, (1, 0)),
    (0, "25%", 1, (0, 1)),        # both 0 after rounding -> unavailable 1
    ("0%", "0%", 5, (0, 1)),
    (2, 1, 5, (2, 1)),
    ("100%", "50%", 3, (3, 1)),
    ("33%", "33%", 100, (33, 33)),
    ("1%", "1%", 150, (2, 1)),
])
def test_resolve_fenceposts(surge, unavail, replicas, want):
    assert util.resolve_fenceposts(surge, unavail, replicas) == want


def _d(replicas=10, surge="25%", unavail="25%", **extra):
    return {"metadata": {"name": "web", "generation": 1}, "spec": {
        "replicas": replicas, "strategy": {"type": "RollingUpdate",
                                           "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavail}},
        **extra}}


def test_worked_example_from_rolling_docstring():
    # replicas 10, surge 3, unavailable 2: new up to 3, then old down to 8.
    new, olds = RSView("new", 0, 0, "2"), [RSView("old", 10, 10, "1")]
    assert plan_step(10, 3, 2, new, olds) == (3, {})
    new = RSView("new", 3, 0, "2")
    assert plan_step(10, 3, 2, new, olds) == (None, {"old": 8})
    assert plan_step(10, 3, 2, new, [RSView("old", 8, 8, "1")]) == (5, {})
    assert plan_step(10, 3, 2, RSView("new", 5, 0, "2"), [RSView("old", 8, 8, "1")]) == (None, {})
    assert plan_step(10, 3, 2, RSView("new", 5, 3, "2"), [RSView("old", 8, 8, "1")]) == (None, {"old": 5})


def test_unhealthy_old_replicas_go_first():
    # Two old sets: the older one has 3 unavailable pods; they are removed before healthy ones.
    olds = [RSView("a", 5, 2, "1"), RSView("b", 5, 5, "2")]
    # budget = 10 pods - 8 min available = 2 -> two of a's unavailable pods go (a: 5 -> 3).
    assert plan_step(10, 0, 2, RSView("new", 0, 0, "3"), olds) == (None, {"a": 3})


@settings(max_examples=300, deadline=None)
@given(replicas=st.integers(1, 25), surge=st.one_of(st.integers(0, 5), st.sampled_from(["0%", "10%", "25%", "50%"])),
       unavail=st.one_of(st.integers(0, 5), st.sampled_from(["0%", "10%", "25%", "50%"])),
       readiness=st.lists(st.integers(0, 3), min_size=200, max_size=200))
def test_rolling_update_invariants(replicas, surge, unavail, readiness):
    """Simulate a rollout: each step the controller plans; pods of the new RS become available
    when the simulated kubelet says so. Never more than replicas+surge pods; never fewer than
    replicas-unavailable available; always finishes."""
    s, u = util.resolve_fenceposts(surge, unavail, replicas)
    u = min(u, replicas)
    new = RSView("new", 0, 0, "2")
    old = RSView("old", replicas, replicas, "1")
    min_available = replicas - u
    for step, ready_now in enumerate(readiness):
        target, old_sizes = plan_step(replicas, s, u, new, [old])
        if target is not None:
            new = RSView("new", target, new.available, "2")
        if "old" in old_sizes:
            # Scaling down removes available pods last only if none are unavailable; old pods
            # here are all available, so availability drops with the size.
            size = old_sizes["old"]
            old = RSView("old", size, min(old.available, size), "1")
        assert new.replicas + old.replicas <= replicas + s
        assert new.available + old.available >= min_available
        # Kubelet: some new pods become available.
        new = RSView("new", new.replicas, min(new.replicas, new.available + ready_now), "2")
        if new.replicas == replicas and new.available == replicas and old.replicas == 0:
            break
    else:
        # Readiness may have stalled at zero throughout; finish with everything ready.
        for _ in range(4 * replicas + 4):
            target, old_sizes = plan_step(replicas, s, u, new, [old])
            if target is not None:
                new = RSView("new", target, target, "2")
            if "old" in old_sizes:
                old = RSView("old", old_sizes["old"], old_sizes["old"], "1")
            new = RSView("new", new.replicas, new.replicas, "2")
        assert new.replicas == replicas and old.replicas == 0


def _rs(name, replicas, created, max_replicas=None, available=None):
    ann = {} if max_replicas is None else {util.MAX_REPLICAS: str(max_replicas)}
    return {"metadata": {"name": name, "creationTimestamp": created, "annotations": ann},
            "spec": {"replicas": replicas}, "status": {"availableReplicas": replicas if available is None else available}}


def test_proportional_scaling_docstring_example():
    d = _d(20)  # 25%/25%, scaled 10 -> 20 mid-rollout (max-replicas 13 = 10 + 3)
    rss = [_rs("old", 8, "2025-01-01T00:00:00Z", 13), _rs("new", 5, "2025-01-02T00:00:00Z", 13)]
    # allowed 20 + 5 = 25: old 8 * 25/13 = 15.4 -> 15, new 5 * 25/13 = 9.6 -> 10.
    assert util.proportional_sizes(d, rss) == {"old": 15, "new": 10}
    # A fixed surge of 3: allowed 23, old 14.2 -> 14, new 8.8 -> 9.
    assert util.proportional_sizes(_d(20, surge=3, unavail=2), rss) == {"old": 14, "new": 9}
    # Shrinking 10 -> 5 takes pods in proportion too, never below zero.
    d = _d(5, surge=1, unavail=0)
    rss = [_rs("old", 6, "2025-01-01T00:00:00Z", 11), _rs("new", 5, "2025-01-02T00:00:00Z", 11)]
    sizes = util.proportional_sizes(d, rss)
    assert sum(sizes.values()) == 6 and min(sizes.values()) >= 0


def test_new_replica_set_annotations_and_rollback_revision():
    d = {"metadata": {"annotations": {"team": "a", util.LAST_APPLIED: "{}", util.REVISION: "7"}}, **_d(4)}
    d["metadata"]["annotations"] = {"team": "a", util.LAST_APPLIED: "{}", util.REVISION: "7"}
    md: dict = {}
    assert util.set_new_rs_annotations(d, md, 3, exists=False)
    assert md["annotations"] == {"team": "a", util.REVISION: "3", util.DESIRED_REPLICAS: "4",
                                 util.MAX_REPLICAS: "5"}
    # Reused by an undo: gets the top revision, its old one goes to revision-history.
    reused = {"annotations": {util.REVISION: "1", util.REVISION_HISTORY: "0"}}
    assert util.set_new_rs_annotations(d, reused, 4, exists=True)
    assert reused["annotations"][util.REVISION] == "4"
    assert reused["annotations"][util.REVISION_HISTORY] == "0,1"
    assert not util.set_new_rs_annotations(d, reused, 4, exists=True)


def test_equal_ignore_hash_and_find_new():
    t = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "a"}]}}
    with_hash = {"metadata": {"labels": {"app": "web", util.POD_TEMPLATE_HASH: "abc"}}, "spec": t["spec"]}
    assert util.equal_ignore_hash(t, with_hash)
    assert not util.equal_ignore_hash(t, {**with_hash, "spec": {"containers": [{"name": "c", "image": "b"}]}})
    d = {"spec": {"template": t}}
    older = {"metadata": {"name": "x", "creationTimestamp": "2025-01-01T00:00:00Z"}, "spec": {"template": with_hash}}
    newer = {"metadata": {"name": "y", "creationTimestamp": "2025-01-02T00:00:00Z"}, "spec": {"template": with_hash}}
    assert util.find_new_rs(d, [newer, older]) is older


def test_hash_is_stable_and_safe():
    t = {"spec": {"containers": [{"name": "c", "image": "nginx"}]}, "metadata": {"labels": {"app": "web"}}}
    reordered = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"image": "nginx", "name": "c"}]}}
    h = compute_hash(t, None)
    assert h == compute_hash(reordered, None)           # key order does not matter
    assert h == "5776f98846"                             # fixed across processes/versions
    assert compute_hash(t, 1) != h                       # collisions re-hash
    assert set(h) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert safe_encode("0123456789") == "456789bcdf"      # apimachinery's SafeEncodeString
    assert fnv32a(b"") == 0x811C9DC5 and fnv32a(b"a") == 0xE40C292C  # FNV-1a test vectors


def test_progress_conditions():
    now = dt.datetime(2025, 1, 1, 12, tzinfo=dt.UTC)
    d = _d(2, progressDeadlineSeconds=60)
    d["status"] = {"replicas": 2, "updatedReplicas": 2, "conditions": [{"type": "Progressing", "status": "True", "reason": util.REASON_RS_UPDATED,
                                   "lastUpdateTime": "2025-01-01T11:00:00Z", "lastTransitionTime": "2025-01-01T11:00:00Z"}]}
    new = {"metadata": {"name": "web-abc"}, "spec": {"replicas": 2}, "status": {"replicas": 2, "availableReplicas": 0}}
    status, _ = rollout_status([new], new, d, now)
    cond = {c["type"]: c for c in status["conditions"]}
    assert cond["Progressing"]["status"] == "False" and cond["Progressing"]["reason"] == "ProgressDeadlineExceeded"
    assert cond["Progressing"]["message"] == 'ReplicaSet "web-abc" has timed out progressing.'
    assert cond["Available"]["reason"] == "MinimumReplicasUnavailable"
    done = {**new, "status": {"replicas": 2, "availableReplicas": 2, "readyReplicas": 2}}
    status, after = rollout_status([done], done, {**d, "status": {}}, now)
    cond = {c["type"]: c for c in status["conditions"]}
    assert cond["Progressing"]["reason"] == "NewReplicaSetAvailable" and after is None
    paused = {**d, "spec": {**d["spec"], "paused": True}, "status": {}}
    assert paused_condition(paused, "t")["reason"] == "DeploymentPaused"
    assert paused_condition(paused, "t")["status"] == "Unknown"


def _pod(name, node="", phase="Running", ready=True, created="2025-01-01T00:00:00Z", ready_at=None, restarts=0):
    conds = [{"type": "Ready", "status": "True" if ready else "False",
              "lastTransitionTime": ready_at or created}]
    return {"metadata": {"name": name, "uid": name, "creationTimestamp": created},
            "spec": {"nodeName": node},
            "status": {"phase": phase, "conditions": conds, "containerStatuses": [{"restartCount": restarts}]}}


def test_scale_down_ranking():
    pods = [
        _pod("ready-old", "n1", created="2025-01-01T00:00:00Z"),
        _pod("unscheduled", "", phase="Pending", ready=False),
        _pod("pending", "n2", phase="Pending", ready=False),
        _pod("not-ready", "n3", ready=False),
        _pod("ready-new", "n4", created="2025-01-01T05:00:00Z", ready_at="2025-01-01T05:00:00Z"),
        _pod("restarty", "n5", restarts=5),
    ]
    order = [p["metadata"]["name"] for p in rank_for_deletion(pods)]
    assert order == ["unscheduled", "pending", "not-ready", "ready-new", "restarty", "ready-old"]
    # Crowded nodes go first among equals.
    crowded = [_pod("a", "n1"), _pod("b", "n1"), _pod("c", "n2")]
    assert rank_for_deletion(crowded)[0]["metadata"]["name"] in ("a", "b")


def test_stale_available_count_of_a_shrinking_old_rs_is_not_trusted() -> None:
    # 6 replicas, maxSurge 2, maxUnavailable 1. The old RS was just scaled to 3 but still reports
    # the 5 pods it had as available; the new RS has 5 with 3 available. Trusting the stale 5
    # would scale the old RS to 0 and leave 3 available (< 6 - 1). Capped at its spec (3), the
    # total available is 6 and one more may go: 3 -> 2.
    targets = old_rs_targets(6, 1, RSView("new", 5, 3), [RSView("old", 3, 5)])
    assert targets == {"old": 2}
