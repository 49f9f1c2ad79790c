"""GET of a shard's member(s): `?archpath=` (the member's bytes) or `?archregx=&archmode=` (a TAR
of every matching member), read from the stored shard as the reply is written (fs/archive.py).
"""

from __future__ import annotations

import asyncio
from typing import IO

from aiohttp import web

from ais_ray.core import headers as H
from ais_ray.core.errors import ErrBadRequest
from ais_ray.fs import archive


def query(req: web.Request) -> tuple[str, str, str] | None:
    """(archpath, archregx, archmode) when the GET asks for archive members, else None."""
    path, regex, mode = (req.query.get(q, "") for q in (H.Q_ARCHPATH, H.Q_ARCHREGX, H.Q_ARCHMODE))
    if not (path or regex or mode):
        return None
    archive.check_query(path, regex, mode)
    if req.headers.get("Range"):
        raise ErrBadRequest("a Range request cannot be combined with archpath/archregx")
    return path, regex, mode


async def serve(req: web.Request, q: tuple[str, str, str], obj_name: str, f: IO[bytes],
                headers: dict[str, str]) -> web.StreamResponse:
    """Reply with the member(s) of the open stored shard `f` (closed here)."""
    path, regex, mode = q
    shard: archive.Shard | None = None
    try:
        fmt = await asyncio.to_thread(archive.resolve_format, obj_name, f)
        shard = await asyncio.to_thread(archive.Shard, f, fmt)
        resp = web.StreamResponse(status=200, headers=headers)
        if path:
            size, chunks = await asyncio.to_thread(archive.read_member, shard, path)
            resp.content_type = "application/octet-stream"
            resp.content_length = size
        else:
            members = await asyncio.to_thread(archive.matching, shard, regex, mode)
            if not members:
                raise archive.ErrArchMemberNotFound(f'no member of "{obj_name}" matches "{regex}" ({mode or "regexp"})')
            chunks = archive.read_matching(shard, members)
            resp.content_type = "application/x-tar"
        await resp.prepare(req)
        while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
            await resp.write(chunk)
        await resp.write_eof()
        return resp
    finally:
        if shard is not None:
            shard.close()
        f.close()
