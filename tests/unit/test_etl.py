"""ETL's pure parts (core/etl.py) and the worker's transform wrapping, without Ray."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import uuid
from pathlib import Path

import pytest

from ais_ray.actors.etl_worker import _CodeServer, _EtlWorker
from ais_ray.core.errors import ErrBadRequest, ErrInvalidName, ErrUnsupported
from ais_ray.core.etl import (EtlMsg, check_code, check_query, code_msg, parse_pipeline, requirements,
                              validate_etl_name)
from ais_ray.jobs.etl import etl_stages


def _b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


@pytest.mark.parametrize("name", ["abcdef", "my-transform", "a1b2c3-x", "x" * 32])
def test_good_names(name: str) -> None:
    assert validate_etl_name(name) == name


@pytest.mark.parametrize("name", ["short", "x" * 33, "Upper-case", "-leading", "trailing-", "under_score", ""])
def test_bad_names(name: str) -> None:
    with pytest.raises(ErrInvalidName):
        validate_etl_name(name)


def test_sdk_init_class_body_parses() -> None:
    msg = EtlMsg.from_wire({"name": "upper-etl", "communication": "hpush://", "init_timeout": "5m",
                            "obj_timeout": "45s", "support_direct_put": True,
                            "runtime": {"image": "aistorage/runtime_python:3.11",
                                        "env": [{"name": "ETL_CLASS_PAYLOAD", "value": _b64("x")},
                                                {"name": "PACKAGES", "value": "numpy, pillow"},
                                                {"name": "NUM_WORKERS", "value": "2"}]}})
    assert (msg.runs, msg.init_timeout, msg.obj_timeout, msg.num_workers) == ("class", 300.0, 45.0, 2)
    assert msg.packages == ["numpy", "pillow"]


def test_defaults_and_comm_types() -> None:
    msg = EtlMsg.from_wire({"name": "md5-etl", "runtime": {"image": "aistorage/transformer_md5:latest"}})
    assert (msg.comm, msg.runs, msg.builtin, msg.init_timeout, msg.obj_timeout, msg.num_workers) == \
        ("hpush://", "builtin", "md5", 45.0, 10.0, 1)
    assert EtlMsg.from_wire({"name": "md5-etl", "communication": "hpull", "runtime": {"image": "aistorage/transformer_md5"}}).comm == "hpull://"
    with pytest.raises(ErrBadRequest, match="unknown communication"):
        EtlMsg.from_wire({"name": "md5-etl", "communication": "grpc://", "runtime": {"image": "aistorage/transformer_md5"}})
    with pytest.raises(ErrBadRequest, match="support_direct_put"):
        EtlMsg.from_wire({"name": "md5-etl", "communication": "ws://", "runtime": {"image": "aistorage/transformer_md5"}})


@pytest.mark.parametrize("wire,err,text", [
    ({"name": "img-etl", "runtime": {"image": "aistorage/transformer_tar2tf"}}, ErrUnsupported, "cannot run container image"),
    ({"name": "pod-etl", "spec": _b64("kind: Pod")}, ErrUnsupported, "pod spec"),
    ({"name": "cls-etl", "runtime": {"image": "x", "env": [{"name": "ETL_CLASS_PAYLOAD", "value": "%%"}]}},
     ErrBadRequest, "base64"),
    ({"name": "osp-etl", "runtime": {"image": "aistorage/transformer_md5", "env": [{"name": "OS_PACKAGES", "value": "ffmpeg"}]}},
     ErrUnsupported, "OS_PACKAGES"),
    ({"name": "wrk-etl", "runtime": {"image": "aistorage/transformer_md5", "env": [{"name": "NUM_WORKERS", "value": "0"}]}},
     ErrBadRequest, "NUM_WORKERS"),
    ({"name": "tmo-etl", "init_timeout": "soon", "runtime": {"image": "aistorage/transformer_md5"}}, ErrBadRequest, "init_timeout"),
    ([1, 2], ErrBadRequest, "JSON object"),
])
def test_refused_messages(wire: object, err: type, text: str) -> None:
    with pytest.raises(err, match=text):
        EtlMsg.from_wire(wire)


def test_code_checked_naming_the_line() -> None:
    with pytest.raises(ErrBadRequest, match="line 3"):
        check_code("import os\n\ndef transform(data, path, args)\n    return data\n")
    with pytest.raises(ErrBadRequest, match="no top-level `transform"):
        check_code("def convert(data, path, args):\n    return data\n")
    check_code("transform = lambda data, path, args: data\n")
    msg = code_msg("code-etl", "def transform(d, p, a):\n    return d\n", deps=["roman"], workers=2, obj_timeout="3s")
    parsed = EtlMsg.from_wire(msg)
    assert (parsed.runs, parsed.packages, parsed.num_workers, parsed.obj_timeout) == ("code", ["roman"], 2, 3.0)
    bad = code_msg("code-etl", "x = (\n")
    with pytest.raises(ErrBadRequest, match="line 1"):
        EtlMsg.from_wire(bad)


def test_requirements_file() -> None:
    assert requirements("# deps\nroman==5.2\n\n-r other.txt\nnumpy  # fast\n") == ["roman==5.2", "numpy"]


def test_query_and_pipelines() -> None:
    assert check_query({}) == ()
    assert check_query({"etl_name": "first-etl", "etl_pipeline": "second-etl,third-etl"}) == \
        ("first-etl", "second-etl", "third-etl")
    with pytest.raises(ErrInvalidName, match="etl_name"):
        check_query({"etl_name": "x"})
    with pytest.raises(ErrInvalidName, match="etl_pipeline"):
        check_query({"etl_name": "first-etl", "etl_pipeline": "x"})
    with pytest.raises(ErrBadRequest, match="needs"):
        check_query({"etl_pipeline": "second-etl"})
    assert parse_pipeline(["aaaaaa", "bbbbbb"]) == ("aaaaaa", "bbbbbb")
    assert etl_stages({"id": "upper-etl", "pipeline": ["rev-etl"]}) == ("upper-etl", "rev-etl")
    with pytest.raises(ErrBadRequest, match="missing the ETL name"):
        etl_stages({"prefix": "a"})


def test_code_server_function_and_generator() -> None:
    assert _CodeServer("def transform(d, p, a):\n    return d[::-1]\n", "rev-etl").transform(b"abc", "b/o", "") == b"cba"
    gen = "def transform(d, p, a):\n    for i in range(0, len(d), 2):\n        yield d[i:i+2].upper()\n"
    assert _CodeServer(gen, "gen-etl").transform(b"abcde", "b/o", "") == b"ABCDE"


def test_worker_wraps_failures_per_object(tmp_path: Path) -> None:
    src = ("def transform(d, p, a):\n    if p.endswith('bad'):\n        raise ValueError('nope')\n"
           "    if p.endswith('int'):\n        return 7\n    return d + a.encode()\n")
    w = _EtlWorker(code_msg("unit-etl", src, obj_timeout="5s"), "t1", "http://127.0.0.1:1")
    assert w.ready() == ""
    f = tmp_path / "obj"
    f.write_bytes(b"file")
    out = asyncio.run(w.transform_batch([(str(f), None, "b/o", "!"), ("", b"mem", "b/bad", ""),
                                         ("", b"mem", "b/int", ""), ("", b"mem", "b/x", "?")]))
    assert out[0] == (b"file!", "") and out[3] == (b"mem?", "")
    assert out[1][0] is None and "ValueError: nope" in out[1][1]
    assert out[2][0] is None and "returned int" in out[2][1]
    assert w.stats()["obj_count"] == 2


def test_worker_builtin_md5_and_bad_init() -> None:
    w = _EtlWorker({"name": "md5-etl", "runtime": {"image": "aistorage/transformer_md5"}}, "t1", "http://x")
    assert asyncio.run(w.transform_batch([("", b"abc", "b/o", "")]))[0][0] == hashlib.md5(b"abc").hexdigest().encode()
    bad = _EtlWorker(code_msg("boom-etl", "raise RuntimeError('at import')\ndef transform(d, p, a):\n    return d\n"),
                     "t1", "http://x")
    assert "at import" in bad.ready()


def test_worker_spills_a_generator_chunk_by_chunk(tmp_path: Path) -> None:
    gen = "def transform(d, p, a):\n    for _ in range(4):\n        yield d * 3\n"
    w = _EtlWorker(code_msg("gen-etl", gen, obj_timeout="5s"), "t1", "http://127.0.0.1:1")
    spill = tmp_path / "out"
    out = asyncio.run(w.transform_batch([("", b"ab", "b/o", "", str(spill)), ("", b"cd", "b/p", "", "")]))
    assert out[0] == (24, "") and spill.read_bytes() == b"ab" * 12  # written as it came: its size returned
    assert out[1] == (b"cd" * 12, "")  # no spill asked for (a middle pipeline stage): joined
    bad = "def transform(d, p, a):\n    yield b'x'\n    yield 5\n"
    w = _EtlWorker(code_msg("bad-gen", bad, obj_timeout="5s"), "t1", "http://127.0.0.1:1")
    out = asyncio.run(w.transform_batch([("", b"ab", "b/o", "", str(spill))]))
    assert out[0][0] is None and "yielded int" in out[0][1]


def test_worker_fails_a_hung_object_alone_and_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch runs on one thread; an object over `obj_timeout` fails alone, the rest of the batch
    goes on on a new thread, and the process asks to be replaced once the batch is answered."""
    exits: list[int] = []
    monkeypatch.setattr(os, "_exit", exits.append)
    src = "import time\ndef transform(d, p, a):\n    if p.endswith('slow'):\n        time.sleep(1.2)\n    return d.upper()\n"
    w = _EtlWorker(code_msg(f"hang-{uuid.uuid4().hex[:6]}", src, obj_timeout="0.3s"), "t1", "http://127.0.0.1:1")

    async def run() -> list[tuple[bytes | int | None, str]]:
        out = await w.transform_batch([("", b"a", "b/1", ""), ("", b"b", "b/slow", ""), ("", b"c", "b/2", "")])
        await asyncio.sleep(0.4)  # the exit is scheduled after the reply
        return out

    out = asyncio.run(run())
    assert out[0] == (b"A", "") and out[2] == (b"C", "")
    assert out[1][0] is None and "timed out after 0.3s" in out[1][1]
    assert exits == [1]
    assert not os.path.exists(w.marker)  # a hang is reported, never blamed on a later crash


def test_worker_names_the_object_its_predecessor_died_on() -> None:
    msg = code_msg(f"mark-{uuid.uuid4().hex[:6]}", "def transform(d, p, a):\n    return d\n")
    w = _EtlWorker(msg, "t1", "http://127.0.0.1:1")
    assert asyncio.run(w.transform_batch([("", b"a", "b/1", "")])) == [(b"a", "")]
    assert not os.path.exists(w.marker)  # between batches no marker is left
    with open(w.marker, "wb") as f:  # as a process killed mid-object leaves it (a longer name before)
        f.write(b"b/died\0b/an-older-longer-name")
    w2 = _EtlWorker(msg, "t1", "http://127.0.0.1:1")
    assert w2.crashed_on() == "b/died" and not os.path.exists(w2.marker)
