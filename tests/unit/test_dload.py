"""Download job specs: validation, naming, and lazy item generation (pure)."""

import itertools
import time

import pytest

from ais_ray.core.dload import DlKind, DlSpec, normalize_link, parse_request, spec_from_json, spec_to_json
from ais_ray.core.errors import ErrBadRequest, ErrInvalidName, ErrInvalidTemplate, ErrInvalidURL, ErrUnsupported
from ais_ray.core.names import Bucket, Provider


def spec(body: dict, **kw) -> DlSpec:
    return parse_request(body, job_id="dnl-x", bck=Bucket("dst"), now=0.0, timeout=0.0, conns=0, bph=0, **kw)


def test_ten_million_names_are_never_materialised() -> None:
    s = spec({"type": "range", "template": "h/obj-{0000000..9999999}.bin", "subdir": "sub"})
    assert s.count() == 10_000_000
    t0 = time.monotonic()
    tail = list(itertools.islice(s.items(9_999_998), 5))
    assert time.monotonic() - t0 < 1.0  # starting near the end costs nothing: the first items are not generated
    assert [(i.idx, i.name) for i in tail] == [(9_999_998, "sub/obj-9999998.bin"), (9_999_999, "sub/obj-9999999.bin")]
    assert tail[0].link == "http://h/obj-9999998.bin"


def test_names_from_links() -> None:
    s = spec({"type": "multi", "objects": ["http://h/a/b.tgz?sig=1&x=/y", "h2/c%20d.bin", "s3://bk/dir/e"]})
    assert [(i.name, i.link) for i in s.items()] == [
        ("b.tgz", "http://h/a/b.tgz?sig=1&x=/y"), ("c d.bin", "http://h2/c%20d.bin"), ("e", "s3://bk/dir/e")]
    s = spec({"type": "single", "link": "https://h/x/y.iso", "object_name": "ubuntu/y.iso"})
    assert [(i.name, i.link) for i in s.items()] == [("ubuntu/y.iso", "https://h/x/y.iso")]


@pytest.mark.parametrize(("body", "err"), [
    ({"type": "range", "template": "h/a-{5..1}"}, ErrInvalidTemplate),
    ({"type": "range", "template": "h/a-{1..3..0}"}, ErrInvalidTemplate),
    ({"type": "range", "template": ""}, ErrBadRequest),
    ({"type": "multi", "objects": []}, ErrBadRequest),
    ({"type": "multi", "objects": "http://h/a"}, ErrBadRequest),
    ({"type": "multi", "objects": {"a/../b": "http://h/a"}}, ErrInvalidName),
    ({"type": "single", "link": "ftp://h/a"}, ErrUnsupported),
    ({"type": "single", "link": "gs://bucket-only"}, ErrInvalidURL),
    ({"type": "backend"}, ErrBadRequest),
])
def test_bad_requests(body: dict, err: type) -> None:
    with pytest.raises(err):
        spec(body)


def test_backend_and_json_roundtrip() -> None:
    s = spec({"type": "backend", "prefix": "p/", "suffix": ".tgz", "synchronize": True}, src=Bucket("src", Provider.GCP))
    assert s.kind is DlKind.BACKEND and s.count() == -1 and s.sync
    assert s.wants("p/x.tgz") and not s.wants("q/x.tgz") and not s.wants("p/x.tar")
    assert s.backend_item(3, "p/x.tgz").link == "gs://src/p/x.tgz"
    assert spec_from_json(spec_to_json(s)) == s


def test_normalize_link() -> None:
    assert normalize_link("host:8080/a") == "http://host:8080/a"
    assert normalize_link(" https://h/a ") == "https://h/a"
    with pytest.raises(ErrInvalidURL):
        normalize_link("")


def test_range_whose_longest_name_is_invalid_is_refused_at_post() -> None:
    """Issue 15 item 7: the first names fit in 1024 bytes, `f-100` onwards do not."""
    subdir = "/".join(["d" * 254] * 4)  # 1019 bytes
    assert len(subdir) == 1019
    spec({"type": "range", "template": "h/f-{98..99}", "subdir": subdir})  # 1024 bytes: fine
    with pytest.raises(ErrInvalidName, match="longer than 1024"):
        spec({"type": "range", "template": "h/f-{98..102}", "subdir": subdir})


def test_fsync_mode_defaults_to_batch_is_validated_and_persisted() -> None:
    assert spec({"type": "single", "link": "http://h/a"}).fsync == "batch"
    for mode in ("object", "batch", "off"):
        s = spec({"type": "single", "link": "http://h/a", "fsync": mode})
        assert s.fsync == mode and spec_from_json(spec_to_json(s)) == s
    with pytest.raises(ErrBadRequest, match='invalid fsync mode "always"'):
        spec({"type": "single", "link": "http://h/a", "fsync": "always"})
    old = spec_to_json(spec({"type": "single", "link": "http://h/a"}))
    del old["fsync"]  # a job saved before the setting existed: a restart still loads it
    assert spec_from_json(old).fsync == "batch"


def test_an_item_dispatched_by_two_owners_is_scheduled_once_in_the_status() -> None:
    from ais_ray.core.dload import TargetDlStatus, merge_status

    s = spec({"type": "range", "template": "h/obj-{0..24}"})
    # two targets' shares after a join moved an item between them mid-walk: 14 + 12 dispatched
    parts = [TargetDlStatus(finished=14, scheduled=14, all_dispatched=True, end_time=1.0),
             TargetDlStatus(finished=11, scheduled=12, all_dispatched=True, end_time=2.0)]
    st = merge_status(s, parts, aborted=False, only_active=True)
    assert (st["total"], st["scheduled_cnt"], st["finished_cnt"]) == (25, 25, 25)
    parts[1].scheduled = 10  # still walking: what was dispatched so far
    assert merge_status(s, parts, aborted=False, only_active=True)["scheduled_cnt"] == 24
