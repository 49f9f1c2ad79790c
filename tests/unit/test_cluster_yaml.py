"""`cluster.yaml` passes exactly the validation `ray up` runs before it touches any machine."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

CLUSTER_YAML = Path(__file__).resolve().parents[2] / "cluster.yaml"


def _validate(cfg: dict) -> None:
    from ray.autoscaler._private.util import prepare_config, validate_config

    validate_config(prepare_config(copy.deepcopy(cfg)))


def test_cluster_yaml_is_valid_for_ray_up() -> None:
    cfg = yaml.safe_load(CLUSTER_YAML.read_text())
    _validate(cfg)
    starts = " ".join(cfg["head_start_ray_commands"] + cfg["worker_start_ray_commands"])
    assert "ais_proxy" in starts and "ais_target_" in starts
    assert any("ais-ray up --address" in c for c in cfg["head_start_ray_commands"])


def test_a_typo_is_caught() -> None:
    cfg = yaml.safe_load(CLUSTER_YAML.read_text())
    cfg["setup_comands"] = cfg.pop("setup_commands")
    with pytest.raises(Exception, match="setup_comands"):
        _validate(cfg)
