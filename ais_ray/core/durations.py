"""Durations ("1h30m", "500ms", "10s") parsed and printed the way Go's `time` package does.

AIStore carries every timeout on the wire as a Go duration string (download `timeout`,
`progress_interval`, ETL `obj_timeout`), so we accept exactly Go `time.ParseDuration`
syntax, plus a bare number meaning seconds, as the `ais` CLI does for its duration flags
("s (default)" in `cmd/cli/cli/const.go`). Printing follows Go `Duration.String`.
"""

from __future__ import annotations

import email.utils
import time

from ais_ray.core.errors import ErrInvalidDuration

_NS_PER_SEC = 1_000_000_000
_MAX_NS = (1 << 63) - 1  # Go's Duration is an int64 count of nanoseconds
_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign
    "\u03bcs": 1_000,  # Greek mu
    "ms": 1_000_000,
    "s": _NS_PER_SEC,
    "m": 60 * _NS_PER_SEC,
    "h": 3600 * _NS_PER_SEC,
}
_DIGITS = frozenset("0123456789")
_HINT = 'expecting e.g. "10s", "1m30s", "500ms" or "1.5h" (units: ns, us, ms, s, m, h)'


def parse_duration(s: str) -> float:
    """Return the number of seconds `s` stands for.

    Accepted: Go duration syntax, a sequence of decimal numbers each with a unit
    ("1h30m", "2m3.5s", "300us"), or a bare decimal number of seconds ("10", "1.5").
    Precision is Go's: whole nanoseconds, fractions truncated.

    Raises:
        ErrInvalidDuration: empty, malformed, unknown unit, negative, or beyond Go's ~292 years.
    """
    if not isinstance(s, str):
        raise ErrInvalidDuration(f"invalid duration {s!r}: {_HINT}")
    ns = _parse_ns(s) if not _is_bare_number(s) else _parse_ns(s + "s")
    if ns < 0:
        raise ErrInvalidDuration(f'invalid duration "{s}": must not be negative')
    return ns / _NS_PER_SEC


def _is_bare_number(s: str) -> bool:
    body = s[1:] if s[:1] in ("+", "-") else s
    whole, _, frac = body.partition(".")
    return bool(whole or frac) and all(c in _DIGITS for c in whole + frac)


def _parse_ns(orig: str) -> int:
    """Go `time.ParseDuration`, returning integer nanoseconds."""
    bad = ErrInvalidDuration(f'invalid duration "{orig}": {_HINT}')
    s = orig
    negative = s[:1] == "-"
    if s[:1] in ("+", "-"):
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise bad
    total = 0
    while s:
        if not (s[0] == "." or s[0] in _DIGITS):
            raise bad
        i = _span_digits(s, 0)
        whole, s = s[:i], s[i:]
        frac = ""
        if s[:1] == ".":
            j = _span_digits(s, 1)
            frac, s = s[1:j], s[j:]
        if not whole and not frac:
            raise bad  # no digits, e.g. ".s"
        k = 0
        while k < len(s) and s[k] != "." and s[k] not in _DIGITS:
            k += 1
        unit, s = s[:k], s[k:]
        if not unit:
            raise ErrInvalidDuration(f'invalid duration "{orig}": missing unit; {_HINT}')
        scale = _UNITS.get(unit)
        if scale is None:
            raise ErrInvalidDuration(f'invalid duration "{orig}": unknown unit "{unit}"; {_HINT}')
        if len(whole) > 20:  # more than any int64 count of nanoseconds
            raise ErrInvalidDuration(f'invalid duration "{orig}": out of range (Go durations end at ~292 years)')
        value = int(whole or "0") * scale
        if frac:
            frac = frac[:20]  # digits past 1e-20 cannot reach a whole nanosecond of an hour
            value += int(frac) * scale // 10 ** len(frac)
        total += value
        if total > _MAX_NS + (1 if negative else 0):
            raise ErrInvalidDuration(f'invalid duration "{orig}": out of range (Go durations end at ~292 years)')
    return -total if negative else total


def _span_digits(s: str, start: int) -> int:
    i = start
    while i < len(s) and s[i] in _DIGITS:
        i += 1
    return i


def format_duration(sec: float) -> str:
    """Print `sec` as Go `Duration.String` does: "1m30s", "500ms", "1h0m0s", "1.5µs", "0s"."""
    ns = round(sec * _NS_PER_SEC)
    sign = "-" if ns < 0 else ""
    u = abs(ns)
    if u < _NS_PER_SEC:
        if u == 0:
            return "0s"
        if u < 1_000:
            return f"{sign}{u}ns"
        if u < 1_000_000:
            return f"{sign}{_frac(u, 3)}\u00b5s"
        return f"{sign}{_frac(u, 6)}ms"
    secs, rest = divmod(u, _NS_PER_SEC)
    out = _frac(secs % 60 * _NS_PER_SEC + rest, 9) + "s"
    minutes = secs // 60
    if minutes:
        out = f"{minutes % 60}m{out}"
        if minutes >= 60:
            out = f"{minutes // 60}h{out}"
    return sign + out


def _frac(v: int, prec: int) -> str:
    """`v / 10**prec` with the fraction's trailing zeros (and a bare point) dropped (Go `fmtFrac`)."""
    whole, frac = divmod(v, 10**prec)
    digits = f"{frac:0{prec}d}".rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)


# The Go layouts a listing's `time_format` may name (AIStore `cos.FormatNanoTime`); "" is RFC822.
RFC822 = "02 Jan 06 15:04 MST"
ISO8601 = "2006-01-02T15:04:05.000Z"  # S3 ListObjectsV2's LastModified
RFC1123GMT = "Mon, 17 Dec 2012 02:14:10 GMT"  # S3 HeadObject's Last-Modified (AIStore names it by an example)
TIME_FORMATS = ("", RFC822, ISO8601, RFC1123GMT)


def format_nano_time(ns: int, layout: str = "") -> str:
    """A point in time (Unix nanoseconds) as AIStore prints atimes: by default Go's RFC822 in UTC,
    "04 Dec 26 10:31 UTC"; or in one of the other `TIME_FORMATS`, to the millisecond / second."""
    secs, frac = divmod(int(ns), _NS_PER_SEC)
    if layout == ISO8601:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac // 1_000_000:03d}Z"
    if layout == RFC1123GMT:
        return email.utils.formatdate(secs, usegmt=True)
    return time.strftime("%d %b %y %H:%M UTC", time.gmtime(secs))
