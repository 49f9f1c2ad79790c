"""Size strings ("4mb", "1MiB", "128k", "1048576") parsed and printed the way AIStore does.

The suffix decides the units (`mb` is 1000², `mib` and `mi` are 1024²), unless the caller
fixes them: configuration values are parsed with `units="iec"`, where `mb` means 1024² too.
Mirrors Go `cos.ParseSize` and `cos.ToSizeIEC` (`cmn/cos/size.go`).
"""

from __future__ import annotations

import re
import struct
from typing import Literal

from ais_ray.core.errors import ErrInvalidSize

Units = Literal["", "iec", "si", "raw"]

KIB, MIB, GIB, TIB = 1 << 10, 1 << 20, 1 << 30, 1 << 40
KB, MB, GB, TB = 10**3, 10**6, 10**9, 10**12
MAX_INT64 = (1 << 63) - 1

# Tried in this order, so "MIB" wins over "B" and "KB" over "B" (Go `unitx`).
_SUFFIXES = ("KIB", "MIB", "GIB", "TIB", "KB", "MB", "GB", "TB", "KI", "MI", "GI", "TI", "K", "M", "G", "T", "B")
_MULTIPLIERS = {"K": (KB, KIB), "M": (MB, MIB), "G": (GB, GIB), "T": (TB, TIB)}
_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def parse_size(s: str | int, *, units: Units = "") -> int:
    """Return the number of bytes `s` stands for.

    Accepted: an integer, or digits with an optional fraction and a suffix out of
    `k m g t` (SI), `kb mb gb tb` (SI), `ki mi gi ti` / `kib mib gib tib` (IEC) or `b`,
    in any case: "4mb" = 4,000,000, "4MiB" = 4,194,304, "1.5k" = 1500, "512" = 512.
    A fractional result is truncated, as Go's `int64(f * mult)` is.

    `units` overrides an SI suffix: with "iec", "4mb" = 4 MiB (AIStore's config values);
    "raw" refuses suffixes other than `b`.

    Raises:
        ErrInvalidSize: empty, unparsable, negative, or larger than int64.
    """
    if isinstance(s, bool):
        raise ErrInvalidSize(f"invalid size {s!r}: expecting a number of bytes or a string like '4MiB'")
    if isinstance(s, int):
        return _checked(s, s)
    if units not in ("", "iec", "si", "raw"):
        raise ErrInvalidSize(f'invalid units "{units}" (expecting raw, si, or iec)')
    text = s.strip().upper()
    if not text:
        raise ErrInvalidSize('invalid size "": expecting e.g. "512", "4mb" or "1MiB"')
    suffix = next((x for x in _SUFFIXES if text.endswith(x)), "")
    kind: Units = "raw"
    if suffix.find("I") > 0:
        kind = "iec"
        if units not in ("", "iec"):
            raise ErrInvalidSize(f'invalid size "{s}": IEC suffix conflicts with units "{units}"')
    elif suffix not in ("", "B"):
        kind = "si"
        if units == "raw":
            raise ErrInvalidSize(f'invalid size "{s}": SI suffix conflicts with units "raw"')
        if units:
            kind = units  # Go: the units argument takes precedence over an SI suffix
    number = text[: len(text) - len(suffix)]
    si_mult, iec_mult = _MULTIPLIERS.get(suffix[:1], (1, 1))
    mult = iec_mult if kind == "iec" else si_mult
    if "." in number:
        if not _FLOAT.fullmatch(number):
            raise ErrInvalidSize(f'invalid size "{s}": "{number.lower()}" is not a number')
        value = float(number) * mult
        if value != value or abs(value) > MAX_INT64:  # inf, nan
            raise ErrInvalidSize(f'invalid size "{s}": larger than {MAX_INT64} bytes')
        return _checked(s, int(value))
    if not _INT.fullmatch(number):
        raise ErrInvalidSize(f'invalid size "{s}": "{number.lower()}" is not a number')
    if len(number) > 24:  # beyond int64 anyway; also keeps int() clear of its digit limit
        raise ErrInvalidSize(f'invalid size "{s}": larger than {MAX_INT64} bytes')
    return _checked(s, int(number) * mult)


def _checked(original: str | int, n: int) -> int:
    if n < 0:
        raise ErrInvalidSize(f'invalid size "{original}": must not be negative')
    if n > MAX_INT64:
        raise ErrInvalidSize(f'invalid size "{original}": larger than {MAX_INT64} bytes')
    return n


def _float32(x: float) -> float:
    return float(struct.unpack("f", struct.pack("f", x))[0])


def format_size(n: int, digits: int = 2) -> str:
    """Print `n` bytes in the largest binary unit it reaches: "1.82GiB", "20.00MiB", "512B".

    The quotient is a float32, as in Go `cos.ToSizeIEC(n, digits)`, so the last digit
    rounds the same way the `ais` CLI prints it.
    """
    for unit, name in ((TIB, "TiB"), (GIB, "GiB"), (MIB, "MiB"), (KIB, "KiB")):
        if n >= unit:
            # float32(n) / float32(2**k) is exact in float64: dividing by a power of two
            return f"{_float32(n) / unit:.{digits}f}{name}"
    return f"{n}B"
