"""Reed-Solomon through pyeclib (liberasurecode, ISA-L when the wheel bundles it): never our own Galois field.

An object is coded in bounded segments (`SEGMENT` bytes of object data at a time): each segment
becomes D+P fragments, fragment i appended to slice i+1's file. A slice file is therefore the
concatenation of one fragment per segment, whose sizes are known from the object size alone
(`fragment_sizes`), so a slice can be cut back into fragments without any index. Memory per
object in flight is one segment and its fragments, whatever the object's size.

Blocking (CPU work): callers run these through `asyncio.to_thread`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from typing import BinaryIO

from pyeclib.ec_iface import ECDriver, ECDriverError, VALID_EC_TYPES

from ais_ray.core.errors import AisError

SEGMENT = 4 << 20  # object bytes coded at a time
# ISA-L's Vandermonde RS is proven MDS only for up to 4 parity fragments (Swift's guidance);
# its Cauchy RS is MDS for any; liberasurecode's own RS when the wheel has no ISA-L.
_PREFER_SMALL_P = ("isa_l_rs_vand", "isa_l_rs_cauchy", "liberasurecode_rs_vand")
_PREFER_LARGE_P = ("isa_l_rs_cauchy", "liberasurecode_rs_vand")


class ErrDecode(AisError):
    """Not enough good slices to rebuild an object."""

    status = 500


@functools.cache
def _works(ec_type: str) -> bool:
    if ec_type not in VALID_EC_TYPES:
        return False
    try:
        d = ECDriver(k=2, m=1, ec_type=ec_type)
        return d.decode(d.encode(b"probe")[1:]) == b"probe"
    except Exception:  # backend library missing from this build
        return False


def default_type(parity: int) -> str:
    """The best Reed-Solomon backend available here for `parity` parity slices."""
    for t in _PREFER_SMALL_P if parity <= 4 else _PREFER_LARGE_P:
        if _works(t):
            return t
    raise AisError("no Reed-Solomon backend available in pyeclib")


@functools.cache
def codec(data: int, parity: int, ec_type: str = "") -> Codec:
    """A shared codec per (D, P, backend): pyeclib drivers are reusable and thread-safe to call."""
    return Codec(data, parity, ec_type or default_type(parity))


class Codec:
    def __init__(self, data: int, parity: int, ec_type: str) -> None:
        self.data, self.parity, self.ec_type = data, parity, ec_type
        self._d = ECDriver(k=data, m=parity, ec_type=ec_type)

    @property
    def slices(self) -> int:
        return self.data + self.parity

    @functools.cache  # noqa: B019 - few distinct lengths per codec (a full segment and tails)
    def fragment_size(self, seg_len: int) -> int:
        return len(self._d.encode(bytes(seg_len))[0])

    def encode(self, segment: bytes | memoryview) -> list[bytes]:
        """D+P fragments of one segment; index i belongs to slice i+1."""
        return self._d.encode(bytes(segment))

    def decode(self, fragments: Mapping[int, bytes]) -> bytes:
        """One segment from any D of its fragments (keyed by fragment index)."""
        try:
            return self._d.decode(list(fragments.values()))
        except ECDriverError as exc:
            raise ErrDecode(f"cannot decode segment from fragments {sorted(fragments)}: {exc}") from exc

    def reconstruct(self, fragments: Mapping[int, bytes], missing: list[int]) -> list[bytes]:
        """The fragments at indexes `missing`, from any D others."""
        try:
            return self._d.reconstruct(list(fragments.values()), missing)
        except ECDriverError as exc:
            raise ErrDecode(f"cannot rebuild fragments {missing} from {sorted(fragments)}: {exc}") from exc

    def fragment_sizes(self, obj_size: int) -> Iterator[int]:
        """The size of each segment's fragment, in slice-file order."""
        for seg in segment_lengths(obj_size):
            yield self.fragment_size(seg)

    def slice_size(self, obj_size: int) -> int:
        return sum(self.fragment_sizes(obj_size))


def segment_lengths(obj_size: int) -> Iterator[int]:
    full, tail = divmod(obj_size, SEGMENT)
    yield from (SEGMENT for _ in range(full))
    if tail:
        yield tail


def encode_segments(src: BinaryIO, obj_size: int, c: Codec) -> Iterator[list[bytes]]:
    """Read `src` one segment at a time and yield each segment's D+P fragments (blocking)."""
    for seg in segment_lengths(obj_size):
        data = src.read(seg)
        if len(data) != seg:
            raise AisError(f"object shorter than its size {obj_size} while encoding")
        yield c.encode(data)


def decode_to(slices: Mapping[int, BinaryIO], obj_size: int, c: Codec, write: Callable[[bytes], object]) -> None:
    """Rebuild the object from >= D slice files (keyed by fragment index) and pass each segment to
    `write` in order (blocking). Uses the data slices when present (no arithmetic, just joining)."""
    if len(slices) < c.data:
        raise ErrDecode(f"{len(slices)} slice(s) of {c.data} needed")
    use = dict(sorted(slices.items())[: c.data]) if all(i in slices for i in range(c.data)) else slices
    for seg, fsize in zip(segment_lengths(obj_size), c.fragment_sizes(obj_size)):
        frags = {i: f.read(fsize) for i, f in use.items()}
        short = [i for i, b in frags.items() if len(b) != fsize]
        if short:
            raise ErrDecode(f"slice(s) {[i + 1 for i in short]} shorter than expected")
        out = c.decode(frags)
        if len(out) != seg:
            raise ErrDecode(f"decoded segment of {len(out)} bytes, expected {seg}")
        write(out)
