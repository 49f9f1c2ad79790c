"""`ais-ray etl ...`: init (code, spec), show, view-errors, logs, stop/start/rm, object, bucket.

Shaped as AIStore's `ais etl` (ais-wire-2 §2.6; seed 004's `etl init spec --name --from-file`
and `etl bucket NAME s3://src gs://dst --progress --refresh 3 --all` verbatim). There is no
Kubernetes: a spec runs when it names a Python transform ais-ray can run — env
`AIS_RAY_TRANSFORM: file.py` (a module with `transform(data, path, args)`, relative to the
spec), an `ETL_CODE` / `ETL_CLASS_PAYLOAD` env, or one of AIStore's stock images re-done in
Python (md5, echo, hello-world) — else the cluster answers a 4xx that says why.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
from typing import Any

import yaml

from ais_ray.cli.common import CliError, print_json, print_table, run
from ais_ray.cli.copy_cmds import add_copy_args, copy_many
from ais_ray.client import AisClient
from ais_ray.core.etl import ENV_CODE, check_code, code_msg, requirements
from ais_ray.core.errors import AisError
from ais_ray.core.names import parse_bucket_uri

ENV_TRANSFORM_FILE = "AIS_RAY_TRANSFORM"


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from exc


def cmd_init_code(args: argparse.Namespace) -> int:
    src = _read(args.from_file)
    try:
        check_code(src)  # the cluster checks too; here the line is named before anything is sent
    except AisError as exc:
        raise CliError(f"{args.from_file}: {exc.message}") from exc
    deps = requirements(_read(args.deps_file)) if args.deps_file else []
    msg = code_msg(args.name, src, deps=deps, workers=args.num_workers, init_timeout=args.init_timeout,
                   obj_timeout=args.object_timeout)
    return _init(msg)


def spec_msg(text: str, base_dir: str, name: str = "") -> dict[str, Any]:
    """An ETL spec (AIStore's `name/runtime/...` YAML, or a Kubernetes Pod) as an ETLSpecMsg."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CliError(f"not a YAML document: {exc}") from exc
    if not isinstance(doc, dict):
        raise CliError("expecting a YAML mapping (an ETL spec or a Pod)")
    if doc.get("kind") == "Pod":  # the pre-2025 `init spec` pod: its first container is the transform
        containers = (doc.get("spec") or {}).get("containers") or [{}]
        c = containers[0]
        ann = (doc.get("metadata") or {}).get("annotations") or {}
        msg: dict[str, Any] = {"name": name or (doc.get("metadata") or {}).get("name", ""),
                               "communication": ann.get("communication_type", "hpush://"),
                               "runtime": {"image": c.get("image", ""), "env": list(c.get("env") or [])}}
        for key in ("init_timeout", "obj_timeout"):
            if ann.get(key):
                msg[key] = ann[key]
    else:
        msg = dict(doc)
        msg["runtime"] = dict(msg.get("runtime") or {})
        msg["runtime"]["env"] = list(msg["runtime"].get("env") or [])
        if name:
            msg["name"] = name
    env = msg["runtime"]["env"]
    for e in list(env):
        if e.get("name") == ENV_TRANSFORM_FILE:  # the Python transform this spec names
            path = os.path.join(base_dir, str(e.get("value", "")))
            src = _read(path)
            try:
                check_code(src)
            except AisError as exc:
                raise CliError(f"{path}: {exc.message}") from exc
            env.remove(e)
            env.append({"name": ENV_CODE, "value": base64.b64encode(src.encode()).decode()})
    return msg


def cmd_init_spec(args: argparse.Namespace) -> int:
    msg = spec_msg(_read(args.from_file), os.path.dirname(os.path.abspath(args.from_file)), args.name)
    if args.comm_type:
        msg["communication"] = args.comm_type
    if args.init_timeout:
        msg["init_timeout"] = args.init_timeout
    if args.object_timeout:
        msg["obj_timeout"] = args.object_timeout
    return _init(msg)


def _init(msg: dict[str, Any]) -> int:
    async def go(c: AisClient) -> int:
        xid = await c.etl_init(msg)
        print(f"ETL[{msg.get('name')}]: running (xaction {xid})")
        return 0

    return run(go)


def cmd_show(args: argparse.Namespace) -> int:
    names = args.names[1:] if args.names[:1] == ["details"] else args.names  # `etl show details NAME`

    async def go(c: AisClient) -> int:
        if names:
            for n in names:
                d = await c.etl_details(n)
                print_json(d) if args.json else _print_details(n, d)
            return 0
        etls = await c.etl_list()
        if args.json:
            print_json(etls)
        else:
            print_table(["NAME", "STAGE", "XACTION", "OBJECTS"],
                        [[e["id"], e["stage"], e["xaction_id"], e["obj_count"]] for e in etls])
        return 0

    return run(go)


def _print_details(name: str, d: dict[str, Any]) -> None:
    m = d.get("init_msg") or {}
    rt = m.get("runtime") or {}
    env = {e["name"]: e.get("value", "") for e in rt.get("env") or []}
    runs = "class (SDK init_class)" if "ETL_CLASS_PAYLOAD" in env else "code" if ENV_CODE in env else rt.get("image", "")
    print_table(["PROPERTY", "VALUE"], [["NAME", name], ["STAGE", d.get("stage", "")],
                                         ["COMMUNICATION", m.get("communication", "")], ["RUNS", runs],
                                         ["PACKAGES", env.get("PACKAGES", "-")],
                                         ["WORKERS PER TARGET", env.get("NUM_WORKERS", "1")],
                                         ["INIT TIMEOUT", m.get("init_timeout", "-")],
                                         ["OBJECT TIMEOUT", m.get("obj_timeout", "-")],
                                         ["OBJECT ERRORS", len(d.get("obj_errors") or [])]])


def cmd_show_details(args: argparse.Namespace) -> int:
    args.names, args.json = [args.name], getattr(args, "json", False)
    return cmd_show(args)


def cmd_view_errors(args: argparse.Namespace) -> int:
    async def go(c: AisClient) -> int:
        errs = (await c.etl_details(args.name, args.job_id)).get("obj_errors") or []
        print_table(["OBJECT", "ECODE", "ERROR"], [[e["obj_name"], e["ecode"], e["msg"]] for e in errs])
        return 0

    return run(go)


def cmd_logs(args: argparse.Namespace) -> int:
    async def go(c: AisClient) -> int:
        for part in await c.etl_logs(args.name, args.target or ""):
            print(f"--- target {part['target_id']} ---")
            sys.stdout.write(base64.b64decode(part["logs"]).decode(errors="replace"))
        return 0

    return run(go)


def cmd_lifecycle(args: argparse.Namespace) -> int:
    async def go(c: AisClient) -> int:
        for n in args.names:
            out = await c.etl_action(n, args.verb)
            print(f"ETL[{n}]: " + {"stop": "stopped", "start": f"started (xaction {out})", "rm": "removed"}[args.verb])
        return 0

    return run(go)


def _stages(name: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in name.split(">>") if s.strip())


def cmd_object(args: argparse.Namespace) -> int:
    bck, obj = parse_bucket_uri(args.src)
    if not obj:
        raise CliError(f'"{args.src}": expecting BUCKET/OBJECT')

    async def go(c: AisClient) -> int:
        data = await c.etl_object(list(_stages(args.name)), bck, obj, args.args)
        if args.out == "-":
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        else:
            with open(args.out, "wb") as f:
                f.write(data)
        return 0

    return run(go)


def cmd_bucket(args: argparse.Namespace) -> int:
    bck, embedded = parse_bucket_uri(args.src)
    dst, dst_name = parse_bucket_uri(args.dst)
    if dst_name:
        raise CliError(f'"{args.dst}": expecting a destination bucket, not an object')
    return copy_many(args, bck, embedded, dst, _stages(args.name))


def add_commands(sub: argparse._SubParsersAction, cmd: Any, selection_args: Any) -> None:
    """`ais-ray etl ...` (`cmd` is main's `_cmd`, `selection_args` its `--list/--template/--prefix`)."""
    etl = sub.add_parser("etl", help="ETL: transform objects inline or bucket to bucket (Python on Ray)")
    esub = etl.add_subparsers(dest="etl_cmd", required=True, metavar="COMMAND")
    init = esub.add_parser("init", help="start an ETL: from Python code or from a spec")
    isub = init.add_subparsers(dest="init_kind", required=True, metavar="{code,spec}")
    p = cmd(isub, "code", cmd_init_code, "an ETL from a Python module defining transform(data, path, args)", """
ais-ray etl init code --name my-transform --from-file transform.py
ais-ray etl init code --name resize-imgs --from-file resize.py --deps-file requirements.txt --num-workers 2""")
    p.add_argument("--name", required=True)
    p.add_argument("--from-file", required=True, help="the module: transform(data: bytes, path: str, args: str) -> bytes "
                                                      "(or a generator of chunks)")
    p.add_argument("--deps-file", default="", help="requirements.txt: pip packages for the workers")
    p.add_argument("--num-workers", type=int, default=0, help="worker processes per target (default 1)")
    p.add_argument("--init-timeout", default="", help="give up starting after this long (default 45s)")
    p.add_argument("--object-timeout", default="", help="one object's transform time limit (default 10s)")
    p = cmd(isub, "spec", cmd_init_spec, "an ETL from a spec (YAML) naming a Python transform or a stock image", """
ais-ray etl init spec --name=my-custom-transform --from-file=my-custom-transform.yaml""")
    p.add_argument("--name", default="", help="overrides the spec's name")
    p.add_argument("--from-file", "-f", "--spec", required=True)
    p.add_argument("--comm-type", default="")
    p.add_argument("--init-timeout", default="")
    p.add_argument("--object-timeout", default="")
    p = cmd(esub, "show", cmd_show, "list ETLs, or show some", "ais-ray etl show\nais-ray etl show details my-transform")
    p.add_argument("names", nargs="*", metavar="NAME")
    p.add_argument("--json", action="store_true")
    p = cmd(esub, "details", cmd_show_details, "one ETL's details", "ais-ray etl details my-transform")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--json", action="store_true")
    p = cmd(esub, "view-errors", cmd_view_errors, "object errors: inline, or of an offline job", """
ais-ray etl view-errors my-transform
ais-ray etl view-errors my-transform JOB_ID""")
    p.add_argument("name", metavar="NAME")
    p.add_argument("job_id", nargs="?", default="", metavar="JOB_ID")
    p = cmd(esub, "logs", cmd_logs, "the workers' logs, per target", "ais-ray etl logs my-transform [TARGET_ID]",
            aliases=("view-logs",))
    p.add_argument("name", metavar="NAME")
    p.add_argument("target", nargs="?", default="", metavar="TARGET_ID")
    for verb, what in (("stop", "stop (workers go, stage Aborted)"), ("start", "start a stopped ETL again"),
                       ("rm", "stop and remove")):
        p = cmd(esub, verb, cmd_lifecycle, f"{what}", f"ais-ray etl {verb} my-transform")
        p.add_argument("names", nargs="+", metavar="NAME")
        p.set_defaults(verb=verb)
    p = cmd(esub, "object", cmd_object, "transform one object inline (GET with an ETL)", """
ais-ray etl object my-transform ais://b/obj out.bin
ais-ray etl object 'upper>>reverse' ais://b/obj - --args x""")
    p.add_argument("name", metavar="NAME|'A>>B'")
    p.add_argument("src", metavar="BUCKET/OBJECT")
    p.add_argument("out", metavar="OUT|-")
    p.add_argument("--args", default="", help="etl_args passed to the transform")
    p = cmd(esub, "bucket", cmd_bucket, "transform a bucket (or a selection) into another bucket", """
ais-ray etl bucket my-custom-transform s3://src gs://dst --progress --refresh 3 --all
ais-ray etl bucket my-transform ais://a ais://b --ext '{"jpg":"png"}' --prepend out/ --wait
ais-ray etl bucket 'upper>>reverse' ais://a ais://b --template 'img-{0..99}.jpg' --cont-on-err""")
    p.add_argument("name", metavar="NAME|'A>>B'")
    p.add_argument("src", metavar="SRC_BUCKET[/PREFIX]")
    p.add_argument("dst", metavar="DST_BUCKET")
    add_copy_args(p, selection_args)
    p.add_argument("--ext", default="", help='rename extensions, JSON: \'{"jpg":"png"}\'')
