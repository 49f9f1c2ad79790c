"""One real multi-node ais-ray cluster for every multinode test: `ais-ray up --nodes 3`.

The head node (proxy, Serve, t1) is the daemon's own Ray instance; t2 and t3 run on two
more raylets of this machine (`ray start --block`, PIDs in `<data-dir>/run/raylets.json`),
each a real Ray node that can be killed and brought back. Tests drive the cluster from the
outside only (HTTP, CLI, `ray start` of more nodes): this pytest process never joins it, so
it can run in the same session as the default cluster (`tests/integration/conftest.py`).
`down` at the end stops the daemon and every raylet it recorded, joined ones included.

Its S3 is the session's moto behind a `LinkProxy` (`c.s3link`), whose rate a test caps so that
a job on remote objects is still under way when the cluster changes.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
import requests

from ais_ray.core.lom import obj_fqn
from ais_ray.core.names import Bucket
from ais_ray.core.smap import Smap
from ais_ray.deploy import recorded_raylets, start_raylet
from ais_ray.testing.emulators import MotoServer
from ais_ray.testing.linkproxy import LinkProxy
from tests.integration.conftest import LocalCluster, free_port

NODES = 3


@dataclass
class MultiNode(LocalCluster):
    """The playground cluster, plus what a test needs to add, kill and restart its nodes."""

    s3link: LinkProxy | None = field(default=None, repr=False)  # the cluster's S3 endpoint: moto, paced at will

    @property
    def run_dir(self) -> str:
        return os.path.join(self.data_dir, "run")

    def up(self) -> None:
        self.cli("up", "--nodes", str(NODES), "--mountpaths", "2", "--data-dir", self.data_dir, "--port",
                 str(self.port), "--no-fsync", timeout=900)

    def ray_address(self) -> str:
        with open(os.path.join(self.run_dir, "state.json")) as f:
            return str(json.load(f)["ray_address"])

    def smap(self) -> Smap:
        r = requests.get(f"{self.endpoint}/v1/daemon", params={"what": "smap"}, timeout=10)
        assert r.status_code == 200, r.text
        return Smap.from_wire(r.json())

    def wait_smap(self, ok: Callable[[Smap], bool], what: str, timeout: float = 90.0) -> Smap:
        deadline = time.monotonic() + timeout
        while True:
            smap = self.smap()
            if ok(smap):
                return smap
            if time.monotonic() > deadline:
                raise AssertionError(f"no Smap with {what} after {timeout:.0f}s: v{smap.version} "
                                     f"{ {t: s.flags for t, s in smap.targets.items()} }")
            time.sleep(0.5)

    def start_node(self, tid: str) -> int:
        """A new raylet advertising `ais_target_<tid>`, as `ray start --address=HEAD` does (recorded, so
        `down` stops it), with the cluster's environment (its S3 endpoint and credentials), as a
        node's operator gives it."""
        return start_raylet(self.run_dir, self.ray_address(), tid, env=self.env())

    def kill_node(self, tid: str) -> None:
        """SIGKILL every process of `tid`'s raylet (the node is lost, as a machine that dies)."""
        os.killpg(recorded_raylets(self.run_dir)[tid], signal.SIGKILL)

    def copies(self, bck: str, name: str) -> list[str]:
        """Every file holding `ais://bck/name`, on any target's mountpath."""
        return glob.glob(os.path.join(self.data_dir, "t*", "mp*", "@ais", bck, "%ob", name))

    def hrw_fqn(self, smap: Smap, bck: str, name: str) -> str:
        _, mp = smap.locate(Bucket(bck).uname(name))
        return obj_fqn(mp.path, Bucket(bck), name)


@pytest.fixture(scope="package")
def multinode(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
              moto: MotoServer) -> Iterator[MultiNode]:
    # Not under pytest's basetemp, which other sessions of this user rotate away: after a failure
    # the daemon's and raylets' logs stay in <data-dir>/run.
    data_dir = tempfile.mkdtemp(prefix="ais-multinode-")
    port = free_port()
    link = LinkProxy(f"{moto.host}:{moto.port}", os.path.join(data_dir, "s3link")).start()
    c = MultiNode(f"http://127.0.0.1:{port}", data_dir, port,
                  {**moto.env(), "AWS_ENDPOINT_URL": link.endpoint,
                   "XDG_STATE_HOME": str(tmp_path_factory.mktemp("state-multinode"))}, s3link=link)
    failed = request.session.testsfailed
    ok = False
    try:
        c.up()
        yield c
        ok = request.session.testsfailed == failed
    finally:
        c.down()
        link.stop()
        if ok:
            shutil.rmtree(data_dir, ignore_errors=True)
        else:
            print(f"multinode: logs kept in {data_dir}/run")
