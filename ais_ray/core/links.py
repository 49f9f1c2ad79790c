"""Downloader links: what a SOURCE string means, and which object name a link is stored under.

`ais-ray start download SOURCE DEST` takes an http(s) link, a bucket URI (`gs://b/obj`,
`s3://b/dir/`), or a remote AIS cluster (`ais://host:port/bucket/obj`), any of them
possibly a brace template. Names are derived the downloader's way and always validated,
so nothing a link says can land outside its bucket.
Mirrors AIStore `ext/dload/api.go` and `ext/dload/utils.go` (`path.Base` of the link,
`NormalizeObjName`), `cmn/http.go` (`PrependProtocol`) and the CLI's
`cmd/cli/cli/utils.go::parseURLToSource`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote_to_bytes, urlsplit

from ais_ray.core.errors import ErrInvalidName, ErrInvalidURL, ErrUnsupported
from ais_ray.core.names import Bucket, Provider, is_plain_obj_name, parse_bucket_uri, validate_bucket_name, validate_obj_name
from ais_ray.core.template import has_braces

DEFAULT_AIS_PORT = 8080  # a remote AIS cluster's proxy, when ais://host names no port

LINK_SCHEMES = frozenset({"http", "https"})
_BUCKET_SCHEMES = frozenset({"aws", "s3", "gcp", "gs", "azure", "az", "oci", "oc"})
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_HOST_PORT = re.compile(r"(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")


@dataclass(frozen=True, slots=True)
class DlSource:
    """A parsed download SOURCE.

    `kind` is "http" for a web link (`link` holds it, scheme included) and "bucket" for
    objects of a bucket (`bucket`, plus `host` for a remote AIS cluster). `path` is the
    object name, prefix or template inside the bucket; for "http" it is the link's path.
    """

    kind: Literal["http", "bucket"]
    link: str = ""
    bucket: Bucket | None = None
    host: str = ""
    path: str = ""

    @property
    def provider(self) -> Provider | None:
        return self.bucket.provider if self.bucket is not None else None

    @property
    def is_range(self) -> bool:
        """True if the source is a brace template (a range download)."""
        return has_braces(self.link if self.kind == "http" else self.path)

    @property
    def is_remote_ais(self) -> bool:
        return bool(self.host)


def prepend_protocol(link: str, protocol: str = "http") -> str:
    """Give a scheme-less link `http://`; an empty link or one with `://` is returned as is (Go `PrependProtocol`)."""
    if not link or "://" in link:
        return link
    return f"{protocol}://{link}"


def validate_link(link: str) -> str:
    """Return `link` with a scheme (http by default), checked to be an http(s) URL with a host.

    Raises:
        ErrInvalidURL: empty, unparsable, or no host.
        ErrUnsupported: a scheme other than http and https.
    """
    if not link:
        raise ErrInvalidURL("download link is missing")
    full = prepend_protocol(link)
    try:
        parts = urlsplit(full)
        parts.port  # noqa: B018 -- raises ValueError for a non-numeric port
    except ValueError as exc:
        raise ErrInvalidURL(f'invalid download link "{link}": {exc}') from exc
    if parts.scheme.lower() not in LINK_SCHEMES:
        raise ErrUnsupported(f'unsupported scheme "{parts.scheme}" in download link "{link}" (expecting http or https)')
    if not parts.netloc:
        raise ErrInvalidURL(f'invalid download link "{link}": missing host')
    return full


def obj_name_from_link(link: str) -> str:
    """Return the object name a link is stored under: the last element of its path, unescaped.

    `http://h/dir/LICENSE?query=values` gives "LICENSE", `http://h/a%20b.txt` gives "a b.txt".
    Same rule as AIStore's `path.Base(link)` + `NormalizeObjName`, applied to the URL path
    only, so a `/` inside the query cannot pick the name, and unescaped exactly once.

    Raises:
        ErrInvalidURL: no name in the path (`http://h/`), or a bad `%` escape.
        ErrInvalidName: the unescaped name is not a valid object name.
    """
    if link.startswith(("http://", "https://")) and not any(c in link for c in "?#[]"):
        # the common link (`http://host/dir/name`, no query, fragment or IPv6 host): the name is
        # what follows the last slash of the path, if that is already a plain name (no `%`)
        head, sep, base = link.rpartition("/")
        if sep and len(head) > link.index("//") + 1 and is_plain_obj_name(base):
            return base
    try:
        path = urlsplit(prepend_protocol(link)).path if link else ""
    except ValueError as exc:
        raise ErrInvalidURL(f'invalid download link "{link}": {exc}') from exc
    base = _go_base(path)
    if base in (".", "/"):
        raise ErrInvalidURL(
            f'cannot extract an object name from the download link "{link}"; name the object explicitly')
    return validate_obj_name(_path_unescape(base, link))


def join_subdir(subdir: str, name: str) -> str:
    """Return `subdir/name` cleaned as Go `path.Join` does (`a//b/./c` becomes `a/b/c`), validated.

    Raises:
        ErrInvalidName: the result is empty, absolute, or climbs out with `..`.
    """
    joined = "/".join(p for p in (subdir, name) if p)
    return validate_obj_name(_go_clean(joined) if joined else "")


def parse_source(source: str) -> DlSource:
    """Classify a download SOURCE string.

    - `http://...`, `https://...`: a web link ("http"); a link without a scheme gets
      `https://`, as the `ais` CLI gives it (`apc.DefaultScheme`).
    - `gs://b/obj`, `s3://b/dir/`, `az://b/x-{0..9}.tgz` (also `gcp`, `aws`, `azure`,
      `oci`, `oc`): objects of a cloud bucket ("bucket"); the path may be empty (the whole
      bucket), a prefix, an object name or a template, and is kept verbatim.
    - `ais://host[:port]/bucket/...`: objects of an AIS cluster reached at `host:port`
      (port 8080 when omitted), this one or another.

    Raises:
        ErrInvalidURL: empty, no host, or no bucket.
        ErrInvalidName: invalid bucket name.
        ErrUnsupported: any other scheme.
    """
    if not source:
        raise ErrInvalidURL("download source is missing")
    scheme, sep, rest = source.partition("://")
    scheme = scheme.lower() if sep else ""
    if not sep or scheme in LINK_SCHEMES:
        full = validate_link(source if sep else prepend_protocol(source, "https"))
        return DlSource(kind="http", link=full, path=urlsplit(full).path.lstrip("/"))
    if scheme in _BUCKET_SCHEMES:
        bck, path = parse_bucket_uri(f"{scheme}://{rest}")
        return DlSource(kind="bucket", bucket=bck, path=path)
    if scheme == "ais":
        return _parse_ais_source(source, rest)
    raise ErrUnsupported(
        f'unsupported download source scheme "{scheme}" in "{source}" '
        "(expecting http, https, ais, s3, aws, gs, gcp, az, azure, oc or oci)")


def _parse_ais_source(source: str, rest: str) -> DlSource:
    netloc, _, bucket_path = rest.partition("/")
    if not netloc:
        raise ErrInvalidURL(f'"{source}": missing host of the AIS cluster (expecting ais://host:port/bucket/...)')
    has_port = netloc.rfind(":") > netloc.rfind("]")
    port = int(netloc.rsplit(":", 1)[1]) if has_port and _HOST_PORT.fullmatch(netloc) else DEFAULT_AIS_PORT
    if not _HOST_PORT.fullmatch(netloc) or not 0 < port < 65536:
        raise ErrInvalidURL(f'"{source}": invalid host "{netloc}" (expecting host or host:port)')
    host = netloc if has_port else f"{netloc}:{DEFAULT_AIS_PORT}"
    name, _, path = bucket_path.partition("/")
    if not name:
        raise ErrInvalidURL(f'"{source}": missing bucket name (expecting ais://host:port/bucket/...)')
    try:
        validate_bucket_name(name)
    except ErrInvalidName as exc:
        raise ErrInvalidName(f'"{source}": {exc.message}') from exc
    return DlSource(kind="bucket", bucket=Bucket(name, Provider.AIS), host=host, path=path)


def _path_unescape(s: str, link: str) -> str:
    """Strict percent-decoding (Go `url.PathUnescape`): a bad escape is an error, `+` stays `+`."""
    if "%" not in s:
        return s
    if _BAD_ESCAPE.search(s):
        raise ErrInvalidURL(f'invalid escape in the download link "{link}"')
    try:
        return unquote_to_bytes(s).decode()
    except UnicodeDecodeError as exc:
        raise ErrInvalidURL(f'download link "{link}" escapes bytes that are not UTF-8') from exc


def _go_base(p: str) -> str:
    """Go `path.Base`: the last element, trailing slashes ignored; "." for "", "/" for all slashes."""
    if not p:
        return "."
    p = p.rstrip("/")
    if not p:
        return "/"
    return p[p.rfind("/") + 1 :]


def _go_clean(p: str) -> str:
    """Go `path.Clean`: collapse `//`, drop `.`, resolve `..` lexically ("" becomes ".")."""
    rooted = p.startswith("/")
    out: list[str] = []
    for part in p.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if out and out[-1] != "..":
                out.pop()
            elif not rooted:
                out.append("..")
            continue
        out.append(part)
    cleaned = "/".join(out)
    if rooted:
        return "/" + cleaned
    return cleaned or "."
