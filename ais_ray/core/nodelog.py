"""A node's own log, as AIStore keeps and serves it (`ais log show|get`, `GET /v1/reverse/daemon?what=log`).

Every process of a node appends to that node's two files in `<log dir>/<node>/`: the proxy `p1`'s
actor, front door and API replica; a target's actor and its mountpath workers. As AIStore's nodes
write theirs, `<node>.INFO` holds every record and `<node>.ERROR` the warnings and errors only.
Both rotate by size (`<node>.INFO.1` the newest older one); the processes that share a file share
its rotation through a lock file beside it (concurrent-log-handler). Records still go to stderr
too, where Ray keeps each worker's output.

`read` answers `what=log` (`severity`: i[nfo], w[arning], e[rror]; `offset`: from that byte on, as
`ais log show --refresh` asks), `archive` `what=log&all=true` (a TAR.GZ of the node's files of that
severity). A log that cannot be set up (a read-only directory, say) never stops a node: it logs to
stderr alone.
"""

from __future__ import annotations

import io
import logging
import os
import tarfile

from concurrent_log_handler import ConcurrentRotatingFileHandler

from ais_ray.core.errors import ErrBadRequest, ErrNotFound

MAX_SIZE = 4 << 20  # AIStore's log.max_size (4 MiB) ...
BACKUPS = 15  # ... and at most 64 MiB of each file (AIStore: log.max_total 128 MiB, both files)
FILES = {"i": "INFO", "w": "ERROR", "e": "ERROR"}  # AIStore's sev2Logname: by the first letter
FORMAT = "%(levelname).1s %(asctime)s.%(msecs)03d {who} %(name)s:%(lineno)d %(message)s"
DATEFMT = "%Y-%m-%d %H:%M:%S"
_MARK = "_ais_node_log"  # on the handlers `setup` added: a second call adds none

log = logging.getLogger(__name__)


def node_dir(log_dir: str, node: str) -> str:
    if not log_dir:
        raise ErrNotFound(f"{node} keeps no log files (started without a log directory: stderr only)")
    if not node or node in (".", "..") or "/" in node or "\0" in node:
        raise ErrBadRequest(f'invalid node ID "{node}"')
    return os.path.join(log_dir, node)


def log_file(log_dir: str, node: str, severity: str = "") -> str:
    """`<log dir>/<node>/<node>.INFO` or `.ERROR` by `severity` (default info); a 400 naming the choices."""
    sev = FILES.get((severity or "i")[:1].lower())
    if sev is None:
        raise ErrBadRequest(f'unknown log severity "{severity}" (expecting info, warning or error)')
    return os.path.join(node_dir(log_dir, node), f"{node}.{sev}")


def setup(node: str, log_dir: str, who: str = "", *, max_size: int = MAX_SIZE) -> None:
    """Log INFO and up to stderr and, with `log_dir`, to the node's two files; `who` names this
    process in each record (`t1/mp2`; default the node); each file rotates at `max_size`."""
    logging.basicConfig(level=logging.INFO)
    root = logging.getLogger()
    if not log_dir or any(getattr(h, _MARK, False) for h in root.handlers):
        return
    fmt = logging.Formatter(FORMAT.format(who=(who or node).replace("%", "%%")), DATEFMT)  # a "%" in a dir name
    try:
        os.makedirs(node_dir(log_dir, node), exist_ok=True)
        for sev, level in (("i", logging.INFO), ("e", logging.WARNING)):
            h = ConcurrentRotatingFileHandler(log_file(log_dir, node, sev), maxBytes=max_size, backupCount=BACKUPS)
            h.setLevel(level)
            h.setFormatter(fmt)
            setattr(h, _MARK, True)
            root.addHandler(h)
    except (OSError, ErrBadRequest) as exc:
        log.warning("%s: no log files in %s: %s", node, log_dir, exc)
        return
    log.info("started (pid %d)", os.getpid())


def read(log_dir: str, node: str, severity: str = "", offset: int = 0) -> bytes:
    """The node's current log of `severity`, from byte `offset` on (past its end: rotated, a 400)."""
    path = log_file(log_dir, node, severity)
    if offset < 0:
        raise ErrBadRequest(f"invalid log offset {offset}")
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if offset > size:
                raise ErrBadRequest(f"log likely rotated (offset {offset}, size {size})")
            f.seek(offset)
            return f.read()
    except FileNotFoundError:  # nothing logged yet (or only rotated files: none since)
        return b""


def archive(log_dir: str, node: str, severity: str = "") -> bytes:
    """A TAR.GZ of every file of the node's log of `severity`, the rotated ones too (AIStore's `all=true`)."""
    current = log_file(log_dir, node, severity)
    d, name = os.path.split(current)
    try:
        names = sorted(n for n in os.listdir(d) if n == name or n.startswith(name + "."))
    except FileNotFoundError:  # nothing logged yet: an empty archive
        names = []
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for n in names:
            try:
                tar.add(os.path.join(d, n), arcname=n, recursive=False)
            except FileNotFoundError:  # rotated away while we went
                continue
    return buf.getvalue()


def answer(log_dir: str, node: str, severity: str = "", offset: int = 0, all_logs: bool = False) -> bytes:
    """`what=log`: the current log, or with `all_logs` the archive of them all."""
    return archive(log_dir, node, severity) if all_logs else read(log_dir, node, severity, offset)
