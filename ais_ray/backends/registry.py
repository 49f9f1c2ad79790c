"""`get_backend(provider, config)`: one backend per (provider, config) per event loop.

A backend holds connection pools bound to the loop that created them, so the cache is keyed
by the running loop (an async actor has exactly one) and dropped with it. `config` is the
explicit override a cluster gets to point at emulators; without it each SDK reads its usual
environment (`AWS_*` incl. `AWS_ENDPOINT_URL`, `STORAGE_EMULATOR_HOST`,
`AZURE_STORAGE_CONNECTION_STRING`).

    backend = get_backend(Provider.AWS, {"endpoint_url": "http://127.0.0.1:9000", "key": "k", "secret": "s"})
    async for chunk in backend.read("bucket", "obj"): ...
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import weakref
from collections.abc import Mapping
from typing import Any

from ais_ray.backends.base import Backend
from ais_ray.core.errors import ErrUnsupported
from ais_ray.core.names import Provider

# Imported on first use: each SDK costs 0.1-0.3 s to import, and a target may need only one.
_IMPLS: dict[Provider, tuple[str, str]] = {
    Provider.AWS: ("ais_ray.backends.s3", "S3Backend"),
    Provider.GCP: ("ais_ray.backends.gcp", "GcpBackend"),
    Provider.AZURE: ("ais_ray.backends.azure", "AzureBackend"),
    Provider.HT: ("ais_ray.backends.http", "HttpBackend"),
}

_cache: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Provider, str], Backend]] = (
    weakref.WeakKeyDictionary())


def backend_class(provider: Provider | str) -> type[Backend]:
    """The implementation for a provider (`aws`, `s3`, `gcp`, `gs`, `azure`, `az`, `ht`).

    Raises:
        ErrUnsupported: ais and oci buckets have no remote backend here.
    """
    prov = Provider.parse(provider)
    if prov not in _IMPLS:
        raise ErrUnsupported(f'provider "{prov.value}" has no remote backend')
    module, cls = _IMPLS[prov]
    impl: type[Backend] = getattr(importlib.import_module(module), cls)
    return impl


def _options(cls: type[Backend], config: Mapping[str, Any]) -> dict[str, Any]:
    allowed = {n for n, p in inspect.signature(cls).parameters.items() if p.kind is p.KEYWORD_ONLY}
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise ErrUnsupported(f"{cls.provider.value} backend: unknown option(s) {unknown}; known: {sorted(allowed)}")
    return {k: v for k, v in config.items() if v is not None}


def new_backend(provider: Provider | str, config: Mapping[str, Any] | None = None) -> Backend:
    """A fresh, uncached backend (the caller closes it with `aclose`).

    Raises:
        ErrUnsupported: unknown provider or option.
    """
    cls = backend_class(provider)
    return cls(**_options(cls, config or {}))


def get_backend(provider: Provider | str, config: Mapping[str, Any] | None = None) -> Backend:
    """The shared backend for this provider and config on the running event loop.

    Call from inside the loop that will use it (an async actor's methods do).

    Raises:
        ErrUnsupported: unknown provider or option.
    """
    loop = asyncio.get_running_loop()
    prov = Provider.parse(provider)
    key = (prov, json.dumps(dict(config or {}), sort_keys=True, default=str))
    per_loop = _cache.setdefault(loop, {})
    backend = per_loop.get(key)
    if backend is None:
        backend = per_loop[key] = new_backend(prov, config)
    return backend


async def aget_backend(provider: Provider | str, config: Mapping[str, Any] | None = None) -> Backend:
    """`get_backend`, but the first use of a provider imports its SDK (0.2-0.5 s) on a worker
    thread instead of the event loop: what an actor serving other requests should call.

    Raises:
        ErrUnsupported: unknown provider or option.
    """
    await asyncio.to_thread(backend_class, provider)
    return get_backend(provider, config)


async def close_backends() -> None:
    """Close every backend cached for the running loop (an actor's shutdown, a test's teardown)."""
    per_loop = _cache.pop(asyncio.get_running_loop(), {})
    await asyncio.gather(*(b.aclose() for b in per_loop.values()), return_exceptions=True)
