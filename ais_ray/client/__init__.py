"""The ais-ray Python client, shaped like the official SDK: one request layer (`http.py`), one
module per resource (`buckets.py`, `objects.py`, `jobs.py`, `download.py`, `placement.py`), and
`AisClient` (`api.py`) joining them.

    from ais_ray.client import AisClient
"""

from ais_ray.client.api import AisClient
from ais_ray.client.download import DownloadApi, is_finished
from ais_ray.client.http import CHUNK, Http, raise_for
from ais_ray.client.placement import Placement

__all__ = ["CHUNK", "AisClient", "DownloadApi", "Http", "Placement", "is_finished", "raise_for"]
