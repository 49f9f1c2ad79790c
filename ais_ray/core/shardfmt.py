"""Shard formats and the one shard writer.

AIStore's rules (`cmn/archive`): a shard's format comes from its name's extension (`.tar`,
`.tgz` / `.tar.gz`, `.zip`, `.tar.lz4`) or from a MIME type given with it; tar, tgz and zip are
read and written here (lz4 is recognized, not supported). `ShardWriter` writes members with the
standard library's `tarfile` (stream mode) and `zipfile` onto anything with `write()`, so the
same code builds a shard in memory (`ais-ray archive gen-shards`) and straight into an object's
work file (the `archive` job).
"""

from __future__ import annotations

import io
import tarfile
import time
import zipfile
from typing import Protocol

from ais_ray.core.errors import ErrUnsupported

TAR, TGZ, ZIP, TAR_LZ4 = ".tar", ".tgz", ".zip", ".tar.lz4"
_EXTS = ((".tar.gz", TGZ), (".tgz", TGZ), (".tar.lz4", TAR_LZ4), (".tar", TAR), (".zip", ZIP))
SUPPORTED = (TAR, TGZ, ZIP)
COPY_BUF = 1 << 30  # tarfile copies a member in pieces of this size: in one piece (a BytesIO of bytes reads without a copy)
_MIMES = {  # as AIStore accepts them: an extension with or without its dot, or a MIME type
    "tar": TAR, "application/x-tar": TAR,
    "tgz": TGZ, "tar.gz": TGZ, "application/x-gzip": TGZ, "application/gzip": TGZ, "application/x-compressed-tar": TGZ,
    "zip": ZIP, "application/zip": ZIP, "application/x-zip-compressed": ZIP,
    "tar.lz4": TAR_LZ4, "application/x-lz4": TAR_LZ4,
}


def format_of(name: str) -> str:
    """The archive format by extension, "" when the name has none of them."""
    low = name.lower()
    for ext, fmt in _EXTS:
        if low.endswith(ext):
            return fmt
    return ""


def format_for(name: str, mime: str = "") -> str:
    """The format to write `name` in: the MIME type's if given, else the name's extension.

    Raises:
        ErrUnsupported: neither says tar, tgz or zip.
    """
    fmt = _MIMES.get(mime.strip().lower().lstrip(".")) if mime else format_of(name)
    if mime and fmt is None:
        raise ErrUnsupported(f'archive "{name}": unknown MIME type "{mime}" (expecting one of: tar, tgz, zip)')
    if fmt not in SUPPORTED:
        what = f'"{fmt}"' if fmt else "no archive extension"
        raise ErrUnsupported(f'archive "{name}": {what} (expecting .tar, .tgz, .tar.gz or .zip)')
    return fmt


class _Sink(Protocol):
    def write(self, data: bytes, /) -> object: ...


class _WriteOnly:
    """What the writers see of the output: `write` and `tell`, no `seek`, so zipfile writes data
    descriptors instead of seeking back (the output may be a work file being checksummed as it
    grows, or a reply), and tarfile writes each member straight through (`tell`: its offset)."""

    def __init__(self, out: _Sink) -> None:
        self._out = out
        self._pos = 0

    def write(self, data: bytes) -> int:
        self._out.write(data)
        self._pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self._pos

    def flush(self) -> None:
        pass


class Chunks:
    """An output that keeps what was written until taken (a shard streamed as it is written)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.parts.append(bytes(data))

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        return out


class ShardWriter:
    """Members written one after another into a new shard of format `fmt` on `out`. A tar member's
    bytes reach `out` as they were given (no copy); `costly` says whether an `add` of a large
    member is worth a thread (compressed, or checksummed: tgz, zip)."""

    def __init__(self, fmt: str, out: _Sink) -> None:
        self.fmt = fmt
        sink = _WriteOnly(out)
        self._tar: tarfile.TarFile | None = None
        self._zip: zipfile.ZipFile | None = None
        if fmt == ZIP:
            self._zip = zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED)  # type: ignore[arg-type]
        elif fmt == TGZ:
            self._tar = tarfile.open(fileobj=sink, mode="w|gz", format=tarfile.PAX_FORMAT)  # type: ignore[arg-type]
        elif fmt == TAR:
            # not the stream mode ("w|"): it re-buffers every member in 10 KiB records, copying as it
            # goes; this one writes a member's header, its bytes in one piece, and its padding
            self._tar = tarfile.open(fileobj=sink, mode="w", format=tarfile.PAX_FORMAT, copybufsize=COPY_BUF)  # type: ignore[arg-type]
        else:
            raise ErrUnsupported(f'cannot write archive format "{fmt}"')
        self.count = 0
        self.costly = fmt != TAR

    def add(self, name: str, data: bytes, mtime: float | None = None) -> None:
        when = time.time() if mtime is None else mtime
        if self._tar is not None:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), int(when), 0o644
            self._tar.addfile(info, io.BytesIO(data))
        else:
            assert self._zip is not None
            zi = zipfile.ZipInfo(name, time.localtime(max(when, 315532800))[:6])  # zip dates start in 1980
            zi.external_attr = 0o644 << 16
            self._zip.writestr(zi, data)
        self.count += 1

    def close(self) -> None:
        if self._tar is not None:
            self._tar.close()
        if self._zip is not None:
            self._zip.close()


def build(fmt: str, members: list[tuple[str, bytes]]) -> bytes:
    """A whole shard in memory."""
    out = io.BytesIO()
    w = ShardWriter(fmt, out)
    for name, data in members:
        w.add(name, data)
    w.close()
    return out.getvalue()


def members_of(data: bytes, fmt: str) -> list[tuple[str, bytes]]:
    """Read a whole shard back (tests and `build`'s round trip)."""
    if fmt == ZIP:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return [(n, z.read(n)) for n in z.namelist()]
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as t:
        out = []
        for m in t.getmembers():
            f = t.extractfile(m)
            out.append((m.name, f.read() if f is not None else b""))
        return out
