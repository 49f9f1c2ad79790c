"""Members of a stored shard (tar, tgz, zip): find them by path or match, read them streaming.

AIStore semantics (`cmn/archive`): the format comes from the object name's extension
(`.tar`, `.tgz`/`.tar.gz`, `.zip`, `.tar.lz4`), else from the file's magic; `archpath`
selects one member (the bytes of that member are the reply); `archregx` + `archmode`
selects every matching member and the reply is a TAR of them. Nothing is copied to a
temp file: members are read from the stored shard as the reply is written.
"""

from __future__ import annotations

import re
import tarfile
import zipfile
from dataclasses import dataclass
from typing import IO, Iterator

from ais_ray.core.errors import ErrBadRequest, ErrNotFound, ErrUnsupported
from ais_ray.core.shardfmt import SUPPORTED, TAR, TAR_LZ4, TGZ, ZIP, format_of


MODES = ("regexp", "prefix", "suffix", "substr", "wdskey")
CHUNK = 1 << 20
BLOCK = 512


class ErrArchMemberNotFound(ErrNotFound):
    pass


@dataclass(frozen=True, slots=True)
class Member:
    name: str
    size: int


def sniff(f: IO[bytes]) -> str:
    """The format from the file's first bytes (gzip → tgz, zip, ustar/gnu tar), "" if none."""
    f.seek(0)
    head = f.read(BLOCK)
    f.seek(0)
    if head[:2] == b"\x1f\x8b":
        return TGZ
    if head[:4] == b"PK\x03\x04":
        return ZIP
    if head[:4] == b"\x04\x22\x4d\x18":
        return TAR_LZ4
    if len(head) == BLOCK and head[257:262] == b"ustar":
        return TAR
    return ""


def check_query(archpath: str, regex: str, mode: str) -> None:
    """The query rules of `ArchiveConfig`: a path, or a regex with its mode, never both."""
    if archpath and regex:
        raise ErrBadRequest("archpath and archregx cannot be used together")
    if mode and not regex:
        raise ErrBadRequest(f'archmode "{mode}" requires archregx')
    if regex and mode and mode not in MODES:
        raise ErrBadRequest(f'invalid archmode "{mode}" (expecting one of: {", ".join(MODES)})')
    if regex and (mode or "regexp") == "regexp":
        try:
            re.compile(regex)
        except re.error as exc:
            raise ErrBadRequest(f'invalid archregx "{regex}": {exc}') from None


def wds_key(name: str) -> str:
    """WebDataset key: the member's path without its extension(s) (`a/b.cls.txt` → `a/b`)."""
    slash = name.rfind("/") + 1
    dot = name.find(".", slash)
    return name if dot < 0 else name[:dot]


def matches(name: str, regex: str, mode: str) -> bool:
    mode = mode or "regexp"
    if mode == "prefix":
        return name.startswith(regex)
    if mode == "suffix":
        return name.endswith(regex)
    if mode == "substr":
        return regex in name
    if mode == "wdskey":
        return wds_key(name) == regex
    return re.search(regex, name) is not None


def _norm(name: str) -> str:
    return name[2:] if name.startswith("./") else name


class Shard:
    """An open shard (a path, or an open file the caller keeps owning); a context manager."""

    def __init__(self, src: str | IO[bytes], fmt: str) -> None:
        self.fmt = fmt
        self._own = isinstance(src, str)
        self._f: IO[bytes] = open(src, "rb") if isinstance(src, str) else src  # noqa: SIM115 - closed in close()
        try:
            if fmt == ZIP:
                self._zip: zipfile.ZipFile | None = zipfile.ZipFile(self._f)
                self._tar: tarfile.TarFile | None = None
            else:
                self._zip = None
                self._tar = tarfile.open(fileobj=self._f, mode="r:gz" if fmt == TGZ else "r:")
        except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as exc:
            if self._own:
                self._f.close()
            raise ErrBadRequest(f"not a valid {fmt} archive: {exc}") from None

    def __enter__(self) -> "Shard":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
        if self._tar is not None:
            self._tar.close()
        if self._own:
            self._f.close()

    def members(self) -> list[Member]:
        """Regular-file members in archive order."""
        if self._zip is not None:
            return [Member(_norm(i.filename), i.file_size) for i in self._zip.infolist() if not i.is_dir()]
        return [Member(_norm(t.name), t.size) for t in self.tar_members() if t.isfile()]

    def tar_members(self) -> list[tarfile.TarInfo]:
        assert self._tar is not None
        try:
            return self._tar.getmembers()
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise ErrBadRequest(f"damaged {self.fmt} archive: {exc}") from None

    def open_member(self, name: str) -> tuple[IO[bytes], int]:
        """The member's reader and size; 404 when there is no such (regular file) member."""
        want = _norm(name.lstrip("/"))
        if self._zip is not None:
            for i in self._zip.infolist():
                if _norm(i.filename) == want and not i.is_dir():
                    return self._zip.open(i), i.file_size
        else:
            assert self._tar is not None
            for t in self.tar_members():
                if t.isfile() and _norm(t.name) == want:
                    f = self._tar.extractfile(t)
                    assert f is not None
                    return f, t.size
        raise ErrArchMemberNotFound(f'archive member "{name}" not found')


def resolve_format(obj_name: str, f: IO[bytes]) -> str:
    """The shard's format, or 400 naming it when it cannot be read here."""
    fmt = format_of(obj_name) or sniff(f)
    if not fmt:
        raise ErrBadRequest(f'"{obj_name}" is not an archive (expecting one of: {", ".join(SUPPORTED)}, {TAR_LZ4})')
    if fmt not in SUPPORTED:
        raise ErrUnsupported(f'archive format "{fmt}" is not supported (supported: {", ".join(SUPPORTED)})')
    return fmt


def read_member(shard: Shard, archpath: str) -> tuple[int, Iterator[bytes]]:
    """The member's size and its bytes a chunk at a time (404 at once when there is none)."""
    f, size = shard.open_member(archpath)

    def chunks() -> Iterator[bytes]:
        with f:
            while chunk := f.read(CHUNK):
                yield chunk

    return size, chunks()


def matching(shard: Shard, regex: str, mode: str) -> list[Member]:
    return [m for m in shard.members() if matches(m.name, regex, mode)]


def read_matching(shard: Shard, members: list[Member]) -> Iterator[bytes]:
    """A TAR (pax) of `members`, built as it is read: header, data, padding, end blocks."""
    for m in members:
        info = tarfile.TarInfo(m.name)
        info.size, info.mode = m.size, 0o644
        yield info.tobuf(format=tarfile.PAX_FORMAT)
        f, _ = shard.open_member(m.name)
        with f:
            while chunk := f.read(CHUNK):
                yield chunk
        if m.size % BLOCK:
            yield b"\0" * (BLOCK - m.size % BLOCK)
    yield b"\0" * (2 * BLOCK)


def list_members(path: str, fmt: str) -> list[Member]:
    with Shard(path, fmt) as shard:
        return shard.members()
