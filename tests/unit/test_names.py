import pytest

from ais_ray.core.errors import ErrBadRequest, ErrInvalidName, ErrInvalidURL, ErrUnsupported
from ais_ray.core.lom import obj_fqn
from ais_ray.core.names import (
    Bucket,
    Namespace,
    Provider,
    parse_bucket_uri,
    parse_uname,
    split_obj_path,
    is_plain_obj_name,
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


@pytest.mark.parametrize("name", ["", "/abs", "~/home", "dir/", "..", "a/../b", "./a", "a/.", "a\x00b", "x" * 1025, "a/" + "y" * 256, "x//y", "a///b", "d/e//"])
def test_invalid_obj_names(name):
    with pytest.raises(ErrInvalidName):
        validate_obj_name(name)


@pytest.mark.parametrize("name", ["a", "a/b/c.jpg", "..a", "a..", "a/...", "名前/ファイル", "with space?#%"])
def test_valid_obj_names_stay_inside_the_bucket(name, tmp_path):
    fqn = obj_fqn(str(tmp_path), Bucket("b"), name)
    assert fqn.startswith(str(tmp_path / "@ais" / "b" / "%ob") + "/")


def test_the_plain_name_shortcut_agrees_with_the_full_rules(tmp_path):
    """Names the one-regex shortcut takes (`is_plain_obj_name`) pass every rule and are already a
    normal path; random names over the characters that matter decide the same both ways."""
    import os
    import random

    from ais_ray.core import names

    rnd = random.Random(16)
    alphabet = ["a", "Z", "0", "_", "-", ".", "/", "~", " ", "\x00", "é"]
    base = os.path.join(str(tmp_path), "@ais", "b", "%ob")
    taken = 0
    for _ in range(20_000):
        name = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 12)))
        if rnd.random() < 0.01:
            name = "/".join("x" * rnd.randint(250, 260) for _ in range(rnd.randint(1, 5)))
        try:  # the rules without the shortcut
            names._PLAIN_OBJ_NAME, saved = names.re.compile(r"(?!)"), names._PLAIN_OBJ_NAME
            ok = validate_obj_name(name) == name
        except ErrInvalidName:
            ok = False
        finally:
            names._PLAIN_OBJ_NAME = saved
        if is_plain_obj_name(name):
            taken += 1
            assert ok, name
            assert obj_fqn(str(tmp_path), Bucket("b"), name) == os.path.normpath(f"{base}/{name}"), name
        else:
            assert (validate_obj_name(name) == name) if ok else pytest.raises(ErrInvalidName, validate_obj_name, name)
    assert 1_000 < taken < 19_000, taken  # both ways were taken


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


@pytest.mark.parametrize("uuid_, name", [("../..", "x"), ("", "a/b"), ("x", ".."), ("u" * 65, ""), ("", "a b")])
def test_namespace_is_validated_on_construction(uuid_, name):
    # issue 15 item 1: a namespace from any body or record is checked by the constructor itself
    with pytest.raises(ErrInvalidName):
        Namespace(uuid_, name)
    with pytest.raises(ErrInvalidName):
        Namespace.parse(f"@{uuid_}#{name}")


@pytest.mark.parametrize("name", ["", "a/b", "..", "x" * 65, 5])
def test_bucket_is_validated_on_construction(name):
    with pytest.raises(ErrInvalidName):
        Bucket(name)  # type: ignore[arg-type]


def test_parse_uname():
    assert parse_uname("ais/@#/b/x/y.bin") == (Bucket("b"), "x/y.bin")
    assert parse_uname("aws/@u1#ns/src/o") == (Bucket("src", Provider.AWS, Namespace("u1", "ns")), "o")
    for bad in ("ais/@#/b/", "ais/b/o", "ais/@#/../o", "ais/@#/b/../x", "ais/@..#x/b/o", "b/o"):
        with pytest.raises(ErrBadRequest):
            parse_uname(bad)
