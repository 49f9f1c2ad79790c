"""Durations must parse like Go `time.ParseDuration` (plus bare seconds) and print like `Duration.String`."""

from __future__ import annotations

import pytest

from ais_ray.core.durations import format_duration, parse_duration
from ais_ray.core.errors import ErrInvalidDuration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0.0),
        ("+0", 0.0),
        ("-0", 0.0),
        ("0s", 0.0),
        ("10s", 10.0),
        ("1m", 60.0),
        ("1h30m", 5400.0),
        ("1.5h", 5400.0),
        ("2m3.5s", 123.5),
        ("500ms", 0.5),
        ("300us", 0.0003),
        ("300\u00b5s", 0.0003),  # micro sign
        ("300\u03bcs", 0.0003),  # Greek mu
        ("7ns", 7e-9),
        ("1h1m1s1ms1us1ns", 3661.001001001),
        ("+5s", 5.0),
        (".5s", 0.5),
        ("1.s", 1.0),
        ("1.0000000001s", 1.0),  # Go keeps whole nanoseconds
        ("2562047h", 2562047 * 3600.0),  # near Go's ~292-year limit
        # bare numbers are seconds, as the ais CLI's duration flags read them
        ("10", 10.0),
        ("1.5", 1.5),
        (".25", 0.25),
        ("007", 7.0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds, abs=1e-12)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", 'invalid duration ""'),
        ("s", 'invalid duration "s"'),
        (".", 'invalid duration "."'),
        (".s", 'invalid duration ".s"'),
        ("-", 'invalid duration "-"'),
        ("1d", 'unknown unit "d"'),
        ("10sec", 'unknown unit "sec"'),
        ("5 s", 'unknown unit " s"'),
        ("1h30", "missing unit"),
        ("1e3s", 'unknown unit "e"'),
        (" 10s", "invalid duration"),
        ("1.5.5s", "missing unit"),
        ("-1s", "must not be negative"),
        ("-10", "must not be negative"),
        ("-1h30m", "must not be negative"),
        ("2562048h", "out of range"),
        ("99999999999999999999999h", "out of range"),
        ("1" * 5000 + "s", "out of range"),
    ],
)
def test_parse_duration_errors(text: str, match: str) -> None:
    with pytest.raises(ErrInvalidDuration, match=match):
        parse_duration(text)


def test_parse_duration_rejects_non_strings() -> None:
    with pytest.raises(ErrInvalidDuration):
        parse_duration(10)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (90, "1m30s"),
        (0.5, "500ms"),
        (1.5, "1.5s"),
        (3600, "1h0m0s"),
        (5400, "1h30m0s"),
        (61.5, "1m1.5s"),
        (10, "10s"),
        (0.0003, "300\u00b5s"),
        (1.5e-6, "1.5\u00b5s"),
        (7e-9, "7ns"),
        (123.456789, "2m3.456789s"),
        (100 * 3600 + 1, "100h0m1s"),
        (-90, "-1m30s"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize("text", ["1h30m0s", "500ms", "2m3.5s", "10s", "1.5\u00b5s", "7ns", "100h0m1s"])
def test_round_trip(text: str) -> None:
    assert format_duration(parse_duration(text)) == text


def test_format_nano_time_in_each_listing_layout() -> None:
    """AIStore's `time_format` layouts: RFC822 by default (to the minute), S3's ISO8601 to the
    millisecond, RFC1123 with GMT to the second; a float stamp is taken as its whole nanoseconds."""
    from ais_ray.core.durations import ISO8601, RFC822, RFC1123GMT, format_nano_time

    ns = 1_796_586_743_898_391_413  # 2026-12-06 19:52:23.898391413 UTC, a Sunday
    assert format_nano_time(ns) == format_nano_time(ns, RFC822) == "06 Dec 26 19:52 UTC"
    assert format_nano_time(ns, ISO8601) == "2026-12-06T19:52:23.898Z"
    assert format_nano_time(ns, RFC1123GMT) == "Sun, 06 Dec 2026 19:52:23 GMT"
    assert format_nano_time(1.5e9, ISO8601) == "1970-01-01T00:00:01.500Z"  # a float stamp: no format error
    assert format_nano_time(0, ISO8601) == "1970-01-01T00:00:00.000Z"
    assert format_nano_time(999_999, ISO8601) == "1970-01-01T00:00:00.000Z"  # truncated, never rounded up
    assert format_nano_time(1_999_999_999, ISO8601) == "1970-01-01T00:00:01.999Z"
