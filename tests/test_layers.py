"""The import layers of style.md, checked: a module may import only from its own layer or below.

cli > server > {apiserver, controllers, scheduler, kubelet, proxy, dns, sim} > client > storage >
{machinery, api}. api and machinery are one pure layer (no I/O) and may use each other: kinds
raise machinery's Status errors and parse quantities; patches read api's schema. The components in braces do not import each other; only apiserver touches
storage; controllers, scheduler, kubelet and sim reach the cluster only through client.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "kubelite"
COMPONENTS = {"apiserver", "controllers", "scheduler", "kubelet", "proxy", "dns", "sim"}
RANK = {"api": 0, "machinery": 0, "storage": 2, "client": 3, **{c: 4 for c in COMPONENTS}, "server": 5, "cli": 6}
# Exceptions, each with its reason.
ALLOWED = {
    # The in-process transport implements the client's Transport protocol for the API server.
    ("apiserver", "client"),
}


def _package(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "kubelite" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in RANK else None


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
    return out


def _violations() -> list[str]:
    bad = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        if len(rel.parts) < 2:
            continue
        here = rel.parts[0]
        if here not in RANK:
            continue
        for mod in _imports(path):
            there = _package(mod)
            if there is None or there == here or (here, there) in ALLOWED:
                continue
            if there == "storage" and here not in ("apiserver", "server", "cli"):
                bad.append(f"{rel}: imports {mod} (only apiserver touches storage)")
            elif RANK[there] > RANK[here] or (RANK[there] == RANK[here] == 4):  # noqa: PLR2004
                bad.append(f"{rel}: imports {mod} ({here} may not depend on {there})")
    return sorted(bad)


def test_import_layers() -> None:
    assert _violations() == []


@pytest.mark.parametrize("module", ["kubelite.api.schema", "kubelite.machinery.errors"])
def test_low_layers_have_no_io_dependencies(module: str) -> None:
    path = ROOT.parent / (module.replace(".", "/") + ".py")
    assert not any(m.split(".")[0] in ("aiohttp", "sqlite3", "asyncio") for m in _imports(path))
