"""Size strings must parse and print exactly as AIStore's `cos.ParseSize` / `cos.ToSizeIEC`."""

from __future__ import annotations

import pytest

from ais_ray.core.errors import ErrBadRequest, ErrInvalidSize
from ais_ray.core.sizes import GIB, KIB, MIB, TIB, format_size, parse_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("512", 512),
        ("1048576", 1048576),
        ("+7", 7),
        ("10b", 10),
        ("10B", 10),
        # SI suffixes, with or without B, any case
        ("1k", 1000),
        ("1K", 1000),
        ("1kb", 1000),
        ("4mb", 4_000_000),
        ("4MB", 4_000_000),
        ("4m", 4_000_000),
        ("2g", 2_000_000_000),
        ("2gb", 2_000_000_000),
        ("1tb", 10**12),
        ("1t", 10**12),
        # IEC suffixes, with or without B
        ("1ki", KIB),
        ("1KiB", KIB),
        ("1kib", KIB),
        ("128KiB", 128 * KIB),
        ("1MiB", MIB),
        ("1mi", MIB),
        ("4MiB", 4 * MIB),
        ("3GiB", 3 * GIB),
        ("2Ti", 2 * TIB),
        # fractions truncate like Go's int64(f * mult)
        ("1.5k", 1500),
        ("1.5KiB", 1536),
        ("0.5MiB", MIB // 2),
        (".5mb", 500_000),
        ("2.mb", 2_000_000),
        ("1.0000001k", 1000),
        ("1.5", 1),
        ("1.5e3", 1500),
        # surrounding spaces are trimmed (Go strings.TrimSpace)
        ("  16MiB\t", 16 * MIB),
    ],
)
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


def test_parse_size_int_passthrough() -> None:
    assert parse_size(0) == 0
    assert parse_size(4 * MIB) == 4 * MIB


def test_units_iec_reads_si_suffix_as_binary() -> None:
    # cos.ParseSize(s, cos.UnitsIEC): the units argument wins over an SI suffix (config values)
    assert parse_size("4mb", units="iec") == 4 * MIB
    assert parse_size("1k", units="iec") == KIB
    assert parse_size("1MiB", units="iec") == MIB
    assert parse_size("4mb", units="si") == 4_000_000
    assert parse_size("100", units="raw") == 100
    assert parse_size("100b", units="raw") == 100


@pytest.mark.parametrize(
    ("text", "units", "match"),
    [
        ("1MiB", "si", "IEC suffix conflicts"),
        ("1MiB", "raw", "IEC suffix conflicts"),
        ("1mb", "raw", "SI suffix conflicts"),
        ("1", "bits", "invalid units"),
    ],
)
def test_units_conflicts(text: str, units: str, match: str) -> None:
    with pytest.raises(ErrInvalidSize, match=match):
        parse_size(text, units=units)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", 'invalid size ""'),
        ("   ", "invalid size"),
        ("abc", '"abc"'),
        ("-1", "must not be negative"),
        ("-5mb", "must not be negative"),
        ("-0.5k", "must not be negative"),
        ("1.5.5mb", '"1.5.5mb"'),
        ("mb", "is not a number"),
        ("b", "is not a number"),
        ("10 MB", "is not a number"),  # Go: ParseInt("10 ") fails too
        ("1_000", "is not a number"),
        ("0x10", "is not a number"),
        ("1e3", "is not a number"),  # no '.', so Go takes ParseInt, which fails
        ("10IB", "is not a number"),
        ("1kk", "is not a number"),
        ("١٢٣", "is not a number"),  # non-ASCII digits
        ("9223372036854775808", "larger than"),
        ("9000000000000000000000000000", "larger than"),
        ("10000000000tib", "larger than"),
        ("1" * 5000, "larger than"),
        ("1.0e400", "larger than"),
    ],
)
def test_parse_size_errors(text: str, match: str) -> None:
    with pytest.raises(ErrInvalidSize, match=match):
        parse_size(text)


def test_parse_size_error_types() -> None:
    with pytest.raises(ErrInvalidSize, match="must not be negative"):
        parse_size(-1)
    with pytest.raises(ErrInvalidSize):
        parse_size(True)
    assert issubclass(ErrInvalidSize, ErrBadRequest) and ErrInvalidSize.status == 400


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (0, "0B"),
        (512, "512B"),
        (1023, "1023B"),
        (1024, "1.00KiB"),
        (1536, "1.50KiB"),
        (1152, "1.12KiB"),  # exactly 1.125: round half to even, as Go's strconv does
        (20 * MIB, "20.00MiB"),
        (1953349632, "1.82GiB"),  # the ubuntu ISO of the downloader docs
        (5 * TIB, "5.00TiB"),
        (1024 * TIB, "1024.00TiB"),
        # float32 quotient, as Go's ToSizeIEC: the exact ratio is 446.245005..., float32 gives 446.24499...
        (479151926517, "446.24GiB"),
        (-5, "-5B"),
    ],
)
def test_format_size(n: int, expected: str) -> None:
    assert format_size(n) == expected


def test_format_size_digits() -> None:
    assert format_size(1953349632, 0) == "2GiB"
    assert format_size(1953349632, 1) == "1.8GiB"
    assert format_size(1953349632, 3) == "1.819GiB"


def test_round_trip_through_iec_strings() -> None:
    for n in (KIB, 3 * MIB, 7 * GIB, 2 * TIB):
        assert parse_size(format_size(n)) == n
