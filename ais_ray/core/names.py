"""Providers, namespaces, buckets and object names: parsing and validation.

Mirrors AIStore's `cmn/bck.go` (Bck, Ns, Cname, MakeUname) and `api/apc/provider.go`.
"""

from __future__ import annotations

import base64
import enum
import re
from dataclasses import dataclass
from urllib.parse import unquote

import xxhash

from ais_ray.core.errors import ErrInvalidName, ErrInvalidURL, ErrUnsupported

MAX_BUCKET_NAME_LEN = 64  # @uuid(32)#namespace(32)/bucket(64), the SDK's MAX_BUCKET_PART_LEN
MAX_OBJ_NAME_LEN = 1024
MAX_NAME_COMPONENT_LEN = 255
MAX_NS_PART_LEN = 64  # a namespace uuid or name: as long as a bucket name at most


class Provider(str, enum.Enum):
    AIS = "ais"
    AWS = "aws"
    GCP = "gcp"
    AZURE = "azure"
    OCI = "oci"
    HT = "ht"  # HTTP(S) sources; removed from AIStore proper, kept here as in seed 000

    @property
    def scheme(self) -> str:
        """The URI scheme AIStore prints (`apc.ToScheme`): aws is s3://, gcp gs://, azure az://."""
        return _SCHEMES.get(self, self.value)

    @property
    def is_remote(self) -> bool:
        return self is not Provider.AIS

    @classmethod
    def parse(cls, value: str | Provider | None) -> Provider:
        """Accept canonical names and the aliases `s3`, `gs`, `az`, `oc`; empty means ais.

        Raises:
            ErrUnsupported: not a known provider.
        """
        if isinstance(value, Provider):
            return value
        key = (value or "ais").strip().lower()
        try:
            return cls(_ALIASES.get(key, key))
        except ValueError:
            raise ErrUnsupported(f'invalid bucket provider "{value}"') from None


_SCHEMES = {Provider.AWS: "s3", Provider.GCP: "gs", Provider.AZURE: "az"}
_ALIASES = {"s3": "aws", "gs": "gcp", "gcs": "gcp", "az": "azure", "oc": "oci", "http": "ht", "https": "ht"}


@dataclass(frozen=True, slots=True)
class Namespace:
    uuid: str = ""
    name: str = ""

    @property
    def is_global(self) -> bool:
        return not self.uuid and not self.name

    @property
    def uname(self) -> str:
        """`@#` for the global namespace, `@uuid#name` otherwise (Go `Ns.Uname`)."""
        return f"@{self.uuid}#{self.name}"

    def __post_init__(self) -> None:
        # Validated on construction, so no code path (a request body, a stored record) can
        # carry a namespace like `@../..` into a path, the BMD or a job record.
        for part in (self.uuid, self.name):
            if part and (not isinstance(part, str) or len(part) > MAX_NS_PART_LEN or not _is_alpha_plus(part)):
                raise ErrInvalidName(f'invalid namespace "@{self.uuid}#{self.name}"')

    def __str__(self) -> str:
        return "" if self.is_global else self.uname

    @classmethod
    def parse(cls, text: str) -> Namespace:
        """Parse `@uuid#name`, `#name` or `` (global)."""
        if not text:
            return cls()
        body = text[1:] if text.startswith("@") else text
        uuid, sep, name = body.partition("#")
        if not sep:
            uuid, name = ("", body) if not text.startswith("@") else (body, "")
        try:
            return cls(uuid=uuid, name=name)
        except ErrInvalidName:
            raise ErrInvalidName(f'invalid namespace "{text}"') from None


@dataclass(frozen=True, slots=True)
class Bucket:
    name: str
    provider: Provider = Provider.AIS
    ns: Namespace = Namespace()

    def __post_init__(self) -> None:
        # One validation for every bucket, wherever it comes from (query, body, BMD, job record).
        if not isinstance(self.provider, Provider) or not isinstance(self.ns, Namespace):
            raise ErrInvalidName(f'invalid bucket "{self.name}": bad provider or namespace')
        validate_bucket_name(self.name)

    def __str__(self) -> str:
        """Canonical name (Go `Bck.Cname`): `ais://b`, `s3://b`, `ais://@uuid#ns/b`."""
        if self.ns.is_global:
            return f"{self.provider.scheme}://{self.name}"
        return f"{self.provider.scheme}://{self.ns}/{self.name}"

    @property
    def is_remote(self) -> bool:
        return self.provider.is_remote

    @property
    def uname_prefix(self) -> str:
        """`provider/@#/bucket/`, to which the object name is appended (Go `MakeUname`)."""
        return f"{self.provider.value}/{self.ns.uname}/{self.name}/"

    def uname(self, obj_name: str) -> str:
        return self.uname_prefix + obj_name

    def validate(self) -> Bucket:
        """Raise ErrInvalidName unless the name is valid for this provider; return self."""
        validate_bucket_name(self.name)
        return self

    def to_wire(self) -> dict[str, object]:
        return {"name": self.name, "provider": self.provider.value,
                "namespace": {"uuid": self.ns.uuid, "name": self.ns.name}}


_ALPHA_PLUS = re.compile(r"[A-Za-z0-9_.-]*")


def _is_alpha_plus(s: str) -> bool:
    """Letters, digits, `-`, `_`, and `.` except `..` (Go `cos.IsAlphaPlus`). One regex: a
    character loop here was 5 % of a mountpath's Python in a download (a `Bucket` per GET)."""
    return _ALPHA_PLUS.fullmatch(s) is not None and ".." not in s


def validate_bucket_name(name: str) -> str:
    """Raise ErrInvalidName unless `name` is a valid bucket name (Go `Bck.ValidateName`)."""
    if not isinstance(name, str):
        raise ErrInvalidName(f"bucket name must be a string, got {type(name).__name__}")
    if not name:
        raise ErrInvalidName("bucket name is missing")
    if name == "." or not _is_alpha_plus(name):
        raise ErrInvalidName(
            f'bucket name "{name}" is invalid: may only contain letters, numbers, dashes (-), '
            "underscores (_), and dots (.)")
    if len(name) > MAX_BUCKET_NAME_LEN:
        raise ErrInvalidName(f'bucket name "{name[:16]}..." is too long ({len(name)} > {MAX_BUCKET_NAME_LEN})')
    return name


# The common object name, valid as it stands: components of letters, digits, `_`, `-` and `.`, none
# starting with a dot (so no `.` or `..`), joined by single slashes, each at most MAX_NAME_COMPONENT_LEN
# (every character one byte). Such a name also needs no normalizing into a path (`lom.ct_fqn`).
_PLAIN_OBJ_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,%d}(?:/[A-Za-z0-9_-][A-Za-z0-9_.-]{0,%d})*"
                             % (MAX_NAME_COMPONENT_LEN - 1, MAX_NAME_COMPONENT_LEN - 1))


_CONTROL = re.compile("[\x01-\x1f\x7f]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_UNSHOWN = re.compile("[\x01-\x1f\x7f\ud800-\udfff]")  # escaped in an error's message


def is_plain_obj_name(name: str) -> bool:
    """`name` is of the common shape (`_PLAIN_OBJ_NAME`): valid, and already a normal path."""
    return len(name) <= MAX_OBJ_NAME_LEN and _PLAIN_OBJ_NAME.fullmatch(name) is not None


def validate_obj_name(name: str) -> str:
    """Raise ErrInvalidName unless `name` is a safe object name; return it.

    Rejected: empty names, a leading `/` or `~/`, a trailing `/`, `.` or `..` components,
    empty components (`//`: the filesystem would alias `x//y` and `x/y`), NUL bytes and other control
    characters, and names or components too long for the filesystem. Nothing that passes
    can resolve outside its bucket directory (Go `cos.ValidateOname`, plus the length rules
    of the filesystem the object is stored on).
    """
    if is_plain_obj_name(name):  # most names: one regex instead of the checks below
        return name
    if not name:
        raise ErrInvalidName("object name is missing")
    bad = ""
    if "\x00" in name:
        bad = "contains a NUL byte"
    elif (ctl := _CONTROL.search(name)) is not None:  # no HTTP header (Ais-Name), XML 1.0 or terminal carries one
        bad = f"contains a control character (U+{ord(ctl.group()):04X})"
    elif "\ufffd" in name:  # what a URL's bytes that are not UTF-8 decode to: %FF and %FE would be one name
        bad = "contains U+FFFD (bytes that are not UTF-8?)"
    elif _SURROGATE.search(name):
        bad = "contains a lone surrogate (not a character)"
    elif name.startswith("/"):
        bad = "must not start with '/'"
    elif name.startswith("~/"):
        bad = "must not start with '~/'"
    elif name.endswith("/"):
        bad = "must not end with '/'"
    elif any(part in (".", "..") for part in name.split("/")):
        bad = "must not contain '.' or '..' path components"
    elif "//" in name:  # `x//y` would be stored as `x/y` yet placed by the hash of `x//y`: one name, one place
        bad = "must not contain empty path components ('//')"
    elif len(name.encode()) > MAX_OBJ_NAME_LEN:
        bad = f"is longer than {MAX_OBJ_NAME_LEN} bytes"
    elif any(len(part.encode()) > MAX_NAME_COMPONENT_LEN for part in name.split("/")):
        bad = f"has a path component longer than {MAX_NAME_COMPONENT_LEN} bytes"
    if bad:
        shown = _UNSHOWN.sub(lambda m: f"\\u{ord(m.group()):04x}", name if len(name) <= 64 else name[:61] + "...")
        raise ErrInvalidName(f'object name "{shown}" is invalid: {bad}')
    return name


def parse_bucket_uri(uri: str, *, default_provider: Provider = Provider.AIS) -> tuple[Bucket, str]:
    """Split `ais://b/o/x.bin` (or `s3://b`, `ais://@uuid#ns/b/o`, plain `b/o`) into bucket and object name.

    The object name is returned as given (possibly empty, possibly ending in `/` for a
    virtual directory); callers validate it for their use.

    Raises:
        ErrInvalidURL: no bucket in the URI.
        ErrUnsupported: unknown scheme.
        ErrInvalidName: invalid bucket name or namespace.
    """
    scheme, sep, rest = uri.partition("://")
    if not sep:
        scheme, rest = default_provider.value, uri
    provider = Provider.parse(scheme)
    ns = Namespace()
    if rest.startswith(("@", "#")):
        ns_text, slash, rest = rest.partition("/")
        ns = Namespace.parse(ns_text)
        if not slash:
            rest = ""
    name, _, obj = rest.partition("/")
    if not name:
        raise ErrInvalidURL(f'"{uri}": missing bucket name')
    return Bucket(validate_bucket_name(name), provider, ns), obj


def split_obj_path(raw_path: str) -> tuple[str, str]:
    """`/v1/objects/<bucket>/<quoted name>[?query]` → (bucket, name), percent-decoding once.

    Both the API and the data servers decode object paths with this one function, so a name
    hashes (HRW) and is stored identically whichever server first sees it.

    Raises:
        ErrInvalidURL: not an object path.
    """
    path = raw_path.split("?", 1)[0]
    parts = path.split("/", 4)
    if len(parts) < 5 or parts[1] != "v1" or parts[2] != "objects" or not parts[3]:
        raise ErrInvalidURL(f'invalid object path "{path}"')
    return unquote(parts[3]), unquote(parts[4])


def parse_uname(uname: str) -> tuple[Bucket, str]:
    """`provider/@uuid#ns/bucket/object` (Go `cmn.ParseUname`, the SDK's `Object.uname`) → bucket, name.

    Raises:
        ErrInvalidName: not a uname, or an invalid bucket or object name.
    """
    parts = uname.split("/", 3)
    if len(parts) < 4 or not parts[1].startswith("@"):
        raise ErrInvalidName(f'invalid object uname "{uname[:128]}": expecting provider/@uuid#namespace/bucket/object')
    provider = Provider.parse(parts[0])
    ns = Namespace.parse(parts[1]) if parts[1] != "@#" else Namespace()
    return Bucket(parts[2], provider, ns), validate_obj_name(parts[3])


def parse_bck_uname(text: str) -> Bucket:
    """A bucket's uname `provider/@uuid#ns/name[/]` (the `bck_to` query, SDK `get_path()`).

    Raises:
        ErrInvalidName: not a bucket uname, or an invalid name.
    """
    parts = text.rstrip("/").split("/")
    if len(parts) != 3 or not parts[1].startswith("@"):
        raise ErrInvalidName(f'invalid bucket "{text[:128]}": expecting provider/@uuid#namespace/name, e.g. ais/@#/dst')
    ns = Namespace.parse(parts[1]) if parts[1] != "@#" else Namespace()
    return Bucket(parts[2], Provider.parse(parts[0]), ns)


def http_bucket(url: str) -> tuple[Bucket, str, str]:
    """An http(s) URL as an HTTP (`ht://`) bucket, origin and object name (seed 000).

    The bucket is named by a stable hash of the URL's base (scheme, host and directory), so
    every object under one directory lands in one bucket: `http://h:51061/abc/hello-world`
    → (`ht://ZDE1...`, `http://h:51061/abc`, `hello-world`).

    Raises:
        ErrInvalidURL: not an http(s) URL with an object name.
    """
    scheme, sep, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    if scheme.lower() not in ("http", "https") or not sep or not host:
        raise ErrInvalidURL(f'"{url}": expecting an http(s) URL')
    path = path.split("?", 1)[0]
    directory, _, obj = path.rpartition("/")
    if not obj:
        raise ErrInvalidURL(f'"{url}": names no object')
    origin = f"{scheme.lower()}://{host}" + (f"/{directory}" if directory else "")
    digest = format(xxhash.xxh64_intdigest(origin.encode(), 1103515245), "x")[:13]
    name = base64.urlsafe_b64encode(digest.encode()).decode().rstrip("=")
    return Bucket(name, Provider.HT), origin, unquote(obj)
