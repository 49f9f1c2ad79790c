"""Download sources and link-derived object names, per `ext/dload` and the `ais` CLI."""

from __future__ import annotations

import pytest

from ais_ray.core.errors import ErrInvalidName, ErrInvalidURL, ErrUnsupported
from ais_ray.core.links import (
    DlSource,
    join_subdir,
    obj_name_from_link,
    parse_source,
    prepend_protocol,
    validate_link,
)
from ais_ray.core.names import Bucket, Namespace, Provider


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("releases.ubuntu.com/a.iso", "http://releases.ubuntu.com/a.iso"),
        ("http://h/a", "http://h/a"),
        ("https://h/a", "https://h/a"),
        ("s3://b/o", "s3://b/o"),
        ("", ""),
    ],
)
def test_prepend_protocol(link: str, expected: str) -> None:
    assert prepend_protocol(link) == expected


def test_validate_link() -> None:
    assert validate_link("h:8080/x") == "http://h:8080/x"
    assert validate_link("HTTPS://h/x") == "HTTPS://h/x"
    with pytest.raises(ErrUnsupported, match='unsupported scheme "ftp" in download link "ftp://h/x"'):
        validate_link("ftp://h/x")
    with pytest.raises(ErrInvalidURL, match="missing host"):
        validate_link("http:///x")
    with pytest.raises(ErrInvalidURL, match="link is missing"):
        validate_link("")
    with pytest.raises(ErrInvalidURL, match='invalid download link "http://h:port/x"'):
        validate_link("http://h:port/x")


@pytest.mark.parametrize(
    ("link", "name"),
    [
        ("http://releases.ubuntu.com/18.04.1/ubuntu-18.04.1-desktop-amd64.iso", "ubuntu-18.04.1-desktop-amd64.iso"),
        ("https://raw.githubusercontent.com/NVIDIA/aistore/master/LICENSE?query=values", "LICENSE"),
        ("http://h/dir/file.tgz#frag", "file.tgz"),
        ("http://h/dir/sub/", "sub"),
        ("h/a%20b.txt", "a b.txt"),
        ("http://h/%E6%97%A5%E6%9C%AC.txt", "日本.txt"),
        ("http://h/a+b", "a+b"),
        ("http://h/a%2520b", "a%20b"),  # unescaped exactly once
        ("http://h/x.tgz?next=a/b", "x.tgz"),  # a '/' in the query does not pick the name
        ("http://h/dir/obj{0001..0100}.tgz", "obj{0001..0100}.tgz"),
    ],
)
def test_obj_name_from_link(link: str, name: str) -> None:
    assert obj_name_from_link(link) == name


@pytest.mark.parametrize(
    ("link", "error", "match"),
    [
        ("", ErrInvalidURL, 'from the download link ""'),
        ("http://h", ErrInvalidURL, "cannot extract an object name"),
        ("http://h/", ErrInvalidURL, "cannot extract an object name"),
        ("http://h///", ErrInvalidURL, "cannot extract an object name"),
        ("http://h/a%zz", ErrInvalidURL, "invalid escape"),
        ("http://h/a%4", ErrInvalidURL, "invalid escape"),
        ("http://h/%ff%fe", ErrInvalidURL, "not UTF-8"),
        ("http://h/dir/..", ErrInvalidName, "'.' or '..'"),
        ("http://h/%2E%2E", ErrInvalidName, "'.' or '..'"),
        ("http://h/x%00y", ErrInvalidName, "NUL"),
        ("http://h/" + "n" * 300, ErrInvalidName, "longer than"),
    ],
)
def test_obj_name_from_link_errors(link: str, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        obj_name_from_link(link)


def test_escaped_slash_becomes_a_directory() -> None:
    # Same as AIStore: the base is taken before unescaping, so %2F survives into the name.
    assert obj_name_from_link("http://h/a%2Fb") == "a/b"


@pytest.mark.parametrize(
    ("subdir", "name", "expected"),
    [
        ("", "a.tgz", "a.tgz"),
        ("imagenet", "a.tgz", "imagenet/a.tgz"),
        ("imagenet/", "a.tgz", "imagenet/a.tgz"),
        ("set_1//x/./", "a.tgz", "set_1/x/a.tgz"),
        ("sub/deeper/..", "a.tgz", "sub/a.tgz"),
        ("sub", "../a.tgz", "a.tgz"),  # path.Join resolves '..' lexically and stays inside
    ],
)
def test_join_subdir(subdir: str, name: str, expected: str) -> None:
    assert join_subdir(subdir, name) == expected


@pytest.mark.parametrize(
    ("subdir", "name", "match"),
    [
        ("sub", "../../a.tgz", r"'\.' or '\.\.'"),
        ("/abs", "a.tgz", "must not start with '/'"),
        ("", "", "missing"),
        ("sub", "..", "'.' or '..'"),  # sub/.. cleans to "."
        ("~", "a", "must not start with '~/'"),
    ],
)
def test_join_subdir_errors(subdir: str, name: str, match: str) -> None:
    with pytest.raises(ErrInvalidName, match=match):
        join_subdir(subdir, name)


# --- parse_source -----------------------------------------------------------------------------


def test_source_http_link() -> None:
    src = parse_source("http://releases.ubuntu.com/18.04.1/ubuntu-18.04.1-desktop-amd64.iso")
    assert src == DlSource(
        kind="http",
        link="http://releases.ubuntu.com/18.04.1/ubuntu-18.04.1-desktop-amd64.iso",
        path="18.04.1/ubuntu-18.04.1-desktop-amd64.iso",
    )
    assert src.provider is None and not src.is_range and not src.is_remote_ais


def test_source_without_scheme_gets_https_like_the_cli() -> None:
    src = parse_source("storage.googleapis.com/b/x.tgz")
    assert src.kind == "http" and src.link == "https://storage.googleapis.com/b/x.tgz"


def test_source_http_template() -> None:
    src = parse_source("https://h/dir/obj{0001..0100}.tgz")
    assert src.kind == "http" and src.is_range


@pytest.mark.parametrize(
    ("source", "provider", "bucket", "path"),
    [
        ("gs://lpr-vision/imagenet/train-000000.tgz", Provider.GCP, "lpr-vision", "imagenet/train-000000.tgz"),
        ("gcp://lpr-vision", Provider.GCP, "lpr-vision", ""),
        ("s3://bucket/sub_folder/object_name.tar", Provider.AWS, "bucket", "sub_folder/object_name.tar"),
        ("aws://bucket/dir/prefix-", Provider.AWS, "bucket", "dir/prefix-"),
        ("az://bucket/sub_folder/", Provider.AZURE, "bucket", "sub_folder/"),
        ("azure://bucket/o", Provider.AZURE, "bucket", "o"),
        ("oc://bucket/o", Provider.OCI, "bucket", "o"),
        ("GS://b/o", Provider.GCP, "b", "o"),
        ("gs://b/a b?#%", Provider.GCP, "b", "a b?#%"),  # bucket paths are object names, kept verbatim
    ],
)
def test_source_cloud_bucket(source: str, provider: Provider, bucket: str, path: str) -> None:
    src = parse_source(source)
    assert src.kind == "bucket" and src.host == "" and src.link == ""
    assert src.bucket == Bucket(bucket, provider) and src.provider is provider
    assert src.path == path


def test_source_cloud_template() -> None:
    src = parse_source("gs://lpr-vision/imagenet/imagenet_train-{000000..000140}.tgz")
    assert src.is_range and src.path == "imagenet/imagenet_train-{000000..000140}.tgz"


def test_source_cloud_namespace() -> None:
    src = parse_source("s3://#prod/b/o")
    assert src.bucket == Bucket("b", Provider.AWS, Namespace(name="prod"))


@pytest.mark.parametrize(
    ("source", "host", "bucket", "path"),
    [
        ("ais://172.100.10.10:8080/imagenet/imagenet_train-{0022..0140}.tgz", "172.100.10.10:8080", "imagenet",
         "imagenet_train-{0022..0140}.tgz"),
        ("ais://172.67.50.120/bucket/imagenet_train-{0..100}.tgz", "172.67.50.120:8080", "bucket",
         "imagenet_train-{0..100}.tgz"),
        ("ais://aistore.local:51080/b", "aistore.local:51080", "b", ""),
        ("ais://[::1]/b/o", "[::1]:8080", "b", "o"),
        ("ais://[::1]:9090/b/o", "[::1]:9090", "b", "o"),
    ],
)
def test_source_remote_ais(source: str, host: str, bucket: str, path: str) -> None:
    src = parse_source(source)
    assert src.kind == "bucket" and src.is_remote_ais
    assert src.host == host and src.bucket == Bucket(bucket, Provider.AIS) and src.path == path


@pytest.mark.parametrize(
    ("source", "error", "match"),
    [
        ("", ErrInvalidURL, "source is missing"),
        ("ftp://h/x", ErrUnsupported, 'scheme "ftp" in "ftp://h/x"'),
        ("ht://b/o", ErrUnsupported, 'scheme "ht"'),
        ("hdfs://nn/path", ErrUnsupported, 'scheme "hdfs"'),
        ("http:///x", ErrInvalidURL, "missing host"),
        ("gs://", ErrInvalidURL, "missing bucket name"),
        ("s3:///o", ErrInvalidURL, "missing bucket name"),
        ("gs://bad name/o", ErrInvalidName, "bucket name"),
        ("ais://", ErrInvalidURL, "missing host"),
        ("ais://h", ErrInvalidURL, "missing bucket name"),
        ("ais://h:8080/", ErrInvalidURL, "missing bucket name"),
        ("ais://h:port/b", ErrInvalidURL, 'invalid host "h:port"'),
        ("ais://h:0/b", ErrInvalidURL, 'invalid host "h:0"'),
        ("ais://h:65536/b", ErrInvalidURL, 'invalid host "h:65536"'),
        ("ais://user@h/b", ErrInvalidURL, "invalid host"),
        ("ais://h/b*d/o", ErrInvalidName, "bucket name"),
    ],
)
def test_source_errors(source: str, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        parse_source(source)


def test_the_common_link_shortcut_agrees_with_the_full_rule() -> None:
    """`obj_name_from_link` answers the common link without `urlsplit`: over random links made of
    the characters that matter, it gives the same name, or the same error, as the full rule."""
    import random

    from ais_ray.core import links
    from ais_ray.core.errors import AisError

    rnd = random.Random(16)
    parts = ["http://", "https://", "HTTP://", "h", "h:8080", "/", "//", "a", "b.c", ".", "..", "%41", "%2f", "?q=/x",
             "#f", "[::1]", " ", "\t", "-", "_", "~", "é"]
    fast = 0
    for _ in range(20_000):
        link = "".join(rnd.choice(parts) for _ in range(rnd.randint(1, 8)))
        try:
            got: object = obj_name_from_link(link)
        except AisError as exc:
            got = type(exc)
        plain, links.is_plain_obj_name = links.is_plain_obj_name, lambda _name: False  # the full rule only
        try:
            want: object = obj_name_from_link(link)
        except AisError as exc:
            want = type(exc)
        finally:
            links.is_plain_obj_name = plain
        assert got == want, (link, got, want)
        fast += isinstance(got, str) and link.startswith(("http://", "https://")) and not any(c in link for c in "?#[]%")
    assert fast > 100, fast  # the shortcut was taken (242 of these links)
