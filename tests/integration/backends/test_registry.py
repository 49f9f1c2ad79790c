"""get_backend: one backend per (provider, config) per event loop; bad requests are 4xx errors."""

from __future__ import annotations

import asyncio

import pytest

from ais_ray.backends import aget_backend, close_backends, get_backend
from ais_ray.backends.base import parts
from ais_ray.core.errors import ErrUnsupported
from ais_ray.core.names import Provider


def test_cached_per_loop_and_config() -> None:
    async def two() -> tuple[object, object, object, object]:
        a = get_backend("s3", {"endpoint_url": "http://127.0.0.1:1"})
        b = await aget_backend(Provider.AWS, {"endpoint_url": "http://127.0.0.1:1"})
        c = get_backend(Provider.AWS, {"endpoint_url": "http://127.0.0.1:2"})
        d = get_backend("ht")
        await close_backends()
        return a, b, c, d

    a, b, c, d = asyncio.run(two())
    assert a is b and a is not c and d.provider is Provider.HT
    assert asyncio.run(two())[0] is not a  # another loop, another backend


@pytest.mark.parametrize(("provider", "config"), [("ais", None), ("oci", None), ("nope", None),
                                                  ("gcp", {"endpoint": "x"}), ("azure", {"timeout": 1})])
def test_bad_requests(provider: str, config: dict[str, object] | None) -> None:
    async def get() -> None:
        get_backend(provider, config)

    with pytest.raises(ErrUnsupported):
        asyncio.run(get())


@pytest.mark.parametrize(("sizes", "part", "want"), [
    ([], 4, [0]), ([0, 0], 4, [0]), ([3], 4, [3]), ([4], 4, [4]), ([4, 4], 4, [4, 4]),
    ([1, 2, 3, 4, 5], 4, [4, 4, 4, 3]), ([9], 4, [4, 4, 1]),
])
def test_parts_regroups_streams(sizes: list[int], part: int, want: list[int]) -> None:
    async def run() -> tuple[list[int], list[int]]:
        async def body():  # type: ignore[no-untyped-def]
            for n in sizes:
                yield b"x" * n

        streamed = [len(p) async for p in parts(body(), part)]
        whole = [len(p) async for p in parts(b"x" * sum(sizes), part)]
        return streamed, whole

    assert asyncio.run(run()) == (want, want)
