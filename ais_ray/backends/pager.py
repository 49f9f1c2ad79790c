"""The one remote pager: a listing as an async iterator of pages (each with the token after it).

Every multi-page walk of a remote bucket goes through `pages`: download backend jobs (which
resume from a saved page token), prefetch and summary (through `names`), the sync of a
download. A page source is any `fetch(token) -> ListPage`; `backend_fetch` binds a backend.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from ais_ray.backends.base import Backend, ListPage

LIST_PAGE = 1000

Fetch = Callable[[str], Awaitable[ListPage]]  # token ("" first) -> the page at it


def backend_fetch(backend: Backend, bucket: str, prefix: str = "", page_size: int = LIST_PAGE) -> Fetch:
    def fetch(token: str) -> Awaitable[ListPage]:
        return backend.list_objects(bucket, prefix, token=token, page_size=page_size)

    return fetch


async def pages(fetch: Fetch, token: str = "") -> AsyncIterator[ListPage]:
    """The pages from `token` on, one request at a time, until a page says there is no next one."""
    while True:
        page = await fetch(token)
        yield page
        token = page.next_token
        if not token:
            return


async def names(fetch: Fetch, token: str = "") -> AsyncIterator[str]:
    """The listed names, page by page (one page in memory)."""
    async for page in pages(fetch, token):
        for e in page.entries:
            yield e.name
