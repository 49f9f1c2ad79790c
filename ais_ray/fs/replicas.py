"""Node state kept on every mountpath, so losing any one disk loses nothing (as AIStore keeps
its Smap, BMD and VMD copies on each mountpath). Readers take the newest readable copy."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from typing import TypeVar

from ais_ray.fs.store import write_file_atomic

log = logging.getLogger(__name__)
T = TypeVar("T")


def save_everywhere(paths: Iterable[str], name: str, data: bytes, *, fsync: bool = True) -> int:
    """Write `name` atomically into every mountpath that can take it; return how many copies exist."""
    done = 0
    for p in paths:
        try:
            write_file_atomic(os.path.join(p, name), data, fsync=fsync)
            done += 1
        except OSError as exc:  # a failing disk must not stop the node: the other copies stand
            log.warning("cannot save %s on %s: %r", name, p, exc)
    return done


def load_newest(paths: Iterable[str], name: str, parse: Callable[[bytes], T],
                version: Callable[[T], int] = lambda _: 0) -> T | None:
    """The copy of `name` with the highest `version` among the mountpaths; unreadable or
    unparsable copies (a torn disk, an older format) are skipped, never fatal."""
    best: T | None = None
    for p in paths:
        try:
            with open(os.path.join(p, name), "rb") as f:
                value = parse(f.read())
        except FileNotFoundError:
            continue
        except Exception as exc:  # a damaged copy must not stop the node: another may be good
            log.warning("ignoring unreadable %s on %s: %r", name, p, exc)
            continue
        if best is None or version(value) > version(best):
            best = value
    return best
