"""A target's mountpaths and their states (enabled / disabled / detached), kept across restarts.

Attach, enable, disable and detach at run time (ais-wire-2 §3.4) change this table; it is saved
on every mountpath (`fs/replicas.py`, newest `seq` wins), so a restarted target comes back with
the mountpaths it had — an attached one too, a detached one not — whatever its start arguments.
A detached mountpath still holding objects (its resilver has not ended: `draining`) is not gone:
a target restarted meanwhile serves and walks it again, until the resilver that empties it ends
(`forgotten`). Before, its objects were left behind on a mountpath nothing read any more.
"""

from __future__ import annotations

import json
import os

from ais_ray.core.errors import ErrBadRequest, ErrNotFound
from ais_ray.core.smap import MP_DETACHED, MP_DISABLED, MP_ENABLED
from ais_ray.fs.replicas import load_newest, save_everywhere

FSPATHS_FILE = ".ais.fspaths"
ATTACH, DETACH, ENABLE, DISABLE = "attach-mp", "detach-mp", "enable-mp", "disable-mp"
ACTIONS = {ATTACH: MP_ENABLED, ENABLE: MP_ENABLED, DISABLE: MP_DISABLED, DETACH: MP_DETACHED}


class Fspaths:
    def __init__(self, initial: list[str], *, fsync: bool) -> None:
        """`initial`: the mountpaths the target was started with; the saved table overrides them."""
        self.fsync = fsync
        self._initial = initial
        saved = load_newest(initial, FSPATHS_FILE, json.loads, lambda d: int(d.get("seq", 0))) or {}
        self.seq = int(saved.get("seq", 0))
        self.states: dict[str, str] = {p: MP_ENABLED for p in initial}
        self.states.update({os.path.abspath(p): s for p, s in (saved.get("paths") or {}).items()
                            if s in (MP_ENABLED, MP_DISABLED, MP_DETACHED)})
        draining = saved.get("draining")
        self.draining = {os.path.abspath(p) for p in draining if isinstance(p, str) and
                         self.states.get(os.path.abspath(p)) == MP_DETACHED} if isinstance(draining, list) else set()

    def live(self) -> list[str]:
        """Mountpaths with a worker: every one not (fully) detached."""
        return [p for p, s in self.states.items() if s != MP_DETACHED or p in self.draining]

    def change(self, action: str, path: str, known: bool) -> str:
        """The new state of `path` after `action` (not saved yet).

        Raises:
            ErrBadRequest: unknown action, or a relative path. ErrNotFound: enable / disable /
            detach of a mountpath this target does not have (`known`).
        """
        if action not in ACTIONS:
            raise ErrBadRequest(f'invalid mountpath action "{action}" (expecting one of {", ".join(ACTIONS)})')
        if not path or not os.path.isabs(path):
            raise ErrBadRequest(f'mountpath must be an absolute path, got "{path}"')
        if action != ATTACH and not known:
            raise ErrNotFound(f'mountpath "{path}" does not exist')
        return ACTIONS[action]

    def save(self, path: str, state: str) -> None:
        """`path` is in `state` now (detached: draining until `forgotten`)."""
        self.states[path] = state
        if state == MP_DETACHED:
            self.draining.add(path)
        else:
            self.draining.discard(path)
        self._write()

    def forgotten(self, paths: list[str]) -> None:
        """Detached mountpaths the resilver emptied: gone for good."""
        if self.draining & set(paths):
            self.draining -= set(paths)
            self._write()

    def _write(self) -> None:
        self.seq += 1
        body = json.dumps({"seq": self.seq, "paths": self.states, "draining": sorted(self.draining)}).encode()
        save_everywhere(dict.fromkeys([*self.live(), *self._initial]), FSPATHS_FILE, body, fsync=self.fsync)
