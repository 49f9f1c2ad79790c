"""One ETL worker: a Ray actor process running a user transform, pinned to its target's node.

A pool of these per (ETL, target) stands for AIStore's one transform pod per target (ais-wire-2
§2.4): the SDK's `init_class` payload is unpickled and instantiated here as is (its `ETLServer`
base class comes from the installed `aistore` package; `PACKAGES` are pip-installed into this
actor's Ray `runtime_env`). The mountpaths of the same node hand it objects in batches
(`actors/etl_pool.py`): by file path (AIStore's direct FQN: the worker shares the node's disks)
or, for later pipeline stages, by bytes.

A transform is user code that may block or burn CPU: it runs on a thread, one object at a time
per process, under `obj_timeout`; a process whose transform hung (or that a transform killed)
is replaced by Ray (`max_restarts=-1`) and the callers retry what else it had in flight.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import hashlib
import io
import os
import resource
import tempfile
import threading
import time
import traceback
import types
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import ray

from ais_ray.core.etl import ENV_CLASS, ENV_CODE, EtlMsg

LOG_LINES = 200

# (fqn or "", bytes or None, "bck/obj", etl_args, spill: where a streaming transform's output goes, or "")
Item = tuple[str, bytes | None, str, str, str]  # (the first four alone: no spill)
Result = tuple[bytes | int | None, str]  # (output, "") or (its size, "") once spilled, or (None, error text)


def worker_actor_name(etl: str, tid: str, i: int) -> str:
    return f"ais-etl-{etl}-{tid}-{i}"


def _builtin(kind: str) -> Callable[[bytes, str, str], bytes]:
    if kind == "md5":
        return lambda data, path, args: hashlib.md5(data).hexdigest().encode()
    if kind == "hello":
        return lambda data, path, args: b"Hello World!"
    return lambda data, path, args: data


class _CodeServer:
    """`etl init code`: a module's `transform(data, path, args)` (a function, or a generator of chunks)."""

    def __init__(self, src: str, name: str) -> None:
        mod = types.ModuleType(f"ais_etl_{name.replace('-', '_')}")
        exec(compile(src, f"<etl {name}>", "exec"), mod.__dict__)  # noqa: S102 - the user's transform, by design
        self.fn = mod.__dict__["transform"]

    def transform(self, data: bytes, path: str, args: str) -> bytes:
        return _as_bytes(self.fn(data, path, args))

    def transform_chunks(self, data: bytes, path: str, args: str) -> Any:
        """What the function returned: bytes, or its chunks as they come (the worker spills them)."""
        return self.fn(data, path, args)


class _EtlWorker:
    def __init__(self, msg_wire: dict[str, Any], tid: str, target_url: str, index: int = 0) -> None:
        self.msg = EtlMsg.from_wire(msg_wire)
        self.tid = tid
        # which object is being transformed, on disk: after its process died, the next one knows why
        self.marker = os.path.join(tempfile.gettempdir(), f"{worker_actor_name(self.msg.name, tid, index)}.busy")
        self.crashed = ""
        try:
            with open(self.marker, "rb") as f:
                self.crashed = f.read().split(b"\0", 1)[0].decode(errors="replace")  # "": between objects
            os.unlink(self.marker)
        except OSError:
            pass
        self.logs: collections.deque[str] = collections.deque(maxlen=LOG_LINES)
        self.objs = self.in_bytes = self.out_bytes = 0
        os.environ.update({k: v for k, v in self.msg.env.items() if k not in (ENV_CLASS, ENV_CODE)})
        os.environ.setdefault("AIS_TARGET_URL", target_url)  # required by ETLServer.__init__
        self.error = ""
        self.srv: Any = None
        self.lock = asyncio.Lock()
        self.inflight = 0
        self.poisoned = False
        self.stopping = False  # stopped on purpose (`release`): no transform starts, no marker is left
        try:
            self.srv = self._instantiate()
            self._log(f"ETL[{self.msg.name}] ready on target {tid} (pid {os.getpid()}, runs {self.msg.runs})"
                      + (f", after {self.crashed} took the previous process down" if self.crashed else ""))
        except BaseException as exc:  # reported by `ready()`: init fails with the user's error, not a hang
            self.error = f"{type(exc).__name__}: {exc}"
            self._log(f"ETL[{self.msg.name}] failed to start: {traceback.format_exc()}")

    def _instantiate(self) -> Any:
        if self.msg.runs == "class":
            import cloudpickle  # a dependency of ray

            cls = cloudpickle.loads(base64.b64decode(self.msg.env[ENV_CLASS]))
            return cls()
        if self.msg.runs == "code":
            return _CodeServer(base64.b64decode(self.msg.env[ENV_CODE]).decode(), self.msg.name)
        srv = types.SimpleNamespace(transform=_builtin(self.msg.builtin))
        return srv

    def _log(self, line: str) -> None:
        self.logs.append(f"{time.strftime('%H:%M:%S')} {line}")

    def ready(self) -> str:
        """"" once the transform is instantiated, else why it could not be."""
        return self.error

    def info(self) -> tuple[int, float]:
        """(workers per target, obj_timeout): what a mountpath's feeder needs."""
        return self.msg.num_workers, self.msg.obj_timeout

    def pid(self) -> int:
        return os.getpid()

    async def transform_batch(self, items: list[Item]) -> list[Result]:
        """Each object in turn, on one thread for the whole batch (`_run`), at most `obj_timeout`
        each. A transform that hangs fails its object and poisons this process (its thread cannot
        be stopped): the rest of the batch goes on on a new thread, and the process exits once no
        other batch is in flight; Ray starts a fresh one."""
        self.inflight += 1
        out: list[Result] = []
        try:
            async with self.lock:  # one transform at a time per process, as one uvicorn worker
                while len(out) < len(items):
                    run = _Run(items[len(out):])
                    fut = asyncio.get_running_loop().run_in_executor(None, self._run, run)
                    while (left := run.left(self.msg.obj_timeout)) > 0 and not fut.done():
                        await asyncio.wait({fut}, timeout=left)
                    if fut.done() and fut.exception() is not None:  # not the transform's (its errors are results)
                        raise fut.exception()  # type: ignore[misc]
                    done = run.results
                    out += done
                    if len(done) < len(run.items):  # the next one hung: its thread is left behind
                        self.poisoned = True
                        _unlink(self.marker)  # reported here, not blamed on a later crash
                        self._log(f"{run.items[len(done)][2]}: timed out after {self.msg.obj_timeout:g}s: "
                                  "this process will restart")
                        out.append((None, f"timed out after {self.msg.obj_timeout:g}s (obj_timeout)"))
            return out
        finally:
            self.inflight -= 1
            if self.poisoned and not self.inflight:
                asyncio.get_running_loop().call_later(0.2, os._exit, 1)  # after this reply is out

    def _run(self, run: _Run) -> None:
        """Blocking: `run`'s objects in turn until done or left behind. Which one is under way is
        kept in the marker file (one write as each starts and ends: its name, or nothing), where
        the process that takes over after a crash finds it."""
        fd = os.open(self.marker, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            for it in run.items:
                if not run.start():
                    return
                if self.stopping:
                    res: Result = (None, f"ETL[{self.msg.name}] is stopping")
                else:
                    os.pwrite(fd, it[2].encode(errors="replace") + b"\0", 0)
                    res = self._one(it)
                    os.pwrite(fd, b"\0", 0)
                if not run.finish(res):
                    return
            _unlink(self.marker)  # between batches no marker is left (a left-behind run's is not its own)
        finally:
            os.close(fd)

    def release(self) -> None:
        """Called before the worker is killed on purpose (the ETL stopped or removed): the object
        under way was not the cause of anything, so its marker goes, and no transform starts after."""
        self.stopping = True
        _unlink(self.marker)

    def crashed_on(self) -> str:
        """The path ("bck/obj") whose transform took the previous process down ("" if none)."""
        return self.crashed

    def _one(self, item: Item) -> Result:
        fqn, data, path, args, *rest = item
        spill = rest[0] if rest else ""
        try:
            out = self._call(fqn, data, path, args)
            if _is_stream(out) and spill:  # chunk by chunk to the mountpath's work file: bounded memory
                n = _spill(out, spill)
                self.objs += 1
                self.out_bytes += n
                return n, ""
            out = _as_bytes(out)
        except Exception as exc:
            text = f"{type(exc).__name__}: {exc}"
            self._log(f"{path}: {text}")
            return None, f"transform failed: {text}"
        self.objs += 1
        self.out_bytes += len(out)
        return out, ""

    def _call(self, fqn: str, data: bytes | None, path: str, args: str) -> Any:
        srv = self.srv
        if srv is None:
            raise RuntimeError(f"ETL[{self.msg.name}] is not running: {self.error}")
        streaming = getattr(srv, "use_streaming", False)  # the SDK: transform_stream only, no transform
        if streaming:
            f = open(fqn, "rb") if fqn else io.BytesIO(data or b"")  # noqa: SIM115 - closed by _closing
            if fqn:
                self.in_bytes += os.path.getsize(fqn)
            return _closing(f, srv.transform_stream(f, path, args))
        if fqn and self.msg.direct_fqn:  # the transform reads the file itself (ETL_DIRECT_FQN=true)
            self.in_bytes += os.path.getsize(fqn)
            return srv.transform(fqn, path, args)
        if fqn:
            with open(fqn, "rb") as f:
                data = f.read()
        assert data is not None
        self.in_bytes += len(data)
        return getattr(srv, "transform_chunks", srv.transform)(data, path, args)

    def stats(self) -> dict[str, int]:
        return {"obj_count": self.objs, "in_bytes": self.in_bytes, "out_bytes": self.out_bytes}

    def metrics(self) -> dict[str, float]:
        """CPU seconds and peak resident memory of this process (AIStore: the pod's cpu, mem)."""
        ru = resource.getrusage(resource.RUSAGE_SELF)
        return {"cpu": ru.ru_utime + ru.ru_stime, "mem": float(ru.ru_maxrss * 1024)}

    def get_logs(self) -> str:
        return "\n".join(self.logs) + ("\n" if self.logs else "")


class _Run:
    """One thread's turn at a batch's objects (`_EtlWorker._run`): results in order; once left
    behind (its current object over time), the thread adds nothing and stops."""

    def __init__(self, items: list[Item]) -> None:
        self.items = items
        self.results: list[Result] = []
        self.started = 0.0  # monotonic start of the object under way (0: none yet)
        self.gone = False  # left behind: the results are final
        self._lock = threading.Lock()

    def start(self) -> bool:
        with self._lock:
            if self.gone:
                return False
            self.started = time.monotonic()
            return True

    def finish(self, res: Result) -> bool:
        with self._lock:
            if self.gone:
                return False
            self.results.append(res)
            self.started = 0.0
            return True

    def left(self, timeout: float) -> float:
        """Seconds the object under way may still take; 0 when every object is done, or when the
        one under way is over `timeout` (the run is then left behind)."""
        with self._lock:
            if self.gone or len(self.results) == len(self.items):
                return 0.0
            if not self.started:  # its thread not started yet, or between objects
                return timeout
            left = self.started + timeout - time.monotonic()
            if left <= 0:
                self.gone = True
                return 0.0
            return left


def _is_stream(out: Any) -> bool:
    """A generator (`transform_stream`, a `transform` that yields) or a list of chunks."""
    return isinstance(out, (Iterator, list, tuple))


def _chunk(c: Any) -> bytes | bytearray | memoryview:
    if isinstance(c, str):
        return c.encode()
    if not isinstance(c, (bytes, bytearray, memoryview)):
        raise TypeError(f"the transform yielded {type(c).__name__}, expecting bytes")
    return c


def _as_bytes(out: Any) -> bytes:
    if _is_stream(out):
        return b"".join(_chunk(c) for c in out)
    if isinstance(out, (bytearray, memoryview)):
        return bytes(out)
    if isinstance(out, str):
        return out.encode()
    if not isinstance(out, bytes):
        raise TypeError(f"the transform returned {type(out).__name__}, expecting bytes")
    return out


def _spill(chunks: Iterable[Any], path: str) -> int:
    """A streaming transform's output into `path` as it comes (never all of it in memory): its size."""
    n = 0
    with open(path, "wb") as f:
        for c in chunks:
            n += f.write(_chunk(c))
    return n


def _closing(f: Any, chunks: Iterable[Any]) -> Iterator[Any]:
    try:
        yield from chunks
    finally:
        f.close()


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


EtlWorkerActor = ray.remote(_EtlWorker)
