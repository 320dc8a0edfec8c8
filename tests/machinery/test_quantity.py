"""Resource quantities: parsing, canonical printing, milli/int conversion, ordering."""
from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubelite.machinery.quantity import (
    BINARY_SI,
    DECIMAL_EXPONENT,
    DECIMAL_SI,
    Quantity,
    canonical,
    compare,
    format_quantity,
    parse_quantity,
    to_int,
    to_milli,
)


@pytest.mark.parametrize("text,value,fmt,printed", [
    ("100m", Fraction(1, 10), DECIMAL_SI, "100m"),
    ("1", 1, DECIMAL_SI, "1"),
    ("0", 0, DECIMAL_SI, "0"),
    ("0.5", Fraction(1, 2), DECIMAL_SI, "500m"),
    ("1.5", Fraction(3, 2), DECIMAL_SI, "1500m"),
    ("1Gi", 2**30, BINARY_SI, "1Gi"),
    ("500Mi", 500 * 2**20, BINARY_SI, "500Mi"),
    ("1024Mi", 2**30, BINARY_SI, "1Gi"),
    ("1.5Gi", 3 * 2**29, BINARY_SI, "1536Mi"),
    ("0.5Gi", 2**29, BINARY_SI, "512Mi"),
    ("1023Ki", 1023 * 1024, BINARY_SI, "1023Ki"),
    ("0.5Ki", 512, BINARY_SI, "512"),          # below 1024: printed as decimal SI
    ("0.1Ki", Fraction(1024, 10), BINARY_SI, "102400m"),
    ("1e3", 1000, DECIMAL_EXPONENT, "1e3"),
    ("12e6", 12_000_000, DECIMAL_EXPONENT, "12e6"),
    ("1.5e3", 1500, DECIMAL_EXPONENT, "1500"),
    ("1E3", 1000, DECIMAL_EXPONENT, "1e3"),
    ("2k", 2000, DECIMAL_SI, "2k"),
    ("1000", 1000, DECIMAL_SI, "1k"),
    ("1.5G", 1_500_000_000, DECIMAL_SI, "1500M"),
    ("1E", 10**18, DECIMAL_SI, "1E"),
    ("+1", 1, DECIMAL_SI, "1"),
    ("-1.5", Fraction(-3, 2), DECIMAL_SI, "-1500m"),
    ("-1Ki", -1024, BINARY_SI, "-1Ki"),
    ("0.1n", Fraction(1, 10**9), DECIMAL_SI, "1n"),   # rounded up to the nano scale
    ("-0.1n", Fraction(-1, 10**9), DECIMAL_SI, "-1n"),
    ("0.0001", Fraction(1, 10**4), DECIMAL_SI, "100u"),
    (".5", Fraction(1, 2), DECIMAL_SI, "500m"),
    ("1.", 1, DECIMAL_SI, "1"),
    ("007", 7, DECIMAL_SI, "7"),
    ("8Ei", 2**63 - 1, BINARY_SI, "9223372036854775807"),  # binary SI is capped at int64
])
def test_parse_and_print(text, value, fmt, printed):
    q = parse_quantity(text)
    assert q.value == value
    assert q.format == fmt
    assert str(q) == printed
    assert canonical(text) == printed


@pytest.mark.parametrize("text", ["", "abc", "1KiB", "1e", "1.2.3", " 1", "1 ", "--1", "1x", "1i", "1e3.5"])
def test_invalid(text):
    with pytest.raises(ValueError):
        parse_quantity(text)


@pytest.mark.parametrize("q,milli,whole", [
    ("100m", 100, 1), ("1", 1000, 1), ("250m", 250, 1), ("1.5", 1500, 2), ("2", 2000, 2),
    ("1Gi", 1073741824000, 1073741824), ("128Mi", 134217728000, 134217728),
    ("1n", 1, 1), ("0", 0, 0), ("-1500m", -1500, -1), (3, 3000, 3), (0.5, 500, 1),
])
def test_to_milli_and_to_int(q, milli, whole):
    assert to_milli(q) == milli
    assert to_int(q) == whole


def test_bare_suffix_is_zero_like_kubernetes():
    # apimachinery reads a missing number as 0: "Gi" and "m" are valid (zero) quantities.
    assert parse_quantity("Gi").value == 0 and parse_quantity("m").value == 0


def test_ordering_and_arithmetic():
    assert parse_quantity("1Gi") > parse_quantity("1G")
    assert parse_quantity("1000m") == parse_quantity("1")
    assert sorted(parse_quantity(s) for s in ["1", "500m", "2k", "1Ki"]) == \
        [parse_quantity(s) for s in ["500m", "1", "1Ki", "2k"]]
    assert compare("100m", "0.1") == 0 and compare("1", "2") == -1 and compare("1Mi", "1M") == 1
    total = parse_quantity("100Mi") + parse_quantity("412Mi")
    assert str(total) == "512Mi" and total.format == BINARY_SI
    assert str(Quantity(Fraction(0)) + parse_quantity("1Gi")) == "1Gi"
    assert str(parse_quantity("1") - parse_quantity("250m")) == "750m"
    assert hash(parse_quantity("1k")) == hash(parse_quantity("1000"))


def test_format_quantity_hints():
    assert format_quantity(1536, BINARY_SI) == "1536"  # not a multiple of 1024: decimal
    assert format_quantity(2048, BINARY_SI) == "2Ki"
    assert format_quantity(Fraction(3, 2), DECIMAL_SI) == "1500m"
    assert format_quantity(1500, DECIMAL_EXPONENT) == "1500"
    assert format_quantity(1_500_000, DECIMAL_EXPONENT) == "1500e3"
    assert format_quantity(10**21, DECIMAL_SI) == "1000E"
    assert format_quantity("1.5Gi", DECIMAL_SI) == "1610612736"


def test_json_numbers_parse():
    assert parse_quantity(2).value == 2
    assert parse_quantity(0.25).value == Fraction(1, 4)
    with pytest.raises(ValueError):
        parse_quantity(True)  # type: ignore[arg-type]


# --- properties -------------------------------------------------------------------------------

nano_values = st.integers(min_value=-(10**15), max_value=10**15).map(lambda n: Fraction(n, 10**9))


@settings(max_examples=300, deadline=None)
@given(nano_values, st.sampled_from([DECIMAL_SI, BINARY_SI, DECIMAL_EXPONENT]))
def test_print_parse_round_trip(value, fmt):
    text = format_quantity(value, fmt)
    q = parse_quantity(text)
    assert q.value == value
    assert format_quantity(q.value, q.format) == str(q)
    assert canonical(text) == str(q)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=2**50), st.sampled_from(["", "Ki", "Mi", "Gi", "m", "k", "M", "G"]))
def test_integer_suffix_forms_parse_exactly(n, suffix):
    q = parse_quantity(f"{n}{suffix}")
    scale = {"": 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "m": Fraction(1, 1000), "k": 10**3,
             "M": 10**6, "G": 10**9}[suffix]
    expected = min(n * scale, 2**63 - 1) if suffix.endswith("i") else n * scale
    assert q.value == expected
    assert to_milli(q) >= q.value * 1000 > to_milli(q) - 1
