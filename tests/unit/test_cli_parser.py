"""The command line's parser, without a cluster: suggestions for typos and shell completion (issue 17)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ais_ray.cli.main import main


@pytest.mark.parametrize(("argv", "suggestion"), [
    (["strat", "download"], "did you mean 'start'?"),
    (["show", "clustr"], "did you mean 'cluster'?"),
    (["start", "rebalnce"], "did you mean 'rebalance'?"),
])
def test_a_typo_gets_did_you_mean(argv: list[str], suggestion: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.strip().endswith(suggestion), err


def test_nothing_close_gets_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["zzzzzz"])
    err = capsys.readouterr().err
    assert "did you mean" not in err and "choose from" in err


def _complete(line: str, tmp_path: Path) -> list[str]:
    """What the shell hook gets for `line<TAB>`: run the installed console script as bash would."""
    out = tmp_path / "completions"
    env = {**os.environ, "_ARGCOMPLETE": "1", "COMP_LINE": line, "COMP_POINT": str(len(line)),
           "_ARGCOMPLETE_STDOUT_FILENAME": str(out), "_ARGCOMPLETE_IFS": "\n"}
    script = Path(sys.executable).with_name("ais-ray")
    p = subprocess.run([str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return out.read_text().split("\n")


def test_start_tab_lists_the_startable_jobs(tmp_path: Path) -> None:
    words = _complete("ais-ray start ", tmp_path)
    assert {"download", "prefetch", "mirror", "rebalance", "resilver", "ec-encode"} <= set(words), words


def test_completion_prints_a_hook() -> None:
    script = Path(sys.executable).with_name("ais-ray")
    p = subprocess.run([str(script), "completion", "bash"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "complete " in p.stdout and "ais-ray" in p.stdout


@pytest.mark.parametrize("argv", [["rmb", "ais://a", "ais://b", "-y"], ["bucket", "rm", "ais://a", "--yes"]])
def test_rmb_takes_yes_as_ais_scripts_say_it(argv: list[str]) -> None:
    from ais_ray.cli.main import build_parser

    args = build_parser().parse_args(argv)
    assert args.buckets[0] == "ais://a" and args.yes


def test_ls_props_name_first_all_and_unknown() -> None:
    from ais_ray.cli.bucket_cmds import LS_PROPS, ls_props
    from ais_ray.cli.common import CliError
    assert ls_props("") == ["name", "size", "cached"]
    assert ls_props("size,version") == ["name", "size", "version"]  # NAME even when not named (ais ls)
    assert ls_props("version, name ,size") == ["name", "version", "size"]
    assert ls_props("all") == list(LS_PROPS)
    with pytest.raises(CliError, match="'colour'"):
        ls_props("size,colour")


def test_get_batch_sources_split_at_the_shard() -> None:
    from ais_ray.cli.ml_cmds import split_archpath

    assert split_archpath("shard.tar/a/1.jpg") == ("shard.tar", "a/1.jpg")
    assert split_archpath("d/s-01.tgz/x.cls") == ("d/s-01.tgz", "x.cls")
    assert split_archpath("d/s.tar.gz/y") == ("d/s.tar.gz", "y")
    assert split_archpath("plain/object.bin") == ("plain/object.bin", "")
    assert split_archpath("only.tar") == ("only.tar", "")  # the shard itself, whole
