"""Object write types (AIStore `cmn/owt.go`): why an object is being written.

One write pipeline (`fs/write.py`) serves every writer; what differs between them is data,
looked up here by owt, never a copy of the write code.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


# Between nodes: a PUT that carries another owt's bytes (the destination of a copy) says so here.
OWT_HEADER = "Ais-Owt"


class Owt(enum.Enum):
    PUT = "put"  # a client's PUT
    COLD_GET = "cold-get"  # first GET of a remote object (also prefetch)
    DOWNLOAD = "download"  # the Internet downloader
    BLOB = "blob"  # the blob downloader (parallel range reads)
    COPY = "copy"  # single-object or bucket copy
    TRANSFORM = "transform"  # ETL
    MIRROR_COPY = "mirror-copy"  # n-way mirror
    REBALANCE = "rebalance"  # an object moving to its new HRW owner
    EC_RESTORE = "ec-restore"  # erasure-coding reconstruction
    PROMOTE = "promote"  # a file of the targets' own filesystems (core/promote.py)


@dataclass(frozen=True, slots=True)
class OwtPolicy:
    """What a write of one owt does beyond storing bytes (see `fs/write.py`)."""

    bump_version: bool  # next local version (ais objects) vs the source's version kept
    source_identity: bool  # record the source's ETag/version/size (re-download / latest-ver checks)
    job: bool  # record the job that wrote it (a resumed job counts it once)
    write_through: bool  # a bucket with a remote side gets the bytes there before the commit here
    counter: str  # the stats counter (AIStore name) the write adds to
    redundancy: bool = True  # the commit erasure-codes it in an EC bucket (`MountpathStore.on_commit`); False:
    # bytes that are already a replica / restore / move of an encoded object (their writers see to the slices)
    new_content: bool = True  # content the bucket did not hold (a bucket being renamed refuses it); False: a
    # replica, a restore or a move of an object the bucket already holds


POLICY: dict[Owt, OwtPolicy] = {
    Owt.PUT: OwtPolicy(bump_version=True, source_identity=False, job=False, write_through=True, counter="put"),
    Owt.COLD_GET: OwtPolicy(bump_version=False, source_identity=True, job=False, write_through=False,
                            counter="get.cold"),
    Owt.DOWNLOAD: OwtPolicy(bump_version=True, source_identity=True, job=True, write_through=False, counter="dl"),
    Owt.BLOB: OwtPolicy(bump_version=False, source_identity=True, job=True, write_through=False, counter="getblob"),
    Owt.COPY: OwtPolicy(bump_version=True, source_identity=False, job=False, write_through=True, counter="put"),
    Owt.TRANSFORM: OwtPolicy(bump_version=True, source_identity=False, job=True, write_through=True, counter="put"),
    Owt.MIRROR_COPY: OwtPolicy(bump_version=False, source_identity=True, job=False, write_through=False,
                               counter="stream.in", redundancy=False, new_content=False),
    Owt.REBALANCE: OwtPolicy(bump_version=False, source_identity=True, job=False, write_through=False,
                             counter="stream.in", redundancy=False, new_content=False),
    Owt.EC_RESTORE: OwtPolicy(bump_version=False, source_identity=True, job=False, write_through=False,
                              counter="stream.in", redundancy=False, new_content=False),
    Owt.PROMOTE: OwtPolicy(bump_version=True, source_identity=False, job=False, write_through=True, counter="put"),
}


def policy(owt: Owt) -> OwtPolicy:
    return POLICY[owt]


def put_owt(header: str) -> Owt:
    """The owt of a PUT from its `OWT_HEADER`: a copy's destination, an object moving to its new
    HRW owner (rebalance / resilver), a promoted file, or else a plain PUT."""
    return {Owt.COPY.value: Owt.COPY, Owt.TRANSFORM.value: Owt.TRANSFORM, Owt.REBALANCE.value: Owt.REBALANCE,
            Owt.PROMOTE.value: Owt.PROMOTE}.get(header, Owt.PUT)
