"""Derive kubelite's API type table from Kubernetes' protobuf definitions (dev-time only).

The wire format of every built-in kind (field names, protobuf field numbers, scalar types,
merge keys and list semantics) is fixed by k8s.io/api's ``generated.proto`` files. We read
those facts -- structure only, no comments or descriptions -- and write
``kubelite/api/types.json``, from which ``kubelite.api.schema`` builds every schema-driven
feature (protobuf decoding, OpenAPI, pruning, strategic merge keys).

Usage: python tools/gen_api_types.py MIRROR_DIR   (MIRROR_DIR holds kubernetes+api, +apimachinery,
+apiextensions-apiserver git mirrors; the tag v0.36.3 is read).
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

TAG = "v0.36.3"
SOURCES = {
    "kubernetes+api": [
        "core/v1", "apps/v1", "batch/v1", "autoscaling/v1", "autoscaling/v2", "networking/v1",
        "discovery/v1", "coordination/v1", "events/v1", "rbac/v1", "storage/v1", "policy/v1",
        "scheduling/v1", "authorization/v1", "authentication/v1", "resource/v1", "admissionregistration/v1",
        "admission/v1", "certificates/v1", "node/v1", "flowcontrol/v1",
    ],
    "kubernetes+apimachinery": [
        "pkg/apis/meta/v1", "pkg/runtime", "pkg/util/intstr", "pkg/api/resource",
    ],
    "kubernetes+apiextensions-apiserver": ["pkg/apis/apiextensions/v1"],
}
FIELD = re.compile(r"^\s*(optional|repeated)?\s*(map<\s*string\s*,\s*([\w.]+)\s*>|[\w.]+)\s+(\w+)\s*=\s*(\d+)\s*;")
SCALARS = {"string", "int32", "int64", "bool", "double", "float", "bytes"}


def openapi_name(proto_pkg: str) -> str:
    """k8s.io.api.apps.v1 -> io.k8s.api.apps.v1 (the names Kubernetes' OpenAPI uses)."""
    rest = proto_pkg.removeprefix("k8s.io.")
    rest = rest.replace("apiextensions_apiserver", "apiextensions-apiserver")
    return "io.k8s." + rest


def resolve(type_name: str, pkg: str) -> str:
    if type_name in SCALARS:
        return type_name
    if type_name.startswith("."):
        full = type_name[1:]
        p, _, msg = full.rpartition(".")
        return openapi_name(p) + "." + msg
    return openapi_name(pkg) + "." + type_name


def parse(text: str, types: dict) -> None:
    pkg = re.search(r"^package ([\w.]+);", text, re.M).group(1)
    msg = None
    markers: dict = {}
    for line in text.splitlines():
        s = line.strip()
        m = re.match(r"^message (\w+) \{", s)
        if m:
            msg = {}
            types[openapi_name(pkg) + "." + m.group(1)] = msg
            markers = {}
            continue
        if s == "}":
            msg = None
            continue
        if msg is None:
            continue
        if s.startswith("//"):
            mk = re.match(r"//\s*\+(patchMergeKey|patchStrategy|listType|listMapKey|optional)(?:=(.*))?$", s)
            if mk:
                key, val = mk.group(1), (mk.group(2) or "").strip()
                if key == "listMapKey":
                    markers.setdefault("lmk", []).append(val)
                elif key == "optional":
                    markers["opt"] = 1
                else:
                    markers[{"patchMergeKey": "pmk", "patchStrategy": "ps", "listType": "lt"}[key]] = val
            continue
        fm = FIELD.match(line)
        if not fm:
            markers = {}
            continue
        label, typ, mapval, name, num = fm.groups()
        f: dict = {"n": int(num)}
        if mapval:
            f["t"] = "map"
            f["v"] = resolve(mapval, pkg)
        else:
            f["t"] = resolve(typ, pkg)
            if label == "repeated":
                f["r"] = 1
        f.update(markers)
        msg[name] = f
        markers = {}


def main(mirror: Path) -> None:
    types: dict = {}
    for repo, dirs in SOURCES.items():
        gitdir = mirror / repo / "repo"
        for d in dirs:
            text = subprocess.run(
                ["git", "--git-dir", str(gitdir), "show", f"{TAG}:{d}/generated.proto"],
                check=True, capture_output=True, text=True,
            ).stdout
            parse(text, types)
    out = Path(__file__).resolve().parent.parent / "kubelite" / "api" / "types.json"
    out.write_text(json.dumps(types, sort_keys=True, separators=(",", ":")) + "\n")
    print(f"wrote {len(types)} message types to {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/work/.mirror"))
