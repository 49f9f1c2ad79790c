"""ETL: the init message, what of it ais-ray can run, names, pipelines, per-object errors (pure).

AIStore runs one container per target under Kubernetes (`ext/etl/`); ais-ray runs the same
user transform as a pool of Ray actors pinned to each target's node (`actors/etl_worker.py`).
What the SDK sends is AIStore's `ETLSpecMsg` (ais-wire-2 §2.1): a container image plus an
environment. ais-ray runs three kinds of it, decided here from the message alone:

- `class`: the SDK's `init_class` payload (env `ETL_CLASS_PAYLOAD`, a cloudpickled
  `ETLServer` subclass), instantiated as is in the worker;
- `code`: a Python module's source (env `ETL_CODE`, base64) defining `transform(data, path,
  args)` — a function returning bytes, or a generator of chunks (`ais-ray etl init code`);
- `builtin`: AIStore's stock transformer images (md5, echo, hello-world), re-done in Python.

Any other image needs a container runtime: refused with a 4xx that says so (never a hang).
"""

from __future__ import annotations

import ast
import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ais_ray.core.durations import parse_duration
from ais_ray.core.errors import AisError, ErrBadRequest, ErrInvalidDuration, ErrInvalidName, ErrUnsupported

# stages (Go `etl.Stage`)
INITIALIZING, RUNNING, ABORTED, UNKNOWN = "Initializing", "Running", "Aborted", "Unknown"

COMM_TYPES = ("hpush://", "hpull://", "ws://")
DEFAULT_INIT_TIMEOUT = 45.0  # server defaults (Go `etl.DefaultInitTimeout`, `DefaultObjTimeout`)
DEFAULT_OBJ_TIMEOUT = 10.0
DEFAULT_WORKERS = 1  # per target (AIStore's runtime defaults to 6 uvicorn workers; Ray actors cost more)
MAX_WORKERS = 16
MAX_OBJ_ERRS = 128  # errors kept per ETL (inline) and per job (Go `etl.MaxObjErr`)

ENV_CLASS = "ETL_CLASS_PAYLOAD"
ENV_CODE = "ETL_CODE"
ENV_PACKAGES = "PACKAGES"
ENV_OS_PACKAGES = "OS_PACKAGES"
ENV_WORKERS = "NUM_WORKERS"
ENV_DIRECT_FQN = "ETL_DIRECT_FQN"
CODE_IMAGE = "ais-ray/python-code"  # the image name `etl init code` sends

# AIStore's stock transformer images (github.com/NVIDIA/ais-etl/transformers) that ais-ray runs in Python
BUILTIN_IMAGES = {"aistorage/transformer_md5": "md5", "aistorage/transformer_echo": "echo",
                  "aistorage/transformer_hello_world": "hello"}

_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def validate_etl_name(name: str, what: str = "ETL name") -> str:
    """6..32 characters, lowercase letters, digits and inner dashes (Go `k8s.ValidateEtlName`).

    Raises:
        ErrInvalidName: anything else.
    """
    if not isinstance(name, str) or not 6 <= len(name) <= 32 or not _NAME.fullmatch(name):
        raise ErrInvalidName(f'{what} "{name}" is invalid: expecting 6 to 32 characters, lowercase letters, '
                             "digits and '-' (not first or last)")
    return name


def parse_pipeline(text: str | Sequence[str] | None, what: str = "etl_pipeline") -> tuple[str, ...]:
    """`a,b` (the query) or ["a", "b"] (a job's value): the further stages, each a valid name."""
    if not text:
        return ()
    names = [n.strip() for n in text.split(",")] if isinstance(text, str) else list(text)
    return tuple(validate_etl_name(n, what) for n in names)


def check_query(query: Mapping[str, str]) -> tuple[str, ...]:
    """An inline GET's `etl_name` + `etl_pipeline`: every stage in order ("" when no ETL).

    Raises:
        ErrInvalidName: a stage's name (the message names the parameter).
    """
    first = query.get("etl_name", "")
    rest = parse_pipeline(query.get("etl_pipeline", ""))
    if not first:
        if rest:
            raise ErrBadRequest('"etl_pipeline" needs "etl_name" (the first stage)')
        return ()
    return (validate_etl_name(first, "etl_name"), *rest)


def _env_list(env: Any, where: str) -> dict[str, str]:
    if env is None:
        return {}
    if isinstance(env, Mapping):
        return {str(k): str(v) for k, v in env.items()}
    if not isinstance(env, list) or not all(isinstance(e, Mapping) and "name" in e for e in env):
        raise ErrBadRequest(f'{where}: expecting a list of {{"name", "value"}}')
    return {str(e["name"]): str(e.get("value", "")) for e in env}


def _duration(v: Any, default: float, what: str) -> float:
    if v in (None, "", 0):
        return default
    try:
        secs = parse_duration(str(v)) if not isinstance(v, (int, float)) else float(v) / 1e9
    except ErrInvalidDuration as exc:
        raise ErrBadRequest(f'invalid "{what}": {exc.message}') from exc
    if secs <= 0:
        raise ErrBadRequest(f'invalid "{what}" {v!r}: must be positive')
    return secs


@dataclass(frozen=True, slots=True)
class EtlMsg:
    """An ETL's init message (Go `etl.ETLSpecMsg`), parsed; `raw` is the message as sent."""

    name: str
    comm: str
    init_timeout: float
    obj_timeout: float
    image: str
    env: Mapping[str, str]
    runs: str  # "class" | "code" | "builtin"
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def packages(self) -> list[str]:
        return [p.strip() for p in self.env.get(ENV_PACKAGES, "").split(",") if p.strip()]

    @property
    def num_workers(self) -> int:
        text = self.env.get(ENV_WORKERS, "")
        return int(text) if text else DEFAULT_WORKERS

    @property
    def direct_fqn(self) -> bool:
        return self.env.get(ENV_DIRECT_FQN, "").lower() == "true"

    @property
    def builtin(self) -> str:
        return BUILTIN_IMAGES.get(self.image.split(":")[0], "")

    @classmethod
    def from_wire(cls, d: Any) -> EtlMsg:
        """Raises:
            ErrBadRequest: a wrong field (ErrInvalidName: the name); ErrUnsupported: what only
            Kubernetes could run (a container image, a pod spec).
        """
        if not isinstance(d, Mapping):
            raise ErrBadRequest("ETL init: expecting a JSON object (ETLSpecMsg)")
        name = validate_etl_name(str(d.get("name") or ""))
        if d.get("spec"):
            raise ErrUnsupported(f"ETL[{name}]: a Kubernetes pod spec cannot run here (ais-ray runs Python "
                                 "transforms as Ray actors): use `etl init code`, the SDK's init_class, or a spec "
                                 f"naming one of {sorted(BUILTIN_IMAGES)}")
        comm = str(d.get("communication") or "hpush://")
        if "://" not in comm:
            comm += "://"
        if comm not in COMM_TYPES:
            raise ErrBadRequest(f'ETL[{name}]: unknown communication type "{comm}" (expecting one of {COMM_TYPES})')
        if comm == "ws://" and not d.get("support_direct_put"):
            raise ErrBadRequest(f"ETL[{name}]: ws:// requires support_direct_put")
        runtime = d.get("runtime") or {}
        if not isinstance(runtime, Mapping):
            raise ErrBadRequest(f'ETL[{name}]: "runtime" must be an object')
        env = {**_env_list(d.get("env"), "env"), **_env_list(runtime.get("env"), "runtime.env")}
        image = str(runtime.get("image") or "")
        msg = cls(name, comm, _duration(d.get("init_timeout"), DEFAULT_INIT_TIMEOUT, "init_timeout"),
                  _duration(d.get("obj_timeout"), DEFAULT_OBJ_TIMEOUT, "obj_timeout"), image, env, "", dict(d))
        workers = env.get(ENV_WORKERS, "")
        if workers and (not workers.isdigit() or not 1 <= int(workers) <= MAX_WORKERS):
            raise ErrBadRequest(f'ETL[{name}]: {ENV_WORKERS} "{workers}" must be 1..{MAX_WORKERS}')
        if ENV_CLASS in env:
            runs = "class"
            _b64(env[ENV_CLASS], name, ENV_CLASS)
        elif ENV_CODE in env:
            runs = "code"
            check_code(_b64(env[ENV_CODE], name, ENV_CODE).decode("utf-8", errors="replace"), name)
        elif msg.builtin:
            runs = "builtin"
        else:
            raise ErrUnsupported(f'ETL[{name}]: cannot run container image "{image}" (no Kubernetes here: ais-ray runs '
                                 f"Python transforms as Ray actors): use the SDK's init_class, `ais-ray etl init code`, "
                                 f"or one of the built-in images {sorted(BUILTIN_IMAGES)}")
        if env.get(ENV_OS_PACKAGES):
            raise ErrUnsupported(f"ETL[{name}]: {ENV_OS_PACKAGES} ({env[ENV_OS_PACKAGES]}) cannot be installed "
                                 "(no container); only pip PACKAGES")
        return cls(msg.name, comm, msg.init_timeout, msg.obj_timeout, image, env, runs, dict(d))


def _b64(text: str, name: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ErrBadRequest(f"ETL[{name}]: {what} is not valid base64") from exc


def check_code(src: str, name: str = "") -> None:
    """`etl init code`: the module compiles and defines `transform` at its top level.

    Raises:
        ErrBadRequest: a syntax error (naming its line) or no `transform`.
    """
    who = f"ETL[{name}]: " if name else ""
    try:
        tree = ast.parse(src)
    except SyntaxError as exc:
        raise ErrBadRequest(f"{who}syntax error in the transform code, line {exc.lineno}: {exc.msg}") from exc
    defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    defined |= {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    if "transform" not in defined:
        raise ErrBadRequest(f"{who}the transform code defines no top-level `transform(data, path, args)`")


def code_msg(name: str, src: str, *, deps: Sequence[str] = (), workers: int = 0, init_timeout: str = "",
             obj_timeout: str = "") -> dict[str, Any]:
    """The init message `etl init code` sends: an ETLSpecMsg carrying the module's source."""
    env = [{"name": ENV_CODE, "value": base64.b64encode(src.encode()).decode()}]
    if deps:
        env.append({"name": ENV_PACKAGES, "value": ",".join(deps)})
    if workers:
        env.append({"name": ENV_WORKERS, "value": str(workers)})
    msg: dict[str, Any] = {"name": name, "communication": "hpush://", "runtime": {"image": CODE_IMAGE, "env": env}}
    if init_timeout:
        msg["init_timeout"] = init_timeout
    if obj_timeout:
        msg["obj_timeout"] = obj_timeout
    return msg


def requirements(text: str) -> list[str]:
    """A requirements file's package specs (comments, blanks and pip options dropped)."""
    out = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            out.append(line)
    return out


@dataclass(frozen=True, slots=True)
class ObjErr:
    """One failed object (Go `etl.ObjErr`)."""

    obj_name: str
    msg: str
    ecode: int = 500

    def to_wire(self) -> dict[str, Any]:
        return {"obj_name": self.obj_name, "msg": self.msg, "ecode": self.ecode}


def obj_err(uname: str, err: BaseException) -> ObjErr:
    status = err.status if isinstance(err, AisError) else 500
    text = err.message if isinstance(err, AisError) else f"{type(err).__name__}: {err}"
    return ObjErr(uname, text, status)


class ErrETLNotFound(AisError):
    """404 `etl job <name> does not exist` (SDK `ErrETLNotFound` matches this text)."""

    status = 404

    def __init__(self, name: str) -> None:
        super().__init__(f"etl job {name} does not exist")


class ErrETLExists(AisError):
    """409 on a second init of a name (SDK `ErrETLAlreadyExists`)."""

    status = 409

    def __init__(self, name: str) -> None:
        super().__init__(f"etl job {name} already exists")


class ErrTransform(AisError):
    """One object's transform failed (raised, returned non-bytes, timed out, its process died).

    422, not a 5xx: the SDK retries 5xx for about 90 s, and a transform failing on an object
    fails again the same way."""

    status = 422
