"""`ais-ray auth token` / `ais-ray auth s3-key`: a bearer token, or an S3 access key id + secret key
(the S3 API at `/s3` checks SigV4 signatures with it: `auth/sigv4.py`), for a cluster started with
`ais-ray up --auth`.

An admin command: it reads the cluster's secret from the data dir (`<data-dir>/auth/secret`,
0600), so only whoever can read that file can issue tokens. Nothing is sent to the cluster.
"""

from __future__ import annotations

import argparse
import os
import time

from ais_ray.auth.gate import secret_path
from ais_ray.auth.tokens import issue_s3_key, issue_token
from ais_ray.cli.common import CliError, default_data_dir
from ais_ray.cli.daemon import last_data_dir
from ais_ray.core.auth import Access, Claims, parse_grant
from ais_ray.core.durations import parse_duration
from ais_ray.core.names import parse_bucket_uri


def _claims(args: argparse.Namespace) -> tuple[str, Claims]:
    """The cluster's secret (read from the data dir) and the claims the flags ask for."""
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
    return secret, Claims(args.user, int(time.time() + ttl), admin=access is Access.ADMIN and not buckets,
                          cluster=Access.NONE if buckets else access, buckets=buckets)


def cmd_token(args: argparse.Namespace) -> int:
    print(issue_token(*_claims(args)))
    return 0


def cmd_s3_key(args: argparse.Namespace) -> int:
    key_id, secret_key = issue_s3_key(*_claims(args))
    print(f"AWS_ACCESS_KEY_ID={key_id}")
    print(f"AWS_SECRET_ACCESS_KEY={secret_key}")
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
    """`auth token`, `auth s3-key` (cmd: main's `_cmd`, which adds the Examples block)."""
    auth = sub.add_parser("auth", help="authentication: issue tokens and S3 keys (clusters started with `up --auth`)")
    asub = auth.add_subparsers(dest="verb", required=True, metavar="{token,s3-key}")
    p = cmd(asub, "token", cmd_token, "issue a bearer token (printed; use it as $AIS_AUTHN_TOKEN or --token)", """
ais-ray auth token --user ann --access ro                  # read anything, cluster-wide
ais-ray auth token --user bob --access rw --bucket ais://b # read-write on ais://b only
ais-ray auth token --user ops --access admin --ttl 1h      # everything, for an hour
export AIS_AUTHN_TOKEN=$(ais-ray auth token --user ann --access rw)""")
    _claim_flags(p)
    p = cmd(asub, "s3-key", cmd_s3_key, "issue an S3 access key id and secret key (for boto3, aws, s5cmd, rclone "
            "at <endpoint>/s3)", """
ais-ray auth s3-key --user ann --access rw                  # AWS_ACCESS_KEY_ID=... / AWS_SECRET_ACCESS_KEY=...
ais-ray auth s3-key --user bob --access ro --bucket ais://b --ttl 30d
export $(ais-ray auth s3-key --user ann --access rw)        # then: aws --endpoint-url http://127.0.0.1:8080/s3 s3 ls""")
    _claim_flags(p)


def _claim_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--user", required=True, help="the user name")
    p.add_argument("--access", default="ro", choices=["ro", "rw", "admin"],
                   help="ro: read and list; rw: also write, delete, create buckets, run jobs; admin: everything")
    p.add_argument("--bucket", action="append", default=[], metavar="BUCKET[=ro|rw|admin]",
                   help="limit to this bucket (repeatable); no access elsewhere")
    p.add_argument("--ttl", default="24h", help="how long it is valid (default 24h)")
    p.add_argument("--data-dir", help="the cluster's data dir (default: the cluster `up` started last)")
