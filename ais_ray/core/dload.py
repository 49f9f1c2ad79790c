"""Download jobs: what a job is (`DlSpec`), the items it covers, and how status adds up.

Pure. A job is validated once, at the proxy, into a `DlSpec`; every target then walks the
same item sequence and keeps the items it owns by HRW (Go `ext/dload`: `makeDlObj` returns
`errInvalidTarget` for items of other targets). Items are generated lazily, so a template of
ten million names never exists as a list.

Links are http(s) URLs, or bucket URIs (`gs://b/o`, `s3://b/o`, `az://c/o`) read through the
cluster's remote backends, which is how ais-ray extends AIStore's link-only downloader.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ais_ray.core.bmd import bucket_from_key
from ais_ray.core.errors import ErrBadRequest, ErrInvalidURL, ErrUnsupported
from ais_ray.core.links import join_subdir, obj_name_from_link, prepend_protocol
from ais_ray.core.names import Bucket, Provider, parse_bucket_uri, validate_obj_name
from ais_ray.core.selection import Selection
from ais_ray.core.template import Template

_BUCKET_SCHEMES = frozenset({"s3", "aws", "gs", "gcp", "az", "azure", "oci", "oc"})
MAX_ERRORS_KEPT = 10_000  # per target; the count keeps going, the list stops
MAX_FINISHED_KEPT = 1_000  # per target, most recent


class DlKind(str, enum.Enum):
    SINGLE = "single"
    MULTI = "multi"
    RANGE = "range"
    BACKEND = "backend"


@dataclass(frozen=True, slots=True)
class DlItem:
    idx: int  # position in the job's item sequence: the resume cursor
    name: str  # object name in the destination bucket
    link: str  # http(s) URL or bucket URI

    def __reduce__(self) -> tuple[type[DlItem], tuple[int, str, str]]:
        # pickled as its fields (batches of 128 cross a Ray call): a slotted dataclass's own
        # state is a Python loop over its fields per item, twice as slow both ways
        return DlItem, (self.idx, self.name, self.link)


# Bounds of one object's download (issue 15 item 8), as AIStore's downloader has them: a whole
# attempt may take `DEFAULT_TIMEOUT` (Go `downloader.timeout` = 1h) unless the job's `timeout`
# says otherwise, and a source that sends nothing for `READ_IDLE_TIMEOUT` is abandoned (Go's
# per-read timeout of 1 min). Both count per attempt; a timed-out attempt is retried.
DEFAULT_TIMEOUT = 3600.0
READ_IDLE_TIMEOUT = 60.0


def object_timeout(job_timeout: float) -> float:
    """The deadline of one attempt at one object: the job's `timeout`, else the default."""
    return job_timeout if job_timeout > 0 else DEFAULT_TIMEOUT


@dataclass(frozen=True, slots=True)
class DlSpec:
    id: str
    kind: DlKind
    bck: Bucket  # destination
    description: str = ""
    timeout: float = 0.0  # per object and attempt, seconds; 0: DEFAULT_TIMEOUT
    conns: int = 0  # per target; 0: unlimited (each mountpath runs its own pool)
    bytes_per_hour: int = 0  # for the whole cluster; 0: unlimited
    headers: Mapping[str, str] = field(default_factory=dict)
    objects: tuple[tuple[str, str], ...] = ()  # single / multi: (name, link)
    template: str = ""  # range: a link template
    subdir: str = ""
    src: Bucket | None = None  # backend: the remote bucket to list
    prefix: str = ""
    suffix: str = ""
    sync: bool = False
    created: float = 0.0
    fsync: str = "batch"  # FSYNC_MODES: when a downloaded object is made durable

    def count(self) -> int:
        """Items in the job; -1 when only a listing can tell (backend)."""
        if self.kind is DlKind.BACKEND:
            return -1
        if self.kind is DlKind.RANGE:
            return Template.parse(_template_text(self.template)).count()
        return len(self.objects)

    def items(self, start: int = 0) -> Iterator[DlItem]:
        """Items from index `start` on (not for backend jobs: those come from a listing)."""
        if self.kind is DlKind.RANGE:
            links = Selection(template=_template_text(self.template)).iter(start)
            for i, link in enumerate(links, start):
                name = obj_name_from_link(link)  # a valid name already: `join_subdir` only with a subdir
                yield DlItem(i, join_subdir(self.subdir, name) if self.subdir else name, link)
        elif self.kind is not DlKind.BACKEND:
            for i in range(start, len(self.objects)):
                name, link = self.objects[i]
                yield DlItem(i, name, link)

    def backend_item(self, idx: int, name: str) -> DlItem:
        assert self.src is not None
        return DlItem(idx, name, f"{self.src}/{name}")

    def wants(self, name: str) -> bool:
        """Backend jobs: does a listed name belong to the job?"""
        return name.startswith(self.prefix) and name.endswith(self.suffix)


def _template_text(template: str) -> str:
    return template if "://" in template else prepend_protocol(template)


def normalize_link(link: str) -> str:
    """A downloadable link: http(s) URL (scheme added when missing) or a bucket URI with an object.

    Raises:
        ErrInvalidURL / ErrUnsupported: anything else.
    """
    link = link.strip()
    if not link:
        raise ErrInvalidURL("empty link")
    scheme = link.split("://", 1)[0].lower() if "://" in link else ""
    if scheme in ("http", "https") or not scheme:
        full = prepend_protocol(link)
        if not re.match(r"^https?://[^/\s]+", full):
            raise ErrInvalidURL(f'invalid link "{link}"')
        return full
    if scheme not in _BUCKET_SCHEMES:
        raise ErrUnsupported(f'unsupported link scheme "{scheme}" in "{link}" (expecting http, https, s3, gs or az)')
    bck, obj = parse_bucket_uri(link)
    if not bck.is_remote or bck.provider is Provider.HT:
        raise ErrInvalidURL(f'"{link}": expecting an http(s) link or a cloud bucket URI (s3://, gs://, az://)')
    if not obj:
        raise ErrInvalidURL(f'"{link}": names no object')
    return link


# When a download makes its objects durable (every mode reports an object done only once it is):
#   object  one fsync per object (as every other write)
#   batch   a group commit: the objects of one batch are written, then one syncfs(2) for them all
#   off     no sync (the page cache writes them back; a crash can lose what was reported done)
FSYNC_MODES = ("object", "batch", "off")


def parse_request(body: Mapping[str, Any], *, job_id: str, bck: Bucket, now: float, timeout: float,
                  conns: int, bph: int, src: Bucket | None = None) -> DlSpec:
    """Build a DlSpec from a validated request body (types already checked at the edge).

    Raises:
        ErrBadRequest (and subclasses): a bad template, link, name or an empty list.
    """
    kind = DlKind(body["type"])
    common: dict[str, Any] = dict(id=job_id, kind=kind, bck=bck, timeout=timeout, conns=conns, bytes_per_hour=bph,
                                  headers=dict(body.get("headers") or {}), created=now,
                                  description=str(body.get("description") or ""),
                                  fsync=_fsync_mode(body.get("fsync") or "batch"))
    if kind is DlKind.SINGLE:
        link = normalize_link(body.get("link") or "")
        name = validate_obj_name(body.get("object_name") or obj_name_from_link(_link_path(link)))
        spec = DlSpec(objects=((name, link),), **common)
    elif kind is DlKind.MULTI:
        spec = DlSpec(objects=_multi_objects(body.get("objects")), **common)
    elif kind is DlKind.RANGE:
        template = (body.get("template") or "").strip()
        if not template:
            raise ErrBadRequest("range download: missing template")
        tmpl = Template.parse(_template_text(template)).require_range()
        # the first and the last link: every range is at its largest value in the last one, so
        # it is the longest name; the names between share their shape (issue 15 item 7)
        for link in (tmpl[0], tmpl[-1]):
            normalize_link(link)
            join_subdir(body.get("subdir") or "", obj_name_from_link(_link_path(link)))  # validates names
        spec = DlSpec(template=template, subdir=body.get("subdir") or "", **common)
    else:
        if src is None or not src.is_remote:
            raise ErrBadRequest(f"backend download: {bck} is not a remote bucket and has no remote backend (backend_bck)")
        spec = DlSpec(src=src, prefix=body.get("prefix") or "", suffix=body.get("suffix") or "",
                      sync=bool(body.get("synchronize") or body.get("sync")), **common)
    return spec


def _fsync_mode(mode: str) -> str:
    if mode not in FSYNC_MODES:
        raise ErrBadRequest(f'invalid fsync mode "{mode}" (expecting one of: {", ".join(FSYNC_MODES)})')
    return mode


def _link_path(link: str) -> str:
    """Bucket URIs name objects by their path; the downloader's naming works on http(s) form."""
    if link.startswith(("http://", "https://")):
        return link
    _, obj = parse_bucket_uri(link)
    return "http://bucket/" + obj


def _multi_objects(objects: Any) -> tuple[tuple[str, str], ...]:
    if isinstance(objects, Mapping):
        pairs = [(validate_obj_name(str(k)), normalize_link(str(v))) for k, v in objects.items()]
    elif isinstance(objects, Sequence) and not isinstance(objects, str):
        links = [normalize_link(str(v)) for v in objects]
        pairs = [(obj_name_from_link(_link_path(link)), link) for link in links]
    else:
        raise ErrBadRequest("multi download: 'objects' must be a list of links or a map of name to link")
    if not pairs:
        raise ErrBadRequest("multi download: the object list is empty")
    return tuple(pairs)


def default_description(spec: DlSpec) -> str:
    if spec.description:
        return spec.description
    if spec.kind is DlKind.RANGE:
        src = spec.template
    elif spec.kind is DlKind.BACKEND:
        src = f"{spec.src}/{spec.prefix}*{spec.suffix}" if spec.prefix or spec.suffix else str(spec.src)
    elif len(spec.objects) == 1:
        src = spec.objects[0][1]
    else:
        src = f"{len(spec.objects)} links"
    return f"{src} -> {spec.bck}" + (f"/{spec.subdir.strip('/')}" if spec.subdir.strip("/") else "")


@dataclass
class TaskInfo:
    """One object, in flight or done (Go `dload.TaskDlInfo`)."""

    name: str
    downloaded: int = 0
    total: int = 0
    start_time: float = 0.0
    end_time: float = 0.0

    def to_wire(self) -> dict[str, Any]:
        return {"name": self.name, "downloaded": str(self.downloaded), "total": str(self.total),
                "start_time": _rfc3339(self.start_time), "end_time": _rfc3339(self.end_time)}


def _rfc3339(t: float) -> str:
    if not t:
        return "0001-01-01T00:00:00Z"
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class TargetDlStatus:
    """One target's share of a job, as it reports it."""

    finished: int = 0
    skipped: int = 0
    errors: int = 0
    scheduled: int = 0
    all_dispatched: bool = False
    aborted: bool = False
    end_time: float = 0.0
    current: list[TaskInfo] = field(default_factory=list)
    finished_tasks: list[TaskInfo] = field(default_factory=list)
    error_list: list[tuple[str, str]] = field(default_factory=list)
    bytes: int = 0  # of the finished objects (`show job`'s BYTES)


def merge_status(spec: DlSpec, parts: Sequence[TargetDlStatus], *, aborted: bool, only_active: bool) -> dict[str, Any]:
    """The cluster-wide status of a job (Go `dload.StatusResp`), summed over targets."""
    all_done = bool(parts) and all(p.end_time for p in parts)
    total = spec.count()
    scheduled = sum(p.scheduled for p in parts)  # at most the total: an item whose owner changed while the
    # targets walked (a join, a maintenance) may have been dispatched by both
    if total < 0 and all(p.all_dispatched for p in parts):
        total = scheduled
    out: dict[str, Any] = {
        "id": spec.id, "xaction_id": spec.id, "description": default_description(spec),
        "started_time": _rfc3339(spec.created),
        "finished_time": _rfc3339(max(p.end_time for p in parts)) if all_done else _rfc3339(0),
        "finished_cnt": sum(p.finished for p in parts), "skipped_cnt": sum(p.skipped for p in parts),
        "error_cnt": sum(p.errors for p in parts), "scheduled_cnt": min(scheduled, total) if total >= 0 else scheduled,
        "total": total, "all_dispatched": all(p.all_dispatched for p in parts),
        "aborted": aborted or any(p.aborted for p in parts),
        "current_tasks": [t.to_wire() for p in parts for t in p.current],
    }
    if not only_active:
        out["finished_tasks"] = [t.to_wire() for p in parts for t in p.finished_tasks]
        out["download_errors"] = [{"name": n, "error": e} for p in parts for n, e in p.error_list]
    return out


def spec_to_json(spec: DlSpec) -> dict[str, Any]:
    """A DlSpec as plain JSON (persisted by the proxy and by every target)."""
    return {"id": spec.id, "kind": spec.kind.value, "bck": spec.bck.uname_prefix, "description": spec.description,
            "timeout": spec.timeout, "conns": spec.conns, "bytes_per_hour": spec.bytes_per_hour,
            "headers": dict(spec.headers), "objects": [list(o) for o in spec.objects], "template": spec.template,
            "subdir": spec.subdir, "src": spec.src.uname_prefix if spec.src else "", "prefix": spec.prefix,
            "suffix": spec.suffix, "sync": spec.sync, "created": spec.created, "fsync": spec.fsync}


def spec_from_json(d: Mapping[str, Any]) -> DlSpec:
    return DlSpec(
        id=d["id"], kind=DlKind(d["kind"]), bck=bucket_from_key(d["bck"]), description=d["description"],
        timeout=d["timeout"], conns=d["conns"], bytes_per_hour=d["bytes_per_hour"], headers=d["headers"],
        objects=tuple((n, link) for n, link in d["objects"]), template=d["template"], subdir=d["subdir"],
        src=bucket_from_key(d["src"]) if d["src"] else None, prefix=d["prefix"], suffix=d["suffix"],
        sync=d["sync"], created=d["created"], fsync=d["fsync"] if d.get("fsync") in FSYNC_MODES else "batch")
