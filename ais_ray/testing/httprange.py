"""Parse an HTTP `Range` header: pure, so the server's decisions are testable without a socket.

Follows RFC 9110 §14: one `bytes=` range is served; a header that does not parse, or asks for
several ranges, is ignored (the whole body is sent, which a server may always do); a
syntactically valid range that misses the representation is unsatisfiable (416).
"""

from __future__ import annotations


class RangeNotSatisfiable(ValueError):
    """The range parses but selects nothing (answer 416 with `Content-Range: bytes */SIZE`)."""


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """Return `(first, last)` inclusive byte positions, or None to send the whole body.

    Raises:
        RangeNotSatisfiable: `bytes=SIZE-`, `bytes=-0`, or a first position past the end.
    """
    unit, sep, spec = header.strip().partition("=")
    if not sep or unit.strip().lower() != "bytes" or "," in spec:
        return None
    first_s, dash, last_s = spec.strip().partition("-")
    if not dash:
        return None
    first_s, last_s = first_s.strip(), last_s.strip()
    if not first_s:  # suffix range: the last N bytes
        if not last_s.isdigit():
            return None
        n = int(last_s)
        if n == 0:
            raise RangeNotSatisfiable(header)
        if size == 0:  # satisfiable per RFC, but "bytes 0--1/0" cannot be written: send it whole
            return None
        return max(0, size - n), size - 1
    if not first_s.isdigit() or (last_s and not last_s.isdigit()):
        return None
    first = int(first_s)
    if last_s and int(last_s) < first:
        return None  # invalid, so ignored (RFC 9110 §14.1.1)
    if first >= size:
        raise RangeNotSatisfiable(header)
    return first, min(int(last_s), size - 1) if last_s else size - 1
