"""The download runner's saved finished tasks: rows now, dicts in older saves (jobs/download.py)."""

from __future__ import annotations

import json
from dataclasses import asdict

from ais_ray.core.dload import TaskInfo
from ais_ray.jobs.download import task_from_saved


def test_saved_task_rows_and_old_dicts_load_the_same() -> None:
    t = TaskInfo("a/b", 10, 10, 1.5, 2.5)
    row = json.loads(json.dumps((t.name, t.downloaded, t.total, t.start_time, t.end_time)))
    assert task_from_saved(row) == t
    assert task_from_saved(json.loads(json.dumps(asdict(t)))) == t
