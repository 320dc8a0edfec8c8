"""Workload controllers end to end: the real kubectl against ``kubelite server`` with three
simulated nodes (``control_plane``). Deployments (availability, rolling update bounds watched
event by event, undo/history, pod replacement, scaling), StatefulSet ordering with local-path
volumes, Jobs, CronJobs (on schedule), garbage collection and namespace deletion."""
from __future__ import annotations

import datetime as dt
import time
import uuid

import pytest

from tests.e2e.conftest import (Cluster, KubectlWatch, apply, deployment_manifest, pod_active, pod_ready, pods_of,
                                replay)

NODES = {"node-0", "node-1", "node-2"}


def _condition(obj: dict, kind: str) -> str | None:
    for c in (obj.get("status") or {}).get("conditions") or ():
        if c.get("type") == kind:
            return c.get("status")
    return None


def _image(obj: dict) -> str:
    spec = obj["spec"]["template"]["spec"] if "template" in obj["spec"] else obj["spec"]
    return spec["containers"][0]["image"]


def _parse_time(s: str) -> dt.datetime:
    return dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)


# -- CronJob: created first so that its first scheduled minute passes while the others run ------

@pytest.fixture(scope="session")
def minute_cronjob(control_plane: Cluster) -> tuple[str, float]:
    """An every-minute CronJob ``tick`` in a namespace of its own; (namespace, creation time)."""
    ns = "cron-" + uuid.uuid4().hex[:6]
    control_plane.kubectl("create", "namespace", ns)
    cron = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "tick"},
            "spec": {"schedule": "*/1 * * * *", "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
                "containers": [{"name": "tick", "image": "busybox", "command": ["date"]}]}}}}}}
    apply(control_plane, ns, cron)
    return ns, time.time()


def test_job_from_cronjob_runs(control_plane: Cluster, minute_cronjob: tuple[str, float]) -> None:
    ns, _ = minute_cronjob
    k = control_plane
    k.kubectl("-n", ns, "create", "job", "by-hand", "--from=cronjob/tick")
    k.kubectl("-n", ns, "wait", "--for=condition=Complete", "job/by-hand", "--timeout=60s")
    job = k.json("-n", ns, "get", "job", "by-hand")
    assert job["status"]["succeeded"] == 1
    assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    (pod,) = pods_of(k, ns, "job-name=by-hand")
    assert pod["status"]["phase"] == "Succeeded" and pod["spec"]["nodeName"] in NODES


# -- Deployments -------------------------------------------------------------------------------

def test_deployment_reaches_replicas_and_available(control_plane: Cluster, wns: str) -> None:
    k = control_plane
    apply(k, wns, deployment_manifest("web", 4))
    assert "successfully rolled out" in k.kubectl("-n", wns, "rollout", "status", "deployment/web",
                                                  "--timeout=60s").stdout
    k.kubectl("-n", wns, "wait", "--for=condition=Available", "deployment/web", "--timeout=60s")
    dep = k.json("-n", wns, "get", "deployment", "web")
    st = dep["status"]
    assert (st["replicas"], st["readyReplicas"], st["availableReplicas"], st["updatedReplicas"]) == (4, 4, 4, 4)
    assert st["observedGeneration"] == dep["metadata"]["generation"]
    assert _condition(dep, "Progressing") == "True"
    pods = pods_of(k, wns, "app=web")
    assert len(pods) == 4
    for pod in pods:
        assert pod["status"]["phase"] == "Running" and pod_ready(pod)
        assert pod["spec"]["nodeName"] in NODES and pod["status"]["podIP"]
    assert len({p["status"]["podIP"] for p in pods}) == 4
    row = k.kubectl("-n", wns, "get", "deployment", "web", "--no-headers").stdout.split()
    assert row[:4] == ["web", "4/4", "4", "4"], row


def test_rolling_update_keeps_surge_and_unavailable_bounds(control_plane: Cluster, wns: str) -> None:
    k = control_plane
    replicas, surge, unavailable = 6, 2, 1
    apply(k, wns, deployment_manifest("roll", replicas, "nginx:1.25", max_surge=surge, max_unavailable=unavailable))
    k.kubectl("-n", wns, "rollout", "status", "deployment/roll", "--timeout=60s")
    with KubectlWatch(k, "-n", wns, "pods", "-l", "app=roll") as pod_watch, \
            KubectlWatch(k, "-n", wns, "replicasets", "-l", "app=roll") as rs_watch:
        pod_watch.wait_for(lambda evs: len(evs) >= replicas, what="the initial pod list")
        rs_watch.wait_for(lambda evs: len(evs) >= 1, what="the initial replicaset list")
        k.kubectl("-n", wns, "set", "image", "deployment/roll", "app=nginx:1.26")
        k.kubectl("-n", wns, "rollout", "status", "deployment/roll", "--timeout=60s")

        def done(evs: list) -> bool:  # the watch caught up: 6 new ready pods, no old active one
            *_, (_, state) = replay(evs)
            active = [p for p in state.values() if pod_active(p)]
            return len(active) == replicas and all(_image(p) == "nginx:1.26" and pod_ready(p) for p in active)

        pod_watch.wait_for(done, what="the watch to see the finished rollout")
    pod_events, rs_events = pod_watch.events, rs_watch.events

    max_active, mixed = 0, False
    for i, state in replay(pod_events):
        if i < replicas - 1:
            continue  # still reading the initial list
        active = [p for p in state.values() if pod_active(p)]
        ready = [p for p in active if pod_ready(p)]
        assert len(active) <= replicas + surge, f"event {i}: {len(active)} pods > {replicas}+{surge}"
        assert len(ready) >= replicas - unavailable, f"event {i}: only {len(ready)} ready pods"
        max_active = max(max_active, len(active))
        mixed |= {_image(p) for p in ready} == {"nginx:1.25", "nginx:1.26"}
    assert mixed, "old and new pods never served side by side: not a rolling update"
    assert max_active > replicas, "the surge was never used"

    for i, state in replay(rs_events):
        spec_total = sum(rs["spec"]["replicas"] for rs in state.values())
        available = sum((rs.get("status") or {}).get("availableReplicas", 0) for rs in state.values())
        assert spec_total <= replicas + surge, f"rs event {i}: {spec_total} replicas wanted"
        assert available >= replicas - unavailable, f"rs event {i}: {available} available"
    rss = {rs["metadata"]["name"]: rs for rs in k.json("-n", wns, "get", "rs", "-l", "app=roll")["items"]}
    assert sorted((_image(rs), rs["spec"]["replicas"]) for rs in rss.values()) == [("nginx:1.25", 0),
                                                                                   ("nginx:1.26", 6)]


def test_rollout_undo_returns_to_previous_template(control_plane: Cluster, wns: str) -> None:
    k = control_plane
    dep = deployment_manifest("undo", 2, "nginx:1.25")
    dep["metadata"]["annotations"] = {"kubernetes.io/change-cause": "first release"}
    apply(k, wns, dep)
    k.kubectl("-n", wns, "rollout", "status", "deployment/undo", "--timeout=60s")
    (first_rs,) = k.json("-n", wns, "get", "rs", "-l", "app=undo")["items"]
    first_hash = first_rs["metadata"]["labels"]["pod-template-hash"]

    k.kubectl("-n", wns, "set", "image", "deployment/undo", "app=nginx:1.26")
    k.kubectl("-n", wns, "annotate", "deployment/undo", "kubernetes.io/change-cause=bump to 1.26", "--overwrite")
    k.kubectl("-n", wns, "rollout", "status", "deployment/undo", "--timeout=60s")
    history = k.kubectl("-n", wns, "rollout", "history", "deployment/undo").stdout
    rows = [line.split(None, 1) for line in history.splitlines()[2:] if line.strip()]
    assert rows == [["1", "first release"], ["2", "bump to 1.26"]], history

    assert "rolled back" in k.kubectl("-n", wns, "rollout", "undo", "deployment/undo").stdout
    k.kubectl("-n", wns, "rollout", "status", "deployment/undo", "--timeout=60s")
    assert _image(k.json("-n", wns, "get", "deployment", "undo")) == "nginx:1.25"
    k.wait_for(lambda: sorted(_image(p) for p in pods_of(k, wns, "app=undo") if pod_active(p))
               == ["nginx:1.25"] * 2, what="the old image's pods back")
    # the old ReplicaSet came back (same template hash) as revision 3; revision 1 is gone
    pods = [p for p in pods_of(k, wns, "app=undo") if pod_active(p)]
    assert {p["metadata"]["labels"]["pod-template-hash"] for p in pods} == {first_hash}
    history = k.kubectl("-n", wns, "rollout", "history", "deployment/undo").stdout
    revisions = [line.split()[0] for line in history.splitlines()[2:] if line.strip()]
    assert revisions == ["2", "3"], history
    assert "nginx:1.25" in k.kubectl("-n", wns, "rollout", "history", "deployment/undo", "--revision=3").stdout
    assert "nginx:1.26" in k.kubectl("-n", wns, "rollout", "history", "deployment/undo", "--revision=2").stdout
    assert len(k.json("-n", wns, "get", "rs", "-l", "app=undo")["items"]) == 2


def test_deleted_pod_is_replaced(control_plane: Cluster, wns: str) -> None:
    k = control_plane
    apply(k, wns, deployment_manifest("keep", 3))
    k.kubectl("-n", wns, "rollout", "status", "deployment/keep", "--timeout=60s")
    before = {p["metadata"]["name"] for p in pods_of(k, wns, "app=keep")}
    victim = sorted(before)[0]
    k.kubectl("-n", wns, "delete", "pod", victim, "--timeout=30s")  # waits until it is gone

    def replaced() -> set[str] | None:
        pods = [p for p in pods_of(k, wns, "app=keep") if pod_active(p) and pod_ready(p)]
        names = {p["metadata"]["name"] for p in pods}
        return names if len(names) == 3 and victim not in names else None

    after = k.wait_for(replaced, timeout=30, what="a replacement pod")
    assert len(after - before) == 1
    assert k.json("-n", wns, "get", "deployment", "keep")["status"]["availableReplicas"] == 3


def test_scale_up_and_down(control_plane: Cluster, wns: str) -> None:
    k = control_plane
    apply(k, wns, deployment_manifest("scaled", 2))
    k.kubectl("-n", wns, "rollout", "status", "deployment/scaled", "--timeout=60s")
    k.kubectl("-n", wns, "scale", "deployment/scaled", "--replicas=5")
    k.kubectl("-n", wns, "rollout", "status", "deployment/scaled", "--timeout=60s")
    assert sum(pod_ready(p) for p in pods_of(k, wns, "app=scaled")) == 5
    assert k.json("-n", wns, "get", "deployment", "scaled")["status"]["readyReplicas"] == 5

    k.kubectl("-n", wns, "scale", "deployment/scaled", "--replicas=1")
    k.wait_for(lambda: len(pods_of(k, wns, "app=scaled")) == 1, timeout=30, what="scale-down to one pod")
    k.wait_for(lambda: k.json("-n", wns, "get", "deployment", "scaled")["status"].get("replicas") == 1,
               what="deployment status replicas=1")
    (rs,) = k.json("-n", wns, "get", "rs", "-l", "app=scaled")["items"]
    assert rs["spec"]["replicas"] == 1


# -- StatefulSet, Job --------------------------------------------------------------------------

def _statefulset(name: str, replicas: int) -> list[dict]:
    labels = {"app": name}
    return [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
         "spec": {"clusterIP": "None", "selector": labels, "ports": [{"port": 80}]}},
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name},
         "spec": {"serviceName": name, "replicas": replicas, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels}, "spec": {
                      "terminationGracePeriodSeconds": 1,
                      "containers": [{"name": "nginx", "image": "nginx",
                                      "volumeMounts": [{"name": "www", "mountPath": "/usr/share/nginx/html"}]}]}},
                  "volumeClaimTemplates": [{"metadata": {"name": "www"}, "spec": {
                      "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}},
    ]


def test_statefulset_starts_pods_in_order_with_their_volumes(control_plane: Cluster, wns: str) -> None:
    k = control_plane
    with KubectlWatch(k, "-n", wns, "pods", "-l", "app=web") as watch:
        time.sleep(0.5)  # let the watch start before the first pod exists
        apply(k, wns, *_statefulset("web", 3))
        k.kubectl("-n", wns, "rollout", "status", "statefulset/web", "--timeout=60s")
        watch.wait_for(lambda evs: sum(pod_ready(o) for _, o in evs if o["metadata"]["name"] == "web-2"),
                       what="web-2 ready in the watch")
    events = watch.events
    created = [o["metadata"]["name"] for t, o in events if t == "ADDED"]
    assert created == ["web-0", "web-1", "web-2"], created
    # OrderedReady: web-k is created only once web-(k-1) is Running and Ready
    for k_ in (1, 2):
        added_at = next(i for i, (t, o) in enumerate(events) if t == "ADDED" and o["metadata"]["name"] == f"web-{k_}")
        ready_at = next(i for i, (_, o) in enumerate(events)
                        if o["metadata"]["name"] == f"web-{k_ - 1}" and pod_ready(o))
        assert ready_at < added_at, f"web-{k_} created before web-{k_ - 1} was ready"

    pods = {p["metadata"]["name"]: p for p in pods_of(k, wns, "app=web")}
    stamps = [_parse_time(pods[f"web-{i}"]["metadata"]["creationTimestamp"]) for i in range(3)]
    assert stamps == sorted(stamps)
    pvcs = {c["metadata"]["name"]: c for c in k.json("-n", wns, "get", "pvc")["items"]}
    assert sorted(pvcs) == ["www-web-0", "www-web-1", "www-web-2"]
    for i in range(3):
        pvc, pod = pvcs[f"www-web-{i}"], pods[f"web-{i}"]
        assert pvc["status"]["phase"] == "Bound" and pvc["spec"]["storageClassName"] == "local-path"
        claim = next(v["persistentVolumeClaim"]["claimName"] for v in pod["spec"]["volumes"]
                     if "persistentVolumeClaim" in v)
        assert claim == f"www-web-{i}"
        pv = k.json("get", "pv", pvc["spec"]["volumeName"])
        assert pv["status"]["phase"] == "Bound"
        assert (pv["spec"]["claimRef"]["namespace"], pv["spec"]["claimRef"]["name"]) == (wns, f"www-web-{i}")
        # a local volume lives on the node its first consumer was scheduled to
        terms = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
        assert pod["spec"]["nodeName"] in terms[0]["matchExpressions"][0]["values"]
    sts = k.json("-n", wns, "get", "statefulset", "web")
    assert sts["status"]["readyReplicas"] == 3 and sts["status"]["currentReplicas"] == 3


def test_job_completes_within_its_parallelism(control_plane: Cluster, wns: str) -> None:
    k = control_plane
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "batch"},
           "spec": {"completions": 3, "parallelism": 2, "template": {"spec": {
               "restartPolicy": "Never", "containers": [{"name": "work", "image": "busybox", "command": ["true"]}]}}}}
    with KubectlWatch(k, "-n", wns, "pods", "-l", "job-name=batch") as watch:
        time.sleep(0.5)
        apply(k, wns, job)
        k.kubectl("-n", wns, "wait", "--for=condition=Complete", "job/batch", "--timeout=60s")
        watch.wait_for(lambda evs: sum(o["status"].get("phase") == "Succeeded" for _, o in evs) >= 3,
                       what="three succeeded pods")
    peak = max(sum(1 for p in state.values() if pod_active(p)) for _, state in replay(watch.events))
    assert peak == 2, f"{peak} pods ran at once with parallelism 2"
    st = k.json("-n", wns, "get", "job", "batch")["status"]
    assert st["succeeded"] == 3 and st.get("failed", 0) == 0 and st["completionTime"]
    assert k.kubectl("-n", wns, "get", "job", "batch", "--no-headers").stdout.split()[1:3] == ["Complete", "3/3"]


# -- garbage collection and namespace deletion -------------------------------------------------

def test_deleting_a_deployment_collects_its_replicasets_and_pods(control_plane: Cluster, wns: str) -> None:
    k = control_plane
    apply(k, wns, deployment_manifest("bg", 2), deployment_manifest("fg", 2), deployment_manifest("orphan", 2))
    for name in ("bg", "fg", "orphan"):
        k.kubectl("-n", wns, "rollout", "status", f"deployment/{name}", "--timeout=60s")

    # foreground: the Deployment disappears only after its ReplicaSet, which waits for its pods
    k.kubectl("-n", wns, "delete", "deployment", "fg", "--cascade=foreground", "--timeout=60s")
    assert k.json("-n", wns, "get", "rs,pods", "-l", "app=fg")["items"] == []
    # background (kubectl's default): the Deployment goes at once, the collector follows
    k.kubectl("-n", wns, "delete", "deployment", "bg", "--timeout=60s")
    k.wait_for(lambda: k.json("-n", wns, "get", "rs,pods", "-l", "app=bg")["items"] == [], timeout=30,
               what="the ReplicaSet and pods of a deleted Deployment to go")
    # orphan: the ReplicaSet and its pods stay, no longer owned
    k.kubectl("-n", wns, "delete", "deployment", "orphan", "--cascade=orphan", "--timeout=60s")
    (rs,) = k.json("-n", wns, "get", "rs", "-l", "app=orphan")["items"]
    assert not rs["metadata"].get("ownerReferences")
    assert len([p for p in pods_of(k, wns, "app=orphan") if pod_active(p)]) == 2


def test_deleting_a_namespace_removes_everything_in_it(control_plane: Cluster) -> None:
    k = control_plane
    ns = "doomed-" + uuid.uuid4().hex[:6]
    k.kubectl("create", "namespace", ns)
    apply(k, ns, deployment_manifest("app", 2), *_statefulset("db", 1),
          {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a": "1"}},
          {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sec"}, "stringData": {"p": "q"}})
    k.kubectl("-n", ns, "rollout", "status", "deployment/app", "--timeout=60s")
    k.kubectl("-n", ns, "rollout", "status", "statefulset/db", "--timeout=60s")
    pv_name = k.json("-n", ns, "get", "pvc", "www-db-0")["spec"]["volumeName"]

    t0 = time.monotonic()
    k.kubectl("delete", "namespace", ns, "--timeout=60s")  # returns once the namespace is gone
    elapsed = time.monotonic() - t0
    res = k.kubectl("get", "namespace", ns, check=False)
    assert res.returncode != 0 and "NotFound" in res.stderr, res
    assert elapsed < 30, f"namespace deletion took {elapsed:.1f}s"
    leftovers = k.json("-n", ns, "get", "deployments,replicasets,statefulsets,pods,services,configmaps,secrets,pvc")
    assert leftovers["items"] == []
    # the claim's volume had reclaim policy Delete: it goes with the claim
    k.wait_for(lambda: k.kubectl("get", "pv", pv_name, check=False).returncode != 0, timeout=30,
               what="the released volume to be deleted")


# -- the CronJob's own schedule (checked last: its minute boundary passed meanwhile) -----------

@pytest.mark.finish_last
def test_cronjob_fires_on_schedule(control_plane: Cluster, minute_cronjob: tuple[str, float]) -> None:
    ns, created = minute_cronjob
    k = control_plane
    deadline = created + 75  # the next minute boundary, plus the time to start and run the Job

    def scheduled_job() -> dict | None:
        jobs = [j for j in k.json("-n", ns, "get", "jobs")["items"]
                if "cronjob.kubernetes.io/instantiate" not in (j["metadata"].get("annotations") or {})]
        return jobs[0] if jobs and _condition(jobs[0], "Complete") == "True" else None

    job = k.wait_for(scheduled_job, timeout=max(5.0, deadline - time.time()), interval=1,
                     what="the CronJob's first scheduled Job to complete")
    cron = k.json("-n", ns, "get", "cronjob", "tick")
    last = _parse_time(cron["status"]["lastScheduleTime"])
    assert last.second == 0 and last.timestamp() > created - 1  # not a minute from before it existed
    assert job["metadata"]["name"] == f"tick-{int(last.timestamp()) // 60}"
    owner = job["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner.get("controller")) == ("CronJob", "tick", True)
    k.wait_for(lambda: k.json("-n", ns, "get", "cronjob", "tick")["status"].get("lastSuccessfulTime"),
               what="lastSuccessfulTime")
