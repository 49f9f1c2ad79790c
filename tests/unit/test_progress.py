"""Download progress as drawn by the CLI (issue 17.4): bounded rows of real transfers on a terminal,
one summary line per change in a log."""

from __future__ import annotations

import io

from ais_ray.cli.download_cmds import _bars, _progress_line
from ais_ray.cli.progress import Live


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def status(n_tasks: int, *, done: int = 0) -> dict[str, object]:
    tasks = [{"name": f"f{i:03d}", "downloaded": 1000 * i, "total": 10_000 if i % 2 else 0} for i in range(n_tasks)]
    return {"total": 141, "scheduled_cnt": 141, "finished_cnt": done, "skipped_cnt": 0, "error_cnt": 1,
            "current_tasks": tasks}


def test_only_moving_transfers_get_rows_and_at_most_rows() -> None:
    st = status(40)
    st["current_tasks"].append({"name": "queued", "downloaded": 0, "total": 0})  # type: ignore[attr-defined]
    st["current_tasks"].append({"name": "done", "downloaded": 5, "total": 5})  # type: ignore[attr-defined]
    bars = _bars(st, {}, rows=8)
    assert bars[0].label == "Files downloaded:" and (bars[0].done, bars[0].total) == (1, 141)
    assert len(bars) == 9 and {"queued", "done"}.isdisjoint(b.label for b in bars)
    assert all(b.done or b.total for b in bars[1:])


def test_a_terminal_redraws_in_place() -> None:
    out = Tty()
    live = Live(out, interval=0)
    live.update(_bars(status(3), {}, rows=live.rows))
    live.update(_bars(status(3, done=5), {}, rows=live.rows))
    text = out.getvalue()
    assert "\x1b[" in text and text.count("Files downloaded:") == 2


def test_a_log_gets_one_line_per_change() -> None:
    out = io.StringIO()
    live = Live(out, interval=0)
    for done in (0, 0, 7, 7, 140):
        st = status(30, done=done)
        live.update(_bars(st, {}, live.rows), summary=_progress_line(st, active=True))
    assert out.getvalue().splitlines() == [
        "Download progress: 1/141 (0.71%), 30 in flight, 1 errors",
        "Download progress: 8/141 (5.67%), 30 in flight, 1 errors",
        "Download progress: 141/141 (100.00%), 30 in flight, 1 errors",
    ]
