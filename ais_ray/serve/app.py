"""The REST API as a Ray Serve deployment (FastAPI ingress): AIStore's control plane.

`/openapi.json` documents every route. Object data is never proxied here: see objects.py.
"""

from __future__ import annotations

from fastapi import FastAPI
from ray import serve

from ais_ray.actors.proxy import PROXY_RESOURCE
from ais_ray.core import nodelog
from ais_ray.core.nodes import PRIMARY_ID
from ais_ray.serve import buckets, cluster, download, errors, etl, ml, mountpaths, objects, openapi, perf
from ais_ray.serve.bodylimit import BodyLimit
from ais_ray.serve.state import init_state

app = FastAPI(title="ais-ray", version="0.1.0",
              description="AIStore-compatible REST API served by Ray Serve. Data requests are 307-redirected to targets.")
errors.install(app)
app.add_middleware(BodyLimit)  # outermost: before any body is read
for r in (cluster.router, buckets.router, objects.router, download.router, mountpaths.router, perf.router,
          etl.router, ml.router):
    app.include_router(r)
openapi.install(app)  # the real query parameters and bodies (core/params.py, serve/msgs.py)


# Access logs cost a measurable share of the per-request CPU of the API hop (benchmarks/README.md).
# The replica lives on the proxy's node, beside Serve's own proxy and the front door: Serve spreads
# replicas over every node by default, and a replica on a target's node would take the whole control
# plane (Smap, jobs, buckets) down with that node.
@serve.deployment(name="AisApi", max_ongoing_requests=1000,
                  ray_actor_options={"num_cpus": 0, "resources": {PROXY_RESOURCE: 0.001}},
                  logging_config={"enable_access_log": False})
@serve.ingress(app)
class AisApi:
    def __init__(self, log_dir: str = "") -> None:
        nodelog.setup(PRIMARY_ID, log_dir, f"{PRIMARY_ID}/api")  # the proxy's log (core/nodelog.py)
        init_state()
