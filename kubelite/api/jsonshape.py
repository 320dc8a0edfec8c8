"""The JSON shape of built-in messages: the Go facts that ``generated.proto`` does not record.

``schema`` knows each message's protobuf fields. The JSON a client sends is shaped by the Go
struct instead, and four Go facts change it:

* *inline* embedding (``VolumeSource `json:",inline"```): the embedded message's fields appear
  directly in the parent (``volumes[0].configMap``, never ``volumes[0].volumeSource.configMap``);
* JSON names that differ from the proto names (``BoundObjectReference.uID`` is ``uid``);
* *pointer* fields (``Replicas *int32``): on the protobuf wire such a field is present only when
  set, so ``replicas: 0`` there is an explicit zero; non-pointer fields are always written;
* ``omitempty``, which decides whether Go's JSON writes a zero value at all;

plus two per-message facts: the struct embeds ``TypeMeta`` (it accepts ``apiVersion`` and
``kind``), or the message is a Go slice (``ExtraValue``, ``Verbs``: its JSON is a plain list).

The facts live in ``gofields.json`` (``{message: {proto field: code}}``, code letters ``i``
inline, ``p`` pointer, ``o`` omitempty, ``=name`` JSON name; ``@t`` TypeMeta, ``@`` "list"),
read from k8s.io/api's Go types by running this module (dev-time only)::

    python -m kubelite.api.jsonshape /work/.mirror

Callers: ``kubelite.machinery.protobuf`` (decoding) and ``kubelite.api.conformance`` (unknown
fields, pruning, type checks). Both go through ``shape(name)``.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from kubelite.api import schema
from kubelite.api.schema import Field

_FACTS_FILE = Path(__file__).with_name("gofields.json")


@dataclass(frozen=True, slots=True)
class Slot:
    """One protobuf field as Go's JSON sees it."""

    field: Field
    json: str  # the JSON key; for an inline slot, the proto name (never a JSON key)
    pointer: bool
    omitempty: bool
    inline: bool


class Shape:
    """A message's JSON view: slots by proto number (inline slots unexpanded, for decoding)
    and by JSON key (inline members flattened in, for checking JSON bodies)."""

    __slots__ = ("name", "go_name", "by_number", "fields", "type_meta", "list_items")

    def __init__(self, name: str, by_number: dict[int, Slot], fields: dict[str, Slot],
                 type_meta: bool, list_items: Slot | None) -> None:
        self.name = name
        # How Go prints the type in errors: "v1.DeploymentSpec", "intstr.IntOrString".
        pkg, _, short = name.rpartition(".")
        self.go_name = f"{pkg.rpartition('.')[2]}.{short}"
        self.by_number = by_number
        self.fields = fields
        self.type_meta = type_meta
        self.list_items = list_items

    @property
    def short_name(self) -> str:
        return self.name.rpartition(".")[2]

    def __repr__(self) -> str:
        return f"Shape({self.name}, {len(self.fields)} JSON fields)"


@cache
def _facts() -> dict[str, dict[str, object]]:
    facts: dict[str, dict[str, object]] = json.loads(_FACTS_FILE.read_text())
    return facts


@cache
def shape(name: str) -> Shape:
    """The JSON shape of message ``name``; KeyError if the schema does not know it."""
    msg = schema.message(name)
    facts = _facts().get(name, {})
    # schema.py already renamed a few JSONSchemaProps fields ("ref" -> "$ref"); the facts use
    # proto names, so index them by their JSON name too.
    by_json_name = {str(code).partition("=")[2]: code for code in facts.values()
                    if isinstance(code, str) and "=" in code}
    by_number: dict[int, Slot] = {}
    for pname, f in msg.proto_fields.items():
        code = facts.get(pname, by_json_name.get(pname))
        if isinstance(code, str):
            flags, _, jname = code.partition("=")
            embedded = "i" in flags and schema.has_message(f.type)  # only a message inlines
            slot = Slot(f, jname or pname, "p" in flags, "o" in flags, embedded)
        else:  # no Go facts (proto-only message): trust the +optional marker
            slot = Slot(f, pname, False, f.optional, False)
        by_number[f.number] = slot
    fields: dict[str, Slot] = {}
    inline: list[Slot] = []
    for slot in by_number.values():
        if slot.inline:
            inline.append(slot)
        else:
            fields[slot.json] = slot
    # Go resolves a name clash between a struct's own field and an embedded one in favour
    # of the shallower field, so embedded members never overwrite.
    for slot in inline:
        for key, member in shape(slot.field.type).fields.items():
            fields.setdefault(key, member)
    items = fields.get("items") if facts.get("@") == "list" else None
    return Shape(name, by_number, fields, bool(facts.get("@t")), items)


# ---------------------------------------------------------------------------------------------
# Dev-time generator: read the Go facts from the k8s.io/* git mirrors into gofields.json.

_TAG = "v0.36.3"
_GO_SOURCES = {
    # mirror name: (proto package prefix, directories)
    "kubernetes+api": ("api", [
        "core/v1", "apps/v1", "batch/v1", "autoscaling/v1", "autoscaling/v2", "networking/v1",
        "discovery/v1", "coordination/v1", "events/v1", "rbac/v1", "storage/v1", "policy/v1",
        "scheduling/v1", "authorization/v1", "authentication/v1", "resource/v1", "admissionregistration/v1",
        "admission/v1", "certificates/v1", "node/v1", "flowcontrol/v1",
    ]),
    "kubernetes+apimachinery": ("apimachinery", [
        "pkg/apis/meta/v1", "pkg/runtime", "pkg/util/intstr", "pkg/api/resource",
    ]),
    "kubernetes+apiextensions-apiserver": ("apiextensions-apiserver", ["pkg/apis/apiextensions/v1"]),
}
_STRUCT = re.compile(r"^type (\w+) struct \{")
_SLICE_TYPE = re.compile(r"^type (\w+) \[\]\w+\s*$")
# "\tName Type `tags`" or, for an embedded struct, "\tType `tags`".
_GO_FIELD = re.compile(r"^\t(?:(\w+)\s+)?(\*?[\w.\[\]*]+)\s+`([^`]*)`")


def _go_facts(text: str, pkg: str, out: dict[str, dict[str, object]]) -> None:
    current = None
    for line in text.splitlines():
        if m := _STRUCT.match(line):
            current = f"{pkg}.{m.group(1)}"
            continue
        if (m := _SLICE_TYPE.match(line)) and schema.has_message(f"{pkg}.{m.group(1)}"):
            out.setdefault(f"{pkg}.{m.group(1)}", {})["@"] = "list"
            continue
        if line.startswith("}"):
            current = None
            continue
        if current is None or not (m := _GO_FIELD.match(line)):
            continue
        go_name, go_type, tags = m.groups()
        jtag = re.search(r'json:"([^"]*)"', tags)
        ptag = re.search(r'protobuf:"([^"]*)"', tags)
        jparts = jtag.group(1).split(",") if jtag else [""]
        if ptag is None:  # not on the wire; TypeMeta is the one we care about
            if go_name is None and go_type.endswith("TypeMeta") and jparts[0] == "":
                out.setdefault(current, {})["@t"] = 1
            continue
        names = [p[5:] for p in ptag.group(1).split(",") if p.startswith("name=")]
        if not names:  # go-to-protobuf then names it after the Go field, lower-camel
            base = go_name or go_type.lstrip("*").rpartition(".")[2]
            names = [base[:1].lower() + base[1:]]
        code = ""
        if go_name is None and jparts[0] == "":
            code += "i"
        if go_type.startswith("*"):
            code += "p"
        if "omitempty" in jparts[1:]:
            code += "o"
        if jparts[0] and jparts[0] not in (names[0], "-"):
            code += "=" + jparts[0]
        out.setdefault(current, {})[names[0]] = code


def generate(mirror: Path) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for repo, (prefix, dirs) in _GO_SOURCES.items():
        git = ["git", "--git-dir", str(mirror / repo / "repo")]
        files = subprocess.run([*git, "ls-tree", "-r", "--name-only", _TAG],
                               check=True, capture_output=True, text=True).stdout.split()
        for d in dirs:
            pkg = f"io.k8s.{prefix}.{d.replace('/', '.')}"
            for f in files:
                rest = f.removeprefix(d + "/")
                if (rest == f or "/" in rest or not rest.endswith(".go") or rest.endswith("_test.go")
                        or rest.startswith(("zz_generated", "generated.pb"))):
                    continue
                text = subprocess.run([*git, "show", f"{_TAG}:{f}"],
                                      check=True, capture_output=True, text=True).stdout
                _go_facts(text, pkg, out)
    return out


if __name__ == "__main__":
    facts = generate(Path(sys.argv[1] if len(sys.argv) > 1 else "/work/.mirror"))
    # Special messages (Time, Duration, ...) marshal through their own JSON methods.
    facts = {k: v for k, v in sorted(facts.items()) if schema.has_message(k)
             and (k not in schema.SPECIAL or k == schema.CRD_SCHEMA_PROPS)}
    lines = ",\n".join(f"{json.dumps(k)}:{json.dumps(v, sort_keys=True, separators=(',', ':'))}"
                       for k, v in facts.items())
    _FACTS_FILE.write_text("{\n" + lines + "\n}\n")
    print(f"wrote Go facts for {len(facts)} messages to {_FACTS_FILE}")
