"""Remote backends: one async interface (`Backend`) over S3, GCS, Azure and HTTP sources.

Importing this package is cheap: each provider's SDK is imported when its backend is first
asked for (`get_backend`).
"""

from ais_ray.backends.base import Backend, ListPage, RemoteObj
from ais_ray.backends.registry import aget_backend, backend_class, close_backends, get_backend, new_backend

__all__ = [
    "Backend", "ListPage", "RemoteObj", "aget_backend", "backend_class", "close_backends", "get_backend", "new_backend",
]
