"""A reply's bytes sent from a file (the data servers' GETs, a GetBatch holder's answer)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web


async def send_file(req: web.Request, resp: web.StreamResponse, f: Any, offset: int, length: int) -> bool:
    """Send `length` bytes of `f` from `offset`; True if it went zero-copy (sendfile)."""
    transport = req.transport
    if transport is None:
        raise ConnectionResetError("connection lost")
    try:
        await asyncio.get_running_loop().sendfile(transport, f, offset, length)
        return True
    except NotImplementedError:  # e.g. TLS transport: copy in 1 MiB reads
        f.seek(offset)
        while length > 0:
            chunk = await asyncio.to_thread(f.read, min(length, 1 << 20))
            if not chunk:
                break
            await resp.write(chunk)
            length -= len(chunk)
        return False
