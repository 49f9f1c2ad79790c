"""The API's cached Smap / BMD (`serve/state.py`): requests that find it stale share one fetch."""

from __future__ import annotations

import asyncio
import time

from ais_ray.core.bmd import BMD
from ais_ray.core.smap import Smap, Snode
from ais_ray.serve import state as st


class _Proxy:
    """What `ApiState` calls on the proxy actor: `get_meta.remote(...)`, counted, a little slow."""

    def __init__(self) -> None:
        self.calls = 0
        self.get_meta = self

    async def _get(self) -> tuple[Smap, BMD]:
        self.calls += 1
        await asyncio.sleep(0.01)
        return Smap(uuid="u", version=self.calls, primary=Snode("p1", "proxy", "http://p")), BMD("u")

    def remote(self, smap_v: int, bmd_v: int) -> asyncio.Future[tuple[Smap, BMD]]:
        return asyncio.ensure_future(self._get())


def _state(proxy: _Proxy) -> st.ApiState:
    s = st.ApiState.__new__(st.ApiState)  # no Ray: the proxy handle is the stand-in above
    s.proxy, s._smap, s._bmd, s._fetched, s._targets, s._lock = proxy, None, None, 0.0, {}, asyncio.Lock()
    return s


def test_stale_cache_is_fetched_once_for_all_waiting_requests() -> None:
    async def run() -> None:
        proxy = _Proxy()
        s = _state(proxy)
        await asyncio.gather(*(s.smap() for _ in range(16)))
        assert proxy.calls == 1
        s._fetched = time.monotonic() - st.REFRESH_INTERVAL - 1  # a second later: stale again
        await asyncio.gather(*(s.bmd() for _ in range(16)))
        assert proxy.calls == 2
        await s.refresh(force=True)  # read-your-writes: always a fetch of its own
        assert proxy.calls == 3

    asyncio.run(run())


def test_api_replica_is_pinned_to_the_proxy_node() -> None:
    """Serve spreads replicas over every node by default: one on a target's node would take the
    control plane (Smap, jobs, buckets) down with that node (the ec drill saw 500s on `GET smap`)."""
    from ais_ray.actors.proxy import PROXY_RESOURCE
    from ais_ray.serve.app import AisApi

    opts = AisApi.ray_actor_options
    assert opts["resources"].keys() == {PROXY_RESOURCE} and opts["resources"][PROXY_RESOURCE] > 0
    assert opts["num_cpus"] == 0
