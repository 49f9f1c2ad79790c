"""The `archive` job (AIStore's x-archive; the SDK's `ObjectGroup.archive`, `ais-ray archive
bucket`): selected objects of one bucket become one shard (tar, tgz, zip) in another, or the same.

The shard's HRW target runs the job and its HRW mountpath writes the shard: it reads every member
from the mountpath that holds it (a GET to that data server, which fetches a remote object or
rebuilds a lost one as any GET does), in the selection's order, a few ahead, and streams the shard
through the one write path (`fs/write.py`: checksummed, committed atomically, mirrored or erasure
coded as its bucket says, written through to a remote side first). Nothing of it is visible until
the whole shard is committed; a job that fails or is aborted leaves no shard and the old one (an
`append`) as it was. Members are read whole, one window at a time (`WINDOW_BYTES`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ais_ray.core.errors import ErrBadRequest
from ais_ray.core.names import Bucket, validate_obj_name
from ais_ray.core.selection import Selection
from ais_ray.core.shardfmt import format_for

KIND = "archive"
WINDOW = 8  # members read ahead of the writer
WINDOW_BYTES = 64 << 20  # ... as long as they hold at most this much (one larger member is read alone)


@dataclass(frozen=True, slots=True)
class ArchiveSpec:
    src: Bucket
    dst: Bucket
    name: str  # the shard's object name in `dst`
    fmt: str  # shardfmt.TAR | TGZ | ZIP
    sel: Selection
    isbn: bool = False  # members named `<src bucket>/<object>`
    append: bool = False  # add to the shard if it exists (else it is replaced)
    coer: bool = False  # leave out what cannot be read, keep going

    def member(self, obj: str) -> str:
        return f"{self.src.name}/{obj}" if self.isbn else obj

    @classmethod
    def parse(cls, src: Bucket, dst: Bucket, value: Mapping[str, Any]) -> ArchiveSpec:
        """The SDK's `ArchiveMultiObj` (`archname`, `mime`, `isbn`, `aate`, `coer` and a selection).

        Raises:
            ErrBadRequest: no or a bad shard name, a selection that does not parse, flags that are
            not booleans. ErrUnsupported: not a tar, tgz or zip name / MIME type.
        """
        name = value.get("archname")
        if not isinstance(name, str) or not name:
            raise ErrBadRequest('archive: missing the shard\'s name ("archname")')
        validate_obj_name(name)
        mime = value.get("mime") or ""
        if not isinstance(mime, str):
            raise ErrBadRequest('archive: "mime" must be a string')
        flags = {}
        for key in ("isbn", "aate", "coer"):
            v = value.get(key, False)
            if not isinstance(v, bool):
                raise ErrBadRequest(f'archive: "{key}" must be true or false, got {v!r}')
            flags[key] = v
        sel = Selection.from_msg(value, listing=True)
        return cls(src, dst, name, format_for(name, mime), sel, flags["isbn"], flags["aate"], flags["coer"])
