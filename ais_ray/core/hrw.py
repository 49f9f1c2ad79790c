"""Highest-random-weight placement: which target, and which mountpath on it, owns a name.

Every node computes the same owner from the same map, so placement needs no central lookup,
and the official SDK's client-side HRW (`direct=True`) lands on the same target we do.
Mirrors AIStore `core/meta/hrw.go` (targets), `fs/hrw.go` (mountpaths) and
`cmn/xoshiro256/xoshiro.go` (the mixer); digests are OneOfOne XXH64 seeded with
`cos.MLCG32` (`cmn/cos/unsafe.go`).

Candidates are `(id, id_digest)` pairs; callers filter out targets in maintenance or being
decommissioned, and mountpaths waiting for a disk, before asking.

Many names at once (`name_digests`, `owners_of_digests`): the same choice, the mixer run over
numpy uint64 arrays (wrapping arithmetic, as Go's): ~1 µs per name against ~8 µs one by one
in Python, for the jobs that place every name they walk on every target (downloads, prefetch,
copies).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import TypeVar

import numpy as np
import xxhash

from ais_ray.core.errors import ErrNoTarget

MLCG32 = 1103515245  # the xxhash seed of every AIStore digest (Go `cos.MLCG32`)

_MASK = 0xFFFFFFFFFFFFFFFF
_GOLDEN = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB

_xxh64 = xxhash.xxh64_intdigest
K = TypeVar("K")


def digest(s: str) -> int:
    """XXH64 of the UTF-8 bytes of `s` with AIStore's seed: the uname, node-id and mountpath digest."""
    return _xxh64(s.encode(), MLCG32)


@functools.lru_cache(maxsize=4096)
def node_digest(s: str) -> int:
    """`digest` of a node id or mountpath path: a few distinct strings, looked up per placed
    object, so kept (placement runs per item in every job)."""
    return digest(s)


def xoshiro256_hash(x: int) -> int:
    """Scramble a 64-bit value: splitmix64 twice, then `rotl(z, 7) * 9` (Go `xoshiro256.Hash`)."""
    z = (x + _GOLDEN) & _MASK
    z = ((z ^ (z >> 30)) * _MIX1) & _MASK
    z = ((z ^ (z >> 27)) * _MIX2) & _MASK
    z = ((z ^ (z >> 31)) + _GOLDEN) & _MASK
    z = ((z ^ (z >> 30)) * _MIX1) & _MASK
    z = ((z ^ (z >> 27)) * _MIX2) & _MASK
    z = ((z ^ (z >> 31)) * 5) & _MASK
    return (((z << 7) | (z >> 57)) * 9) & _MASK


def owner_of_digest(name_digest: int, candidates: Iterable[tuple[K, int]]) -> K:
    """Return the id whose `xoshiro256_hash(id_digest ^ name_digest)` is highest.

    The mixer is inlined: this loop runs once per object name in every listing, copy and
    rebalance. Ties keep the later candidate, as Go's `cs >= maxH` does; with 64-bit
    weights they do not happen in practice.

    Raises:
        ErrNoTarget: no candidates.
    """
    best_id: K | None = None
    best = -1
    mask, golden, mix1, mix2 = _MASK, _GOLDEN, _MIX1, _MIX2
    for cid, cdigest in candidates:
        z = ((cdigest ^ name_digest) + golden) & mask
        z = ((z ^ (z >> 30)) * mix1) & mask
        z = ((z ^ (z >> 27)) * mix2) & mask
        z = ((z ^ (z >> 31)) + golden) & mask
        z = ((z ^ (z >> 30)) * mix1) & mask
        z = ((z ^ (z >> 27)) * mix2) & mask
        z = ((z ^ (z >> 31)) * 5) & mask
        cs = (((z << 7) | (z >> 57)) * 9) & mask
        if cs >= best:
            best, best_id = cs, cid
    if best_id is None:
        raise ErrNoTarget("no candidates to place the object on (the map is empty)")
    return best_id


_NP_MIX = tuple(np.uint64(v) for v in (_GOLDEN, _MIX1, _MIX2, 30, 27, 31, 5, 7, 57, 9))


def name_digests(unames: Sequence[str]) -> np.ndarray:
    """`digest` of each name, as a uint64 array."""
    xxh, seed = _xxh64, MLCG32
    return np.fromiter((xxh(u.encode(), seed) for u in unames), dtype=np.uint64, count=len(unames))


def owners_of_digests(name_digests: np.ndarray, candidate_digests: Sequence[int]) -> np.ndarray:
    """For each name digest, the index of its HRW owner in `candidate_digests`: what
    `owner_of_digest` chooses (ties to the later candidate), computed for all names at once.

    Raises:
        ErrNoTarget: no candidates.
    """
    if not candidate_digests:
        raise ErrNoTarget("no candidates to place the objects on (the map is empty)")
    golden, mix1, mix2, s30, s27, s31, five, s7, s57, nine = _NP_MIX
    z = np.asarray(candidate_digests, dtype=np.uint64)[:, None] ^ name_digests[None, :]
    with np.errstate(over="ignore"):
        z += golden
        z = (z ^ (z >> s30)) * mix1
        z = (z ^ (z >> s27)) * mix2
        z = (z ^ (z >> s31)) + golden
        z = (z ^ (z >> s30)) * mix1
        z = (z ^ (z >> s27)) * mix2
        z = (z ^ (z >> s31)) * five
        z = ((z << s7) | (z >> s57)) * nine
    last = len(candidate_digests) - 1
    return last - np.argmax(z[::-1], axis=0)  # argmax takes the first of equal weights: reversed, the later


def ranked(uname: str, candidates: Iterable[tuple[str, int]]) -> list[str]:
    """All candidate ids in HRW order for `uname`, highest weight first (Go `HrwTargetList`, `HrwMpath` order).

    Rank 0 is `owner_of_digest`'s choice (ties likewise go to the later candidate); the
    following ranks are where mirror copies and EC slices go.
    """
    nd = _xxh64(uname.encode(), MLCG32)
    scored = [(xoshiro256_hash(cdigest ^ nd), i, cid) for i, (cid, cdigest) in enumerate(candidates)]
    scored.sort(reverse=True)
    return [cid for _, _, cid in scored]


def owner(uname: str, candidates: Sequence[tuple[str, int]]) -> str:
    """Return the HRW owner of `uname` among `(id, id_digest)` pairs.

    Raises:
        ErrNoTarget: no candidates.
    """
    return owner_of_digest(_xxh64(uname.encode(), MLCG32), candidates)


def target_for(uname: str, targets: Mapping[str, int]) -> str:
    """Return the id of the target owning `uname`; `targets` maps daemon id to `digest(daemon_id)`.

    Raises:
        ErrNoTarget: no active targets.
    """
    if not targets:
        raise ErrNoTarget(f'no active targets to place "{uname}" on')
    return owner_of_digest(_xxh64(uname.encode(), MLCG32), targets.items())


def mountpath_for(uname: str, mpaths: Mapping[str, int]) -> str:
    """Return the mountpath owning `uname`; `mpaths` maps clean path to `digest(path)` (Go `fs.Hrw`).

    Raises:
        ErrNoTarget: no available mountpaths.
    """
    if not mpaths:
        raise ErrNoTarget(f'no available mountpaths to place "{uname}" on')
    return owner_of_digest(_xxh64(uname.encode(), MLCG32), mpaths.items())


class Hrw:
    """A fixed candidate set, held as a tuple, for placing many names against one map version."""

    __slots__ = ("_pairs",)

    def __init__(self, candidates: Mapping[str, int]) -> None:
        self._pairs: tuple[tuple[str, int], ...] = tuple(candidates.items())

    @classmethod
    def of_ids(cls, ids: Iterable[str]) -> Hrw:
        """Build from plain ids (daemon ids or clean mountpaths), digesting each once."""
        return cls({i: digest(i) for i in ids})

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(i for i, _ in self._pairs)

    def owner(self, uname: str) -> str:
        """Return the HRW owner of `uname`.

        Raises:
            ErrNoTarget: the set is empty.
        """
        if not self._pairs:
            raise ErrNoTarget(f'no candidates to place "{uname}" on')
        return owner_of_digest(_xxh64(uname.encode(), MLCG32), self._pairs)

    def owners(self, unames: Sequence[str]) -> list[str]:
        """Return the owner of each name, in order (all at once: `owners_of_digests`)."""
        pairs = self._pairs
        if not pairs:
            raise ErrNoTarget("no candidates to place objects on")
        idx = owners_of_digests(name_digests(unames), [d for _, d in pairs])
        return [pairs[i][0] for i in idx.tolist()]
