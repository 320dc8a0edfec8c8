"""Kubernetes resource quantities ("100m", "1.5Gi", "2e3"): exact parsing, arithmetic, printing.

The scheduler sums container requests with ``to_milli`` (cpu) and ``to_int`` (memory, bytes);
kubectl-top/metrics and validation parse and print with ``parse_quantity``/``format_quantity``.
Semantics follow apimachinery's ``resource.Quantity``:

* grammar ``[+-]<digits>[.<digits>]<suffix>``, suffix one of ``n u m "" k M G T P E``
  (decimal SI), ``Ki Mi Gi Ti Pi Ei`` (binary SI) or ``e<int>``/``E<int>`` (decimal exponent);
* the value is exact (a ``Fraction``), rounded *away from zero* to a multiple of 1n
  ("0.1n" -> "1n": asking for some resource never rounds to none); binary-SI magnitudes are
  capped at 2^63-1;
* the suffix family is remembered and the canonical print uses the largest exponent that keeps
  an integer mantissa: 1.5 -> "1500m", 1.5Gi -> "1536Mi", 0.5Gi -> "512Mi", 1000 -> "1k",
  binary values below 1024 or not integral print as decimal SI (100Mi/1000 ... -> "104857600m").

``to_milli``/``to_int`` are ceilings, like ``Quantity.MilliValue()``/``Value()``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache, total_ordering

DECIMAL_SI = "DecimalSI"
BINARY_SI = "BinarySI"
DECIMAL_EXPONENT = "DecimalExponent"

_DEC_SUFFIX = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DEC_BY_EXP = {e: s for s, e in _DEC_SUFFIX.items()}
_BIN_SUFFIX = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_BIN_BY_EXP = {0: "", **{e: s for s, e in _BIN_SUFFIX.items()}}
_SUFFIX_CHARS = frozenset("eEinumkKMGTP")
_NANO = Fraction(1, 10**9)
_MAX_INT64 = 2**63 - 1

ERR_FORMAT = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
ERR_NUMERIC = "unable to parse numeric part of quantity"
ERR_SUFFIX = "unable to parse quantity's suffix"


@total_ordering
@dataclass(frozen=True, slots=True, eq=False)
class Quantity:
    """An exact quantity and the suffix family it prints with. Compares by value only."""

    value: Fraction
    format: str = DECIMAL_SI

    def __str__(self) -> str:
        return format_quantity(self.value, self.format)

    def __repr__(self) -> str:
        return f"Quantity({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        o = _as_value(other)
        return NotImplemented if o is None else self.value == o

    def __lt__(self, other: object) -> bool:
        o = _as_value(other)
        if o is None:
            return NotImplemented
        return self.value < o

    def __hash__(self) -> int:
        return hash(self.value)

    def __add__(self, other: Quantity | int) -> Quantity:
        o = _as_value(other)
        if o is None:
            return NotImplemented
        # Like Quantity.Add: keep our format unless we are zero.
        fmt = self.format if self.value or not isinstance(other, Quantity) else other.format
        return Quantity(self.value + o, fmt)

    __radd__ = __add__

    def __sub__(self, other: Quantity | int) -> Quantity:
        o = _as_value(other)
        if o is None:
            return NotImplemented
        return Quantity(self.value - o, self.format)

    def __neg__(self) -> Quantity:
        return Quantity(-self.value, self.format)

    def __bool__(self) -> bool:
        return self.value != 0

    def milli(self) -> int:
        return math.ceil(self.value * 1000)

    def ceil(self) -> int:
        return math.ceil(self.value)


QuantityLike = Quantity | str | int | float | Fraction


def _as_value(x: object) -> Fraction | None:
    if isinstance(x, Quantity):
        return x.value
    if isinstance(x, bool):
        return None
    if isinstance(x, (int, Fraction)):
        return Fraction(x)
    return None


def parse_quantity(s: QuantityLike) -> Quantity:
    """Parse a quantity string (or a JSON number); ValueError if malformed."""
    if isinstance(s, Quantity):
        return s
    if isinstance(s, bool):
        raise ValueError(ERR_FORMAT)
    if isinstance(s, int):
        return _parse_str(str(s))
    if isinstance(s, float):
        if not math.isfinite(s):
            raise ValueError(ERR_NUMERIC)
        return _parse_str(repr(s))
    if isinstance(s, Fraction):
        return Quantity(_round_nano(s), DECIMAL_SI)
    if not isinstance(s, str):
        raise ValueError(ERR_FORMAT)
    return _parse_str(s)


@lru_cache(maxsize=4096)
def _parse_str(s: str) -> Quantity:
    if not s:
        raise ValueError(ERR_FORMAT)
    if s == "0":
        return Quantity(Fraction(0), DECIMAL_SI)
    positive, num, denom, suffix = _split(s)
    fmt, base, exponent = _interpret(suffix)
    mantissa = Fraction(int(num + denom) if (num + denom) else 0, 10 ** len(denom))
    value = mantissa * (Fraction(10) ** exponent if base == 10 else Fraction(2) ** exponent)
    value = _round_nano(value)
    if fmt == BINARY_SI and value > _MAX_INT64:
        value = Fraction(_MAX_INT64)
    if fmt == BINARY_SI and 0 < value < 1:
        fmt = DECIMAL_SI
    return Quantity(value if positive else -value, fmt)


def _split(s: str) -> tuple[bool, str, str, str]:
    """Split into (positive, integer digits, fraction digits, suffix) per Kubernetes' grammar."""
    pos, end = 0, len(s)
    positive = True
    if s[0] in "+-":
        positive = s[0] == "+"
        pos = 1
    while pos < end and s[pos] == "0":
        pos += 1
    if pos >= end:
        return positive, "0", "", ""
    start = pos
    while pos < end and "0" <= s[pos] <= "9":
        pos += 1
    num = s[start:pos] or "0"
    denom = ""
    if pos < end and s[pos] == ".":
        pos += 1
        dstart = pos
        while pos < end and "0" <= s[pos] <= "9":
            pos += 1
        denom = s[dstart:pos]
    suffix_start = pos
    while pos < end and s[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and s[pos] in "+-":
        pos += 1
    while pos < end and "0" <= s[pos] <= "9":
        pos += 1
    if pos < end:
        raise ValueError(ERR_FORMAT)
    return positive, num, denom, s[suffix_start:]


def _interpret(suffix: str) -> tuple[str, int, int]:
    if suffix in _DEC_SUFFIX:
        return DECIMAL_SI, 10, _DEC_SUFFIX[suffix]
    if suffix in _BIN_SUFFIX:
        return BINARY_SI, 2, _BIN_SUFFIX[suffix]
    if len(suffix) > 1 and suffix[0] in "eE":
        rest = suffix[1:]
        digits = rest[1:] if rest[0] in "+-" else rest
        if digits.isdigit() and digits.isascii():
            return DECIMAL_EXPONENT, 10, int(rest)
    raise ValueError(ERR_SUFFIX)


def _round_nano(v: Fraction) -> Fraction:
    """Round away from zero to a multiple of 10^-9."""
    if v.denominator == 1 or (10**9) % v.denominator == 0:
        return v
    scaled = v / _NANO
    n = math.ceil(scaled) if v > 0 else math.floor(scaled)
    return n * _NANO


def format_quantity(value: QuantityLike, format_hint: str = DECIMAL_SI) -> str:
    """The canonical string of ``value`` in the suffix family ``format_hint``."""
    if isinstance(value, Quantity):
        v = value.value
    elif isinstance(value, str):
        q = parse_quantity(value)
        v = q.value
    else:
        v = _round_nano(Fraction(value))
    if v == 0:
        return "0"
    fmt = format_hint if format_hint in (DECIMAL_SI, BINARY_SI, DECIMAL_EXPONENT) else DECIMAL_EXPONENT
    sign = "-" if v < 0 else ""
    mag = -v if v < 0 else v
    if fmt == BINARY_SI:
        if mag < 1024 or mag.denominator != 1:
            fmt = DECIMAL_SI
        else:
            n, exp = int(mag), 0
            while n % 1024 == 0 and exp < 60:
                n //= 1024
                exp += 10
            return f"{sign}{n}{_BIN_BY_EXP[exp]}"
    # Decimal: integer mantissa, exponent a multiple of 3, as large as possible.
    den = mag.denominator
    exp = 0
    n = mag.numerator
    while den != 1:  # den divides 10^9 after rounding: scale up by 10 until integral
        n *= 10
        exp -= 1
        g = math.gcd(n, den)
        n //= g
        den //= g
    while n % 10 == 0:
        n //= 10
        exp += 1
    while exp % 3:
        n *= 10
        exp -= 1
    if fmt == DECIMAL_EXPONENT:
        return f"{sign}{n}" + (f"e{exp}" if exp else "")
    if exp > 18:  # beyond "E": keep the largest suffix and a longer mantissa
        n *= 10 ** (exp - 18)
        exp = 18
    return f"{sign}{n}{_DEC_BY_EXP[exp]}"


def canonical(s: QuantityLike) -> str:
    """Parse and re-print in canonical form ("1.5" -> "1500m", "1024Mi" -> "1Gi")."""
    return str(parse_quantity(s))


def to_milli(q: QuantityLike) -> int:
    """ceil(q * 1000): millicores for cpu."""
    return math.ceil(parse_quantity(q).value * 1000)


def to_int(q: QuantityLike) -> int:
    """ceil(q): bytes for memory, counts for everything else."""
    return math.ceil(parse_quantity(q).value)


def compare(a: QuantityLike, b: QuantityLike) -> int:
    """-1, 0 or 1 as ``a`` is less than, equal to or greater than ``b``."""
    va, vb = parse_quantity(a).value, parse_quantity(b).value
    return (va > vb) - (va < vb)


def is_valid(s: object) -> bool:
    try:
        parse_quantity(s)  # type: ignore[arg-type]
    except ValueError:
        return False
    return True
