"""httpsrc as an HTTP server (raw requests), its command line, and the emulator process wrapper."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from ais_ray.testing._proc import ServerProcess, ServerStartError, ServerStartTimeout
from ais_ray.testing.emulators import HttpSrcServer
from ais_ray.testing.httprange import RangeNotSatisfiable, parse_range
from ais_ray.testing.httpsrc import HttpSrc
from tests.integration.backends.conftest import write_file

REPO = Path(__file__).resolve().parents[3]


def fetch(url: str, *, method: str = "GET", headers: dict[str, str] | None = None,
          data: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, method=method, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


@pytest.mark.parametrize(("header", "size", "want"), [
    ("bytes=0-0", 10, (0, 0)), ("bytes=5-", 10, (5, 9)), ("bytes=-3", 10, (7, 9)), ("bytes=-30", 10, (0, 9)),
    ("bytes=2-100", 10, (2, 9)), ("bytes=5-3", 10, None), ("bytes=1-2,4-5", 10, None), ("items=0-1", 10, None),
    ("bytes=abc", 10, None), ("bytes=-5", 0, None),
])
def test_parse_range(header: str, size: int, want: tuple[int, int] | None) -> None:
    assert parse_range(header, size) == want


@pytest.mark.parametrize(("header", "size"),
                         [("bytes=10-", 10), ("bytes=10-12", 10), ("bytes=-0", 10), ("bytes=0-", 0)])
def test_parse_range_unsatisfiable(header: str, size: int) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, size)


def test_head_get_range_416(http_files: HttpSrc) -> None:
    data = os.urandom(1000)
    write_file(http_files.files.root, "raw/f", data)
    url = f"{http_files.url}/raw/f"
    status, h, body = fetch(url, method="HEAD")
    assert (status, body, h["Content-Length"], h["Accept-Ranges"]) == (200, b"", "1000", "bytes")
    assert h["ETag"].startswith('"') and h["Last-Modified"].endswith("GMT")
    status, h, body = fetch(url, headers={"Range": "bytes=-5"})
    assert (status, h["Content-Range"], body) == (206, "bytes 995-999/1000", data[-5:])
    status, h, _ = fetch(url, headers={"Range": "bytes=1000-"})
    assert (status, h["Content-Range"]) == (416, "bytes */1000")
    assert fetch(f"{http_files.url}/raw/missing")[0] == 404
    assert fetch(f"{http_files.url}/../etc/passwd")[0] == 404
    assert fetch(url, method="PUT", data=b"x")[0] == 405


def test_a_directory_with_a_slash_lists_its_entries(http_files: HttpSrc) -> None:
    """`dir/` answers a web server's index (rclone's `:http:` backend lists from it); `dir` stays an
    empty 200 (an HTTP "bucket" that exists); HEAD has no body."""
    write_file(http_files.files.root, "idx/a b&c", b"1")
    write_file(http_files.files.root, "idx/sub/x", b"2")
    status, h, body = fetch(f"{http_files.url}/idx/")
    assert status == 200 and h["Content-Type"].startswith("text/html")
    assert '<a href="a%20b%26c">a b&amp;c</a>' in body.decode() and '<a href="sub/">sub/</a>' in body.decode()
    assert fetch(f"{http_files.url}/idx")[::2] == (200, b"")
    assert fetch(f"{http_files.url}/idx/", method="HEAD")[::2] == (200, b"")


def test_faults_over_http(http_files: HttpSrc) -> None:
    write_file(http_files.files.root, "err/f", b"x")
    body = json.dumps({"error_prefixes": ["err/"], "first_byte_delay": 0.0}).encode()
    status, _, out = fetch(f"{http_files.url}/_faults", method="POST", data=body)
    assert status == 200 and json.loads(out)["error_prefixes"] == ["err/"]
    assert fetch(f"{http_files.url}/err/f")[0] == 500
    assert fetch(f"{http_files.url}/_faults", method="POST", data=b'{"bogus": 1}')[0] == 400
    stats = json.loads(fetch(f"{http_files.url}/_stats")[2])
    assert stats["requests"] == {"err/f": 1}


def test_cli_prints_url_first(tmp_path: Path) -> None:
    write_file(tmp_path, "f", b"hello")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "ais_ray.testing.httpsrc", "--dir", str(tmp_path),
                             "--port", "0", "--host", "127.0.0.1", "--fail-ranges", "f=1"],
                            stdout=subprocess.PIPE, env=env)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().decode().strip()
        assert url.startswith("http://127.0.0.1:")
        assert fetch(f"{url}/f") == (200, fetch(f"{url}/f")[1], b"hello")
        assert fetch(f"{url}/f", headers={"Range": "bytes=0-0"})[0] == 500
        assert fetch(f"{url}/f", headers={"Range": "bytes=0-0"})[2] == b"h"
    finally:
        proc.terminate()
        proc.wait(10)


def test_subprocess_wrapper_stops_by_pid() -> None:
    with HttpSrcServer(args=("--no-range",)) as srv:
        (srv.data_dir / "f").write_bytes(b"abc")
        status, _, body = fetch(srv.url("f"), headers={"Range": "bytes=1-1"})
        assert (status, body) == (200, b"abc")
        pid = srv.pid
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


class _Fails(ServerProcess):
    name = "fails"

    def _argv(self, port: int) -> list[str]:
        return [sys.executable, "-c", "import sys; sys.stderr.write('boom: no luck'); sys.exit(3)"]


class _Silent(ServerProcess):
    name = "silent"

    def _argv(self, port: int) -> list[str]:
        return [sys.executable, "-c", "import time; print('starting', flush=True); time.sleep(60)"]


def test_start_failure_reports_output() -> None:
    with pytest.raises(ServerStartError, match="boom: no luck"):
        _Fails().start()


def test_start_timeout_is_bounded_and_stops_the_process() -> None:
    server = _Silent(startup_timeout=0.5)
    with pytest.raises(ServerStartTimeout, match="starting"):
        server.start()
    assert not server.running


def test_pacing_can_be_lifted_on_a_kept_alive_connection(http_files: HttpSrc, tmp_path: Path) -> None:
    """A connection paced by one test and reused by the next (keep-alive) must not break."""
    import asyncio

    import aiohttp

    from ais_ray.testing.httpsrc import Faults

    (Path(http_files.files.root) / "paced.bin").write_bytes(b"x" * 1000)

    async def go() -> list[int]:
        statuses = []
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as s:
            for pacing in (1 << 20, 0, 1 << 20):
                http_files.faults = Faults(pacing_rate=pacing)
                async with s.get(f"{http_files.url}/paced.bin") as r:
                    await r.read()
                    statuses.append(r.status)
        return statuses

    assert asyncio.run(go()) == [200, 200, 200]
    assert http_files.stats.connections == 1  # one kept-alive connection served all three
