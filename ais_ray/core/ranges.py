"""HTTP `Range` header parsing (RFC 9110 §14), one range per request as AIStore serves.

Pure: returns the byte span or raises; the data server maps the errors to 400 / 416 once.
"""

from __future__ import annotations

from ais_ray.core.errors import ErrBadRequest, ErrRangeNotSatisfiable


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """Return (offset, length) for `bytes=a-b`, `bytes=a-` or `bytes=-n`; None means the whole object.

    Raises:
        ErrBadRequest: malformed header or several ranges.
        ErrRangeNotSatisfiable: the range starts past the end, or the object is empty.
    """
    header = header.strip()
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or not spec:
        raise ErrBadRequest(f'invalid Range header "{header}"')
    if "," in spec:
        raise ErrBadRequest(f'multiple byte ranges are not supported: "{header}"')
    first, dash, last = spec.strip().partition("-")
    if not dash or not (first or last) or not (first.isdigit() or not first) or not (last.isdigit() or not last):
        raise ErrBadRequest(f'invalid Range header "{header}"')
    if not first:  # suffix: the last n bytes
        n = int(last)
        if n == 0 or size == 0:
            raise ErrRangeNotSatisfiable(f'range "{header}" not satisfiable for size {size}')
        n = min(n, size)
        return size - n, n
    start = int(first)
    if last and int(last) < start:
        raise ErrBadRequest(f'invalid Range header "{header}": end before start')
    if start >= size:
        raise ErrRangeNotSatisfiable(f'range "{header}" not satisfiable for size {size}')
    end = int(last) if last else size - 1
    end = min(end, size - 1)
    return start, end - start + 1
