"""The one remote pager: a listing as an async iterator of pages (each with the token after it).

Every multi-page walk of a remote bucket goes through `pages`: download backend jobs (which
resume from a saved page token), prefetch and summary (through `names`), the sync of a
download. A page source is any `fetch(token) -> ListPage`; `backend_fetch` binds a backend.
`SharedPages` lets several walkers of the same listing (a backend download job's targets) have
each page listed once.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from ais_ray.backends.base import Backend, ListPage

LIST_PAGE = 1000

Fetch = Callable[[str], Awaitable[ListPage]]  # token ("" first) -> the page at it


def backend_fetch(backend: Backend, bucket: str, prefix: str = "", page_size: int = LIST_PAGE) -> Fetch:
    def fetch(token: str) -> Awaitable[ListPage]:
        return backend.list_objects(bucket, prefix, token=token, page_size=page_size)

    return fetch


async def pages(fetch: Fetch, token: str = "") -> AsyncIterator[ListPage]:
    """The pages from `token` on, until a page says there is no next one: one request at a time,
    each asked as soon as the page before it is in, so the next page comes while the walker is
    still busy with this one (a walker that waits for room to send its items does not then wait
    for the listing too). A walker that stops early leaves no request behind."""
    ahead: asyncio.Future[ListPage] | None = asyncio.ensure_future(fetch(token))
    try:
        while ahead is not None:
            page = await ahead
            ahead = asyncio.ensure_future(fetch(page.next_token)) if page.next_token else None
            yield page
    finally:
        if ahead is not None:
            ahead.cancel()
            ahead.add_done_callback(_retrieved)


def _retrieved(fut: asyncio.Future[ListPage]) -> None:
    """A page asked ahead and never walked to: its error is nobody's (and not logged as lost)."""
    if not fut.cancelled():
        fut.exception()


async def names(fetch: Fetch, token: str = "") -> AsyncIterator[str]:
    """The listed names, page by page (one page in memory)."""
    async for page in pages(fetch, token):
        for e in page.entries:
            yield e.name


@dataclass(slots=True)
class _Kept:
    page: asyncio.Future[ListPage]
    asks: int = 0  # walkers that have had it


class SharedPages:
    """Pages of listings that several walkers go through alike, each page listed once.

    Every target of a backend download job walks the whole remote listing page by page and keeps
    its own share; asking one target for the pages (`page`) has each listed by the first walker
    to ask and handed to the others, instead of every target listing (and parsing) the bucket
    itself. A page is dropped once `walkers` asks have had it; at most `keep` pages of one
    listing and `listings` listings are kept, the oldest dropped first: a walker that falls that
    far behind, or asks again, has its page listed again. A failed listing is not kept: every
    waiter gets its error and the next ask lists anew.
    """

    def __init__(self, keep: int = 16, listings: int = 8) -> None:
        self.keep, self.listings = keep, listings
        self._by_key: OrderedDict[str, OrderedDict[str, _Kept]] = OrderedDict()  # key -> token -> page

    async def page(self, key: str, token: str, fetch: Fetch, walkers: int) -> ListPage:
        """The page at `token` of the listing `key` (listed by `fetch` unless kept)."""
        kept = self._by_key.get(key)
        if kept is None:
            kept = self._by_key[key] = OrderedDict()
            while len(self._by_key) > self.listings:
                self._by_key.popitem(last=False)
        self._by_key.move_to_end(key)
        entry = kept.get(token)
        if entry is None:
            entry = kept[token] = _Kept(asyncio.ensure_future(fetch(token)))
            while len(kept) > self.keep:
                kept.popitem(last=False)
        try:
            page = await asyncio.shield(entry.page)  # one waiter cancelled does not cancel the listing
        except Exception:
            if kept.get(token) is entry:
                del kept[token]
            raise
        entry.asks += 1
        if entry.asks >= walkers and kept.get(token) is entry:
            del kept[token]
        return page

    def forget(self, key: str) -> None:
        """Drop what is kept of listing `key` (its job is gone)."""
        self._by_key.pop(key, None)
