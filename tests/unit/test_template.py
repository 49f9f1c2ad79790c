"""Range templates must expand as AIStore's `cmn/cos/template.go` does, lazily and by index."""

from __future__ import annotations

import itertools
import tracemalloc

import pytest
from braceexpand import braceexpand

from ais_ray.core.errors import ErrInvalidTemplate
from ais_ray.core.template import MAX_TEMPLATE_EXPANSION, Template, has_braces


def names(text: str) -> list[str]:
    return list(Template.parse(text))


# --- AIStore's own examples (template.go, the downloader docs) ---------------------------------


def test_padding_to_shorter_bound() -> None:
    t = Template.parse("{001..999}")
    assert t.count() == 999
    assert t[0] == "001" and t[1] == "002" and t[98] == "099" and t[-1] == "999"


def test_step_without_padding() -> None:
    got = names("{1..1000..10}")
    assert got[:3] == ["1", "11", "21"]
    assert got[-1] == "991"
    assert len(got) == 100


def test_downloader_doc_example() -> None:
    t = Template.parse("gs://lpr-vision/imagenet/imagenet_train-{000000..000140}.tgz")
    assert t.count() == 141
    assert t.prefix == "gs://lpr-vision/imagenet/imagenet_train-"
    assert t[0] == "gs://lpr-vision/imagenet/imagenet_train-000000.tgz"
    assert t[140] == "gs://lpr-vision/imagenet/imagenet_train-000140.tgz"


def test_multi_range_last_varies_fastest() -> None:
    assert names("prefix-{00001..00003..2}-gap-{001..005..2}-suffix") == [
        "prefix-00001-gap-001-suffix",
        "prefix-00001-gap-003-suffix",
        "prefix-00001-gap-005-suffix",
        "prefix-00003-gap-001-suffix",
        "prefix-00003-gap-003-suffix",
        "prefix-00003-gap-005-suffix",
    ]


def test_padding_is_min_of_lengths_not_bash_max() -> None:
    # AIStore: digits = min(len(START), len(END)); bash would pad to 3 ("005").
    assert names("{05..100}")[:2] == ["05", "06"]
    assert names("{05..100}")[-1] == "100"
    assert names("{5..0010}")[:1] == ["5"]


def test_step_not_reaching_end() -> None:
    assert names("x{0..10..4}") == ["x0", "x4", "x8"]
    assert names("x{3..3}") == ["x3"]


def test_at_form() -> None:
    t = Template.parse("pfx-@00100")
    assert t.prefix == "pfx-"
    assert t.count() == 101
    assert t[0] == "pfx-00000" and t[-1] == "pfx-00100"
    assert names("a@2-b@1.bin") == ["a0-b0.bin", "a0-b1.bin", "a1-b0.bin", "a1-b1.bin", "a2-b0.bin", "a2-b1.bin"]


def test_bash_wins_over_at() -> None:
    # '{' present: bash parsing; '@' is then literal gap text
    assert names("u@{1..2}") == ["u@1", "u@2"]


def test_prefix_only() -> None:
    t = Template.parse("logs/2025/07/")
    assert t.is_prefix_only and not t.is_range and not t.is_match_all
    assert t.prefix == "logs/2025/07/"
    assert t.count() == 0 and list(t) == []
    trimmed = Template.parse("logs/2025*")
    assert trimmed.prefix == "logs/2025"
    with pytest.raises(ErrInvalidTemplate, match="has no range"):
        trimmed.require_range()
    with pytest.raises(IndexError):
        trimmed[0]


def test_a_lone_closing_brace_is_a_prefix_like_go() -> None:
    assert Template.parse("a}b").prefix == "a}b"


@pytest.mark.parametrize("text", ["", "*"])
def test_match_all(text: str) -> None:
    t = Template.parse(text)
    assert t.is_match_all and t.is_prefix_only
    assert t.prefix == "" and t.count() == 0
    with pytest.raises(ErrInvalidTemplate):
        t.require_range()


def test_fmt_form_is_unbounded() -> None:
    with pytest.raises(ErrInvalidTemplate, match="more than the maximum of 10000000"):
        Template.parse("shard-%06d.tar")
    t = Template.parse("shard-%06d.tar", max_count=None)
    assert t.prefix == "shard-"
    assert list(itertools.islice(t, 3)) == ["shard-000000.tar", "shard-000001.tar", "shard-000002.tar"]
    assert Template.parse("n-%d", max_count=None)[12] == "n-12"
    assert t.require_range() is t


# --- cross-check with braceexpand (what the SDK uses client-side) ------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "{0..9}",
        "{1..100}",
        "{001..999}",
        "obj-{0000..0150}.tgz",
        "pfx-{0..100..7}-sfx",
        "a{1..3}b{10..12}c",
        "train-{00..19}/shard-{000..049..3}.tar",
        "http://h/dir/obj{0001..0100}.tgz",
        "{10..200..10}",
    ],
)
def test_agrees_with_braceexpand(text: str) -> None:
    assert names(text) == list(braceexpand(text))


# --- lazy iteration and indexing --------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["{0..9}", "a{1..3}b{10..12}c{0..4..2}", "x-{000..100..3}", "pfx-@12-@3", "{7..7}-{2..5}"])
def test_iter_from_k_and_getitem_agree_with_full_list(text: str) -> None:
    t = Template.parse(text)
    full = list(t)
    assert len(full) == t.count()
    for k in range(len(full) + 2):
        assert list(t.iter(k)) == full[k:]
    for i in range(len(full)):
        assert t[i] == full[i]
        assert t[i - len(full)] == full[i]
    with pytest.raises(IndexError):
        t[len(full)]
    with pytest.raises(ValueError, match="negative"):
        list(t.iter(-1))


def test_ten_million_names_lazily() -> None:
    t = Template.parse("shard-{0000000..9999999}.tar")
    assert t.count() == MAX_TEMPLATE_EXPANSION
    assert list(t.iter(9_999_998)) == ["shard-9999998.tar", "shard-9999999.tar"]
    assert t[5_000_000] == "shard-5000000.tar"
    tracemalloc.start()
    try:
        last = ""
        for n, name in enumerate(t.iter(1234)):
            last = name
            if n == 20_000:
                break
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert last == "shard-0021234.tar"
    assert peak < 64 * 1024, peak  # a handful of strings, never the list


def test_multi_range_ten_million_start_deep_inside() -> None:
    t = Template.parse("d{0000..9999}/f{000..999}")
    assert t.count() == 10_000_000
    assert list(itertools.islice(t.iter(1_234_998), 3)) == ["d1234/f998", "d1234/f999", "d1235/f000"]


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("x-{10..1}", "start 10 is greater than end 1"),
        ("x-{-1..5}", "start -1 is negative"),
        ("x-{0..5..0}", "step 0 is not positive"),
        ("x-{0..5..-1}", "step -1 is not positive"),
        ("x-{a..z}", '"x-{a..z}": start "a" is not a valid integer'),
        ("x-{1..z}", 'end "z" is not a valid integer'),
        ("x-{1..5..}", 'step "" is not a valid integer'),
        ("x-{1,2,3}", r'"\{1,2,3\}" is not START..END\[..STEP\]'),
        ("x-{1..2..3..4}", "is not START..END"),
        ("x-{}", "is not START..END"),
        ("x-{0..9", "unbalanced braces"),
        ("x-}0..9{", "unbalanced braces"),
        ("x-{0..9}-{", "unbalanced braces"),
        ("x-{0..9}}{1..2", "unbalanced braces"),
        ("x-{ 1..2}", "not a valid integer"),
        ("x-{0..99999999999999999999}", "not a valid integer"),
        ("x-{0..10000000}", "expands to 10000001 names, more than the maximum of 10000000"),
        ("{0..9999}{0..9999}", "more than the maximum"),
        ("{0..9223372036854775807}", "too large to expand"),
        ("user@host", "'@' must be followed by digits"),
        ("a%b", "invalid 'fmt' template"),
        ("a%5d", "invalid 'fmt' template"),
        ("a%x6d", "invalid 'fmt' template"),
    ],
)
def test_invalid_templates(text: str, match: str) -> None:
    with pytest.raises(ErrInvalidTemplate, match=match):
        Template.parse(text, max_count=MAX_TEMPLATE_EXPANSION)


def test_max_count_can_be_lowered_or_lifted() -> None:
    with pytest.raises(ErrInvalidTemplate, match="more than the maximum of 10"):
        Template.parse("{0..10}", max_count=10)
    assert Template.parse("{0..99999999}", max_count=None).count() == 100_000_000


def test_two_percent_signs_are_a_prefix_like_go() -> None:
    assert Template.parse("a%b%c").is_prefix_only


def test_has_braces() -> None:
    assert has_braces("x-{0..9}")
    assert has_braces("}{")
    assert not has_braces("x-{0..9")
    assert not has_braces("pfx-@001")
    assert not has_braces("")
