"""Label and field selectors: parsing, matching, printing.

The API server parses ``?labelSelector=`` / ``?fieldSelector=`` once per list or watch and then
calls ``.matches`` on every object and every watch event, so matching is a tight loop over
pre-compiled requirements; parsing is cached. Controllers turn a ``spec.selector``
(``metav1.LabelSelector``) into a matcher with ``from_label_selector`` and print it with
``selector_to_string`` (the form of ``Scale.status.selector`` and of kubectl's describe).

Grammar and error wording follow apimachinery ``labels.Parse`` and ``fields.ParseSelector``::

    app=web, tier in (a,b), !canary, env!=prod, track      # labels: comma = AND
    metadata.name=web,status.phase!=Running                # fields: =, ==, !=; \\, \\= \\\\ escapes

Invalid input raises ``StatusError`` 400 with Kubernetes' message, e.g.
``unable to parse requirement: found '', expected: '('``.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from kubelite.api.helpers.names import is_qualified_name, is_valid_label_value
from kubelite.machinery.errors import StatusError, bad_request

# ---------------------------------------------------------------------------------------------
# label requirements

IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS = "in", "notin", "=", "==", "!="
EXISTS, DOES_NOT_EXIST, GREATER_THAN, LESS_THAN = "exists", "!", "gt", "lt"
_VALID_OPS = ["!", "=", "==", "in", "!=", "notin", "exists", "gt", "lt"]


@dataclass(frozen=True, slots=True)
class Requirement:
    """One label requirement: ``key op values`` (values sorted, as Kubernetes keeps them).

    ``matches`` runs for every object of a list or watch and, through node affinity, for every
    pod x node in the scheduler's Filter, so the value set and a Gt/Lt operand are computed
    once here (they take no part in equality or hashing)."""

    key: str
    operator: str
    values: tuple[str, ...] = ()
    _set: frozenset[str] = field(default=frozenset(), init=False, repr=False, compare=False)
    _num: int | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_set", frozenset(self.values))
        if self.operator in (GREATER_THAN, LESS_THAN) and len(self.values) == 1:
            with contextlib.suppress(ValueError):
                object.__setattr__(self, "_num", _go_int(self.values[0]))

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op is IN or op in (EQUALS, DOUBLE_EQUALS, IN):  # `is`: the parser's and node affinity's own constant
            v = labels.get(self.key)
            return v is not None and v in self._set
        if op in (NOT_EQUALS, NOT_IN):
            v = labels.get(self.key)
            return v is None or v not in self._set
        if op == EXISTS:
            return self.key in labels
        if op == DOES_NOT_EXIST:
            return self.key not in labels
        v = labels.get(self.key)
        rv = self._num
        if v is None or rv is None:
            return False
        if v.isdigit() and v.isascii() and len(v) < 19:  # the common case, surely an int64
            lv = int(v)
        else:
            try:
                lv = _go_int(v)
            except ValueError:
                return False
        return lv > rv if op == GREATER_THAN else lv < rv

    def __str__(self) -> str:
        op = self.operator
        if op == EXISTS:
            return self.key
        if op == DOES_NOT_EXIST:
            return "!" + self.key
        vals = ",".join(sorted(self.values))
        if op in (IN, NOT_IN):
            return f"{self.key} {op} ({vals})"
        sym = {GREATER_THAN: ">", LESS_THAN: "<"}.get(op, op)
        return f"{self.key}{sym}{vals}"


class LabelSelector:
    """A conjunction of label requirements. ``LabelSelector.nothing()`` matches no object."""

    __slots__ = ("_exact", "_nothing", "_rest", "requirements")

    def __init__(self, requirements: Iterable[Requirement] = (), *, nothing: bool = False) -> None:
        reqs = sorted(requirements, key=lambda r: r.key)
        self.requirements: tuple[Requirement, ...] = tuple(reqs)
        self._nothing = nothing
        # Split equality requirements out: the common case (app=web) is a dict lookup.
        self._exact = tuple((r.key, r.values[0]) for r in reqs
                            if r.operator in (EQUALS, DOUBLE_EQUALS) and len(r.values) == 1)
        self._rest = tuple(r for r in reqs
                           if not (r.operator in (EQUALS, DOUBLE_EQUALS) and len(r.values) == 1))

    @classmethod
    def everything(cls) -> LabelSelector:
        return cls()

    @classmethod
    def nothing(cls) -> LabelSelector:
        return cls(nothing=True)

    @property
    def empty(self) -> bool:
        """True when the selector selects everything."""
        return not self._nothing and not self.requirements

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self._nothing:
            return False
        if labels is None:
            labels = {}
        for key, value in self._exact:
            if labels.get(key) != value:
                return False
        for r in self._rest:
            if not r.matches(labels):
                return False
        return True

    def requires_exact_match(self, key: str) -> str | None:
        """The value ``key`` must equal for a match (``app=web`` -> "web"), else None."""
        for r in self.requirements:
            if r.key == key and r.operator in (EQUALS, DOUBLE_EQUALS, IN) and len(r.values) == 1:
                return r.values[0]
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)

    def __repr__(self) -> str:
        return "LabelSelector(<nothing>)" if self._nothing else f"LabelSelector({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, LabelSelector) and self._nothing == other._nothing
                and self.requirements == other.requirements)

    def __hash__(self) -> int:
        return hash((self._nothing, self.requirements))


def _go_quote(s: str) -> str:
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _invalid(path: str, value: str | list[str], detail: str) -> str:
    if isinstance(value, list):
        shown = "[]string{" + ", ".join(_go_quote(v) for v in value) + "}"
    else:
        shown = _go_quote(value)
    return f"{path}: Invalid value: {shown}: {detail}"


def _go_int(s: str) -> int:
    t = s[1:] if s[:1] in "+-" else s
    if not t or not t.isdigit() or not t.isascii():
        raise ValueError(s)
    v = int(s)
    if not -(2**63) <= v < 2**63:
        raise ValueError(s)
    return v


def new_requirement(key: str, op: str, values: list[str]) -> Requirement:
    """Validate and build a requirement (labels.NewRequirement); 400 with its message if invalid."""
    errs: list[str] = []
    if kerrs := is_qualified_name(key):
        errs.append(_invalid("key", key, "; ".join(kerrs)))
    if op in (IN, NOT_IN):
        if not values:
            errs.append(_invalid("values", values, "for 'in', 'notin' operators, values set can't be empty"))
    elif op in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS):
        if len(values) != 1:
            errs.append(_invalid("values", values, "exact-match compatibility requires one single value"))
    elif op in (EXISTS, DOES_NOT_EXIST):
        if values:
            errs.append(_invalid("values", values, "values set must be empty for exists and does not exist"))
    elif op in (GREATER_THAN, LESS_THAN):
        if len(values) != 1:
            errs.append(_invalid("values", values, "for 'Gt', 'Lt' operators, exactly one value is required"))
        for i, v in enumerate(values):
            try:
                _go_int(v)
            except ValueError:
                errs.append(_invalid(f"values[{i}]", v, "for 'Gt', 'Lt' operators, the value must be an integer"))
    else:
        supported = ", ".join(f'"{o}"' for o in _VALID_OPS)
        errs.append(f"operator: Unsupported value: {_go_quote(op)}: supported values: {supported}")
    for i, v in enumerate(values):
        if verrs := is_valid_label_value(v):
            errs.append(_invalid(f"values[{i}][{key}]", v, "; ".join(verrs)))
    if errs:
        raise bad_request(errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]")
    return Requirement(key, op, tuple(sorted(set(values))) if op in (IN, NOT_IN) else tuple(values))


# ---------------------------------------------------------------------------------------------
# label selector string parser (lexer + recursive descent, as labels.Parse)

_ERR, _EOS, _CLOSE, _COMMA, _NOT, _DEQ, _EQ, _GT, _ID, _IN, _LT, _NEQ, _NOTIN, _OPEN = range(14)
_TOKENS = {")": _CLOSE, ",": _COMMA, "!": _NOT, "==": _DEQ, "=": _EQ, ">": _GT, "in": _IN,
           "<": _LT, "!=": _NEQ, "notin": _NOTIN, "(": _OPEN}
_SPECIAL = frozenset("=!(),><")
_SPACE = frozenset(" \t\r\n")


def _lex(s: str) -> list[tuple[int, str]]:
    items: list[tuple[int, str]] = []
    pos, n = 0, len(s)
    while True:
        while pos < n and s[pos] in _SPACE:
            pos += 1
        if pos >= n:
            items.append((_EOS, ""))
            return items
        if s[pos] in _SPECIAL:
            buf, last = "", None
            while pos < n and s[pos] in _SPECIAL:
                cand = buf + s[pos]
                if cand in _TOKENS:
                    buf, last = cand, (_TOKENS[cand], cand)
                    pos += 1
                elif last is not None:
                    break
                else:
                    buf = cand
                    pos += 1
            items.append(last if last is not None else (_ERR, f"error expected: keyword found '{buf}'"))
        else:
            start = pos
            while pos < n and s[pos] not in _SPECIAL and s[pos] not in _SPACE:
                pos += 1
            word = s[start:pos]
            items.append((_TOKENS.get(word, _ID), word))


class _Parser:
    def __init__(self, s: str) -> None:
        self.items = _lex(s)
        self.pos = 0

    def peek(self, values: bool = True) -> tuple[int, str]:
        tok, lit = self.items[self.pos]
        if values and tok in (_IN, _NOTIN):
            tok = _ID
        return tok, lit

    def take(self, values: bool = True) -> tuple[int, str]:
        r = self.peek(values)
        self.pos += 1
        return r

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            tok, lit = self.peek()
            if tok in (_ID, _NOT):
                try:
                    reqs.append(self.requirement())
                except StatusError as e:
                    raise bad_request(f"unable to parse requirement: {e.message}") from None
                t, lit2 = self.take()
                if t == _EOS:
                    return reqs
                if t == _COMMA:
                    t2, lit3 = self.peek()
                    if t2 not in (_ID, _NOT):
                        raise bad_request(f"found '{lit3}', expected: identifier after ','")
                    continue
                raise bad_request(f"found '{lit2}', expected: ',' or 'end of string'")
            if tok == _EOS:
                return reqs
            raise bad_request(f"found '{lit}', expected: !, identifier, or 'end of string'")

    def requirement(self) -> Requirement:
        op = ""
        tok, lit = self.take()
        if tok == _NOT:
            op = DOES_NOT_EXIST
            tok, lit = self.take()
        if tok != _ID:
            raise bad_request(f"found '{lit}', expected: identifier")
        if kerrs := is_qualified_name(lit):
            raise bad_request(_invalid("<nil>", lit, "; ".join(kerrs)))
        key = lit
        if op == DOES_NOT_EXIST:
            # "!a=b" fails later, at the "=": a negated key takes no operator.
            return new_requirement(key, DOES_NOT_EXIST, [])
        if self.peek()[0] in (_EOS, _COMMA):
            return new_requirement(key, EXISTS, [])
        tok, lit = self.take(values=False)
        ops = {_IN: IN, _EQ: EQUALS, _DEQ: DOUBLE_EQUALS, _GT: GREATER_THAN, _LT: LESS_THAN,
               _NOTIN: NOT_IN, _NEQ: NOT_EQUALS}
        if tok not in ops:
            raise bad_request(f"found '{lit}', expected: in, notin, =, ==, !=, gt, lt")
        op = ops[tok]
        values = self.set_values() if op in (IN, NOT_IN) else self.exact_value()
        return new_requirement(key, op, sorted(values))

    def set_values(self) -> set[str]:
        tok, lit = self.take()
        if tok != _OPEN:
            raise bad_request(f"found '{lit}' expected: '('")
        tok, lit = self.peek()
        if tok in (_ID, _COMMA):
            s = self.identifiers()
            if self.take()[0] != _CLOSE:
                raise bad_request(f"found '{lit}', expected: ')'")
            return s
        if tok == _CLOSE:
            self.take()
            return {""}
        raise bad_request(f"found '{lit}', expected: ',', ')' or identifier")

    def identifiers(self) -> set[str]:
        s: set[str] = set()
        while True:
            tok, lit = self.take()
            if tok == _ID:
                s.add(lit)
                t2, l2 = self.peek()
                if t2 == _COMMA:
                    continue
                if t2 == _CLOSE:
                    return s
                raise bad_request(f"found '{l2}', expected: ',' or ')'")
            if tok == _COMMA:
                if not s:
                    s.add("")  # "(,"
                t2, _ = self.peek()
                if t2 == _CLOSE:
                    s.add("")  # ",)"
                    return s
                if t2 == _COMMA:
                    self.take()
                    s.add("")  # ",,"
                continue
            raise bad_request(f"found '{lit}', expected: ',', or identifier")

    def exact_value(self) -> set[str]:
        tok, _ = self.peek()
        if tok in (_EOS, _COMMA):
            return {""}
        tok, lit = self.take()
        if tok == _ID:
            return {lit}
        raise bad_request(f"found '{lit}', expected: identifier")


@lru_cache(maxsize=1024)
def _parse_cached(s: str) -> LabelSelector:
    return LabelSelector(_Parser(s).parse())


def parse_label_selector(s: str) -> LabelSelector:
    """Parse a ``?labelSelector=`` string; "" selects everything. 400 StatusError if invalid."""
    if not s:
        return LabelSelector()
    return _parse_cached(s)


def from_label_selector(obj: Mapping[str, Any] | None) -> LabelSelector:
    """A matcher for a ``metav1.LabelSelector`` dict: None matches nothing, {} everything."""
    if obj is None:
        return LabelSelector.nothing()
    match_labels = obj.get("matchLabels") or {}
    exprs = obj.get("matchExpressions") or []
    if not match_labels and not exprs:
        return LabelSelector()
    reqs = [new_requirement(k, EQUALS, [v if isinstance(v, str) else str(v)]) for k, v in match_labels.items()]
    ops = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}
    for e in exprs:
        raw = e.get("operator")
        if raw not in ops:
            raise bad_request(f'"{raw}" is not a valid label selector operator')
        reqs.append(new_requirement(str(e.get("key", "")), ops[raw], list(e.get("values") or [])))
    return LabelSelector(reqs)


def selector_to_string(obj: Mapping[str, Any] | None) -> str:
    """``app=web,tier in (a,b)``: the printed form of a ``metav1.LabelSelector`` ("" if empty)."""
    return str(from_label_selector(obj))


def selector_from_labels(labels: Mapping[str, str]) -> LabelSelector:
    """The selector matching exactly these labels (labels.SelectorFromSet)."""
    return LabelSelector(Requirement(k, EQUALS, (v,)) for k, v in labels.items())


# ---------------------------------------------------------------------------------------------
# field selectors

@dataclass(frozen=True, slots=True)
class FieldRequirement:
    field: str
    operator: str  # "=" (also for "==") or "!="
    value: str

    def __str__(self) -> str:
        return f"{self.field}{'!=' if self.operator == NOT_EQUALS else '='}{escape_field_value(self.value)}"


class FieldSelector:
    """A conjunction of ``field=value`` / ``field!=value`` terms over a flat field map."""

    __slots__ = ("requirements",)

    def __init__(self, requirements: Iterable[FieldRequirement] = ()) -> None:
        self.requirements: tuple[FieldRequirement, ...] = tuple(requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, fields: Mapping[str, str]) -> bool:
        # A missing field reads as "" (fields.Set.Get).
        for r in self.requirements:
            if (fields.get(r.field, "") == r.value) != (r.operator == EQUALS):
                return False
        return True

    def requires_exact_match(self, field: str) -> str | None:
        for r in self.requirements:
            if r.field == field and r.operator == EQUALS:
                return r.value
        return None

    def fields(self) -> set[str]:
        return {r.field for r in self.requirements}

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)

    def __repr__(self) -> str:
        return f"FieldSelector({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FieldSelector) and self.requirements == other.requirements

    def __hash__(self) -> int:
        return hash(self.requirements)


def escape_field_value(s: str) -> str:
    """fields.EscapeValue: backslash-escape ``\\``, ``,`` and ``=``."""
    return s.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def unescape_field_value(s: str) -> str:
    if not any(c in s for c in "\\,="):
        return s
    out: list[str] = []
    slash = False
    for c in s:
        if slash:
            if c not in "\\,=":
                raise bad_request(f"invalid field selector: invalid escape sequence: \\{c}")
            out.append(c)
            slash = False
        elif c == "\\":
            slash = True
        elif c in ",=":
            raise bad_request(f"invalid field selector: unescaped character in value: {ord(c)}")
        else:
            out.append(c)
    if slash:
        raise bad_request("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def _split_terms(s: str) -> list[str]:
    terms, start, slash = [], 0, False
    for i, c in enumerate(s):
        if slash:
            slash = False
        elif c == "\\":
            slash = True
        elif c == ",":
            terms.append(s[start:i])
            start = i + 1
    terms.append(s[start:])
    return terms


@lru_cache(maxsize=1024)
def _parse_fields_cached(s: str) -> FieldSelector:
    reqs: list[FieldRequirement] = []
    for part in sorted(_split_terms(s)):
        if not part:
            continue
        for i in range(len(part)):
            rest = part[i:]
            op = next((o for o in ("!=", "==", "=") if rest.startswith(o)), None)
            if op:
                lhs, rhs = part[:i], part[i + len(op):]
                break
        else:
            raise bad_request(f"invalid selector: '{s}'; can't understand '{part}'")
        reqs.append(FieldRequirement(lhs, NOT_EQUALS if op == "!=" else EQUALS, unescape_field_value(rhs)))
    return FieldSelector(reqs)


def parse_field_selector(s: str) -> FieldSelector:
    """Parse a ``?fieldSelector=`` string; "" selects everything. 400 StatusError if invalid."""
    if not s:
        return FieldSelector()
    return _parse_fields_cached(s)
