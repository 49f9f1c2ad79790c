"""Progress bars like the `ais` CLI's: an overall bar plus one bar per object in flight.

Rendering is pure (`render_bar` returns a line); `Live` redraws a block of lines in place on
a terminal and, when output is not a terminal (logs, CI, tests), prints the block at most
once per interval so the output stays readable.
"""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass
from typing import TextIO

from ais_ray.core.sizes import format_size


@dataclass
class Bar:
    label: str
    done: int
    total: int  # <= 0: unknown
    is_bytes: bool = True
    rate: float = 0.0  # per second
    started: float = 0.0


def _eta(bar: Bar) -> str:
    if bar.rate <= 0 or bar.total <= 0 or bar.done >= bar.total:
        return ""
    left = int((bar.total - bar.done) / bar.rate)
    return f"{left // 3600:02d}:{left % 3600 // 60:02d}:{left % 60:02d}"


def render_bar(bar: Bar, width: int = 100, label_width: int = 0) -> str:
    """One line: `label done/total [=====>-----] pct % eta rate`."""
    fmt = format_size if bar.is_bytes else str
    counts = f"{fmt(bar.done)}/{fmt(bar.total) if bar.total > 0 else '?'}"
    pct = min(100, int(100 * bar.done / bar.total)) if bar.total > 0 else 0
    tail = f" {pct:3d} %"
    if bar.is_bytes and bar.rate > 0:
        tail += f" {_eta(bar):>8} {format_size(int(bar.rate))}/s"
    head = f"{bar.label:<{label_width}} {counts}"
    inner = max(10, width - len(head) - len(tail) - 3)
    filled = inner * pct // 100
    body = "=" * filled + (">" if 0 < filled < inner else "") + "-" * (inner - filled - (1 if 0 < filled < inner else 0))
    return f"{head} [{body}]{tail}"


def render_block(bars: list[Bar], width: int = 100) -> list[str]:
    lw = max((len(b.label) for b in bars), default=0)
    return [render_bar(b, width, lw) for b in bars]


class Live:
    """Redraws a block of bars; use `update` repeatedly and `close` at the end."""

    def __init__(self, out: TextIO | None = None, interval: float = 1.0) -> None:
        self.out = out or sys.stdout
        self.tty = self.out.isatty()
        self.interval = interval
        self._drawn = 0
        self._last = 0.0
        self._last_lines: list[str] = []

    def update(self, bars: list[Bar], *, force: bool = False, summary: str = "") -> None:
        """Draw `bars`; off a terminal, `summary` (when given) stands for the whole block: a log gets one
        line per change instead of every per-object bar again."""
        now = time.monotonic()
        if not self.tty and not force and now - self._last < self.interval:
            return
        self._last = now
        width = shutil.get_terminal_size((110, 20)).columns - 1 if self.tty else 110
        lines = [summary] if summary and not self.tty else render_block(bars, width)
        if not self.tty and lines == self._last_lines:
            return  # a log gets each state once
        self._last_lines = lines
        if self.tty and self._drawn:
            self.out.write(f"\x1b[{self._drawn}F\x1b[J")
        self.out.write("\n".join(lines) + "\n")
        self.out.flush()
        self._drawn = len(lines) if self.tty else 0

    def close(self, bars: list[Bar] | None = None, summary: str = "") -> None:
        if bars is not None:
            self.update(bars, force=True, summary=summary)

    @property
    def rows(self) -> int:
        """How many per-object bars fit under the totals (a terminal's height; 10 in a log)."""
        return max(1, shutil.get_terminal_size((110, 24)).lines - 4) if self.tty else 10


class ByteProgress:
    """A single transfer's bar (put / get of a large file)."""

    def __init__(self, label: str, total: int, out: TextIO | None = None) -> None:
        self.bar = Bar(label, 0, total, started=time.monotonic())
        self.live = Live(out, interval=2.0)

    def __call__(self, n: int) -> None:
        self.bar.done += n
        elapsed = time.monotonic() - self.bar.started
        self.bar.rate = self.bar.done / elapsed if elapsed > 0 else 0.0
        self.live.update([self.bar])

    def close(self) -> None:
        self.live.close([self.bar])
