"""`ais-ray auth token`: issue a bearer token for a cluster started with `ais-ray up --auth`.

An admin command: it reads the cluster's secret from the data dir (`<data-dir>/auth/secret`,
0600), so only whoever can read that file can issue tokens. Nothing is sent to the cluster.
"""

from __future__ import annotations

import argparse
import os
import time

from ais_ray.auth.gate import secret_path
from ais_ray.auth.tokens import issue_token
from ais_ray.cli.common import CliError, default_data_dir
from ais_ray.cli.daemon import last_data_dir
from ais_ray.core.auth import Access, Claims, parse_grant
from ais_ray.core.durations import parse_duration
from ais_ray.core.names import parse_bucket_uri


def cmd_token(args: argparse.Namespace) -> int:
    data_dir = os.path.abspath(args.data_dir or os.environ.get("AIS_RAY_DATA_DIR") or last_data_dir()
                               or default_data_dir())
    path = secret_path(data_dir)
    try:
        with open(path) as f:
            secret = f.read().strip()
    except FileNotFoundError:
        raise CliError(f"{path} does not exist: start the cluster with `ais-ray up --auth --data-dir {data_dir}`") from None
    except PermissionError:
        raise CliError(f"{path}: permission denied (issuing tokens is for the cluster's admin)") from None
    access = Access.parse(args.access)
    buckets = tuple(_grant(b, access) for b in args.bucket)
    ttl = parse_duration(args.ttl)
    claims = Claims(args.user, int(time.time() + ttl), admin=access is Access.ADMIN and not buckets,
                    cluster=Access.NONE if buckets else access, buckets=buckets)
    print(issue_token(secret, claims))
    return 0


def _grant(text: str, access: Access) -> tuple[str, Access]:
    """`ais://b=ro` (its own level) or `ais://b` (the `--access` level)."""
    if "=" in text:
        return parse_grant(text)
    bck, obj = parse_bucket_uri(text)
    if obj:
        raise CliError(f'--bucket "{text}" names an object, not a bucket')
    return str(bck), access


def add_auth(sub: argparse._SubParsersAction, cmd: object) -> None:
    """`auth token` (cmd: main's `_cmd`, which adds the Examples block)."""
    auth = sub.add_parser("auth", help="authentication: issue tokens (clusters started with `up --auth`)")
    asub = auth.add_subparsers(dest="verb", required=True, metavar="{token}")
    p = cmd(asub, "token", cmd_token, "issue a bearer token (printed; use it as $AIS_AUTHN_TOKEN or --token)", """
ais-ray auth token --user ann --access ro                  # read anything, cluster-wide
ais-ray auth token --user bob --access rw --bucket ais://b # read-write on ais://b only
ais-ray auth token --user ops --access admin --ttl 1h      # everything, for an hour
export AIS_AUTHN_TOKEN=$(ais-ray auth token --user ann --access rw)""")
    p.add_argument("--user", required=True, help="the token's user name")
    p.add_argument("--access", default="ro", choices=["ro", "rw", "admin"],
                   help="ro: read and list; rw: also write, delete, create buckets, run jobs; admin: everything")
    p.add_argument("--bucket", action="append", default=[], metavar="BUCKET[=ro|rw|admin]",
                   help="limit the token to this bucket (repeatable); no access elsewhere")
    p.add_argument("--ttl", default="24h", help="how long the token is valid (default 24h)")
    p.add_argument("--data-dir", help="the cluster's data dir (default: the cluster `up` started last)")
