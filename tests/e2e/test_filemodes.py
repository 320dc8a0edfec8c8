"""The server's state on disk is private, as k3s keeps it: data dir 0700, keys, kubeconfig and
the database with its WAL 0600 -- after a fresh start and after restarting an install whose
modes were loose."""
from __future__ import annotations

import os
import stat
from pathlib import Path

from tests.e2e.conftest import Cluster, make_cluster


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def check_private(c: Cluster) -> None:
    assert mode(c.data_dir) == 0o700
    assert mode(c.data_dir / "tls") == 0o700
    keys = list((c.data_dir / "tls").glob("*.key"))
    assert {k.name for k in keys} >= {"ca.key", "serving.key", "admin.key", "sa.key"}
    assert all(mode(k) == 0o600 for k in keys), {k.name: oct(mode(k)) for k in keys}
    db = c.data_dir / "db"
    assert mode(db) == 0o700
    files = [db / "state.db", db / "state.db-wal", db / "state.db-shm"]
    assert all(f.exists() and mode(f) == 0o600 for f in files), {f.name: oct(mode(f)) for f in db.iterdir()}
    assert mode(c.kubeconfig) == 0o600


def test_fresh_install_is_private(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("-n", ns, "create", "secret", "generic", "s", "--from-literal=k=v")  # the WAL has data
    check_private(cluster)


def test_loose_install_is_tightened_on_start(tmp_path: Path) -> None:
    c = make_cluster(tmp_path)
    c.start()
    c.stop()
    for root, dirs, files in os.walk(c.data_dir):
        os.chmod(root, 0o755)
        for f in files:
            os.chmod(os.path.join(root, f), 0o644)
    os.chmod(c.kubeconfig, 0o644)
    c.start()
    try:
        c.kubectl("get", "ns")
        check_private(c)
    finally:
        c.stop()
