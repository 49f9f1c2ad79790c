import pytest

from ais_ray.core.errors import ErrInvalidName, ErrInvalidURL, ErrUnsupported
from ais_ray.core.lom import obj_fqn
from ais_ray.core.names import (
    Bucket,
    Namespace,
    Provider,
    parse_bucket_uri,
    split_obj_path,
    validate_bucket_name,
    validate_obj_name,
)


@pytest.mark.parametrize("name", ["a", "A-b_c.d", "UPPER", "x" * 64, "a.b.c"])
def test_valid_bucket_names(name):
    assert validate_bucket_name(name) == name


@pytest.mark.parametrize("name", ["", ".", "*", "a/b", "a b", "x..y", "é", "x" * 65, "a\x00"])
def test_invalid_bucket_names(name):
    with pytest.raises(ErrInvalidName):
        validate_bucket_name(name)


@pytest.mark.parametrize("name", ["", "/abs", "~/home", "dir/", "..", "a/../b", "./a", "a/.", "a\x00b", "x" * 1025, "a/" + "y" * 256])
def test_invalid_obj_names(name):
    with pytest.raises(ErrInvalidName):
        validate_obj_name(name)


@pytest.mark.parametrize("name", ["a", "a/b/c.jpg", "..a", "a..", "a/...", "名前/ファイル", "with space?#%"])
def test_valid_obj_names_stay_inside_the_bucket(name, tmp_path):
    fqn = obj_fqn(str(tmp_path), Bucket("b"), name)
    assert fqn.startswith(str(tmp_path / "@ais" / "b" / "%ob") + "/")


@pytest.mark.parametrize(("uri", "bck", "obj"), [
    ("ais://b", Bucket("b"), ""),
    ("ais://b/o/x.bin", Bucket("b"), "o/x.bin"),
    ("s3://b/", Bucket("b", Provider.AWS), ""),
    ("gs://b/p", Bucket("b", Provider.GCP), "p"),
    ("az://b", Bucket("b", Provider.AZURE), ""),
    ("b/o", Bucket("b"), "o"),
    ("ais://@uu#ns/b/o", Bucket("b", ns=Namespace("uu", "ns")), "o"),
])
def test_parse_bucket_uri(uri, bck, obj):
    assert parse_bucket_uri(uri) == (bck, obj)


def test_parse_bucket_uri_errors():
    with pytest.raises(ErrUnsupported):
        parse_bucket_uri("foo://b")
    with pytest.raises(ErrInvalidURL):
        parse_bucket_uri("ais://")
    with pytest.raises(ErrInvalidName):
        parse_bucket_uri("ais://b*d/o")


def test_display_and_uname():
    assert str(Bucket("b", Provider.AWS)) == "s3://b"
    assert str(Bucket("b", ns=Namespace("u", "n"))) == "ais://@u#n/b"
    assert Bucket("b").uname("o/1") == "ais/@#/b/o/1"


def test_split_obj_path_decodes_once():
    assert split_obj_path("/v1/objects/b/a%20b%3F%23%25.bin?provider=ais") == ("b", "a b?#%.bin")
    assert split_obj_path("/v1/objects/b/a%252F") == ("b", "a%2F")
    with pytest.raises(ErrInvalidURL):
        split_obj_path("/v1/objects/b")
