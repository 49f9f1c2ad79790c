# PYTHON_ARGCOMPLETE_OK  (argcomplete: this module is the console script's entry point)
"""`ais-ray`: the command line, mirroring AIStore's `ais` (same verbs, nouns and bucket URIs).

Exit codes: 0 success; 1 the operation failed (one `error: ...` line; `--verbose` adds the
traceback); 2 usage error (argparse).
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import select
import sys
import traceback
from typing import Callable

from ais_ray.auth.gate import ENV_TOKEN
from ais_ray.cli import (archive_cmds, auth_cmds, bucket_cmds, cluster_cmds, copy_cmds, download_cmds, ec_cmds, etl_cmds,
                         job_cmds, log_cmds, ml_cmds, object_cmds, perf_cmds, reb_cmds)
from ais_ray.cli.common import CliError, HelpFormatter
from ais_ray.core.errors import AisError

Handler = Callable[[argparse.Namespace], int]


def _cmd(sub: argparse._SubParsersAction, name: str, handler: Handler, help: str, examples: str,
         aliases: tuple[str, ...] = ()) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help, description=help, aliases=list(aliases), formatter_class=HelpFormatter,
                       epilog="Examples:\n" + "\n".join(f"  {line}" for line in examples.strip().splitlines()))
    p.set_defaults(handler=handler)
    return p


def _add_up_down(sub: argparse._SubParsersAction) -> None:
    p = _cmd(sub, "up", cluster_cmds.cmd_up, "start a local ais-ray cluster (Ray + proxy + targets + REST API)", """
ais-ray up                                   # 2 targets x 2 mountpaths under ~/.local/share/ais-ray
ais-ray up --targets 3 --mountpaths 4 --port 9080
ais-ray up --mountpaths /mnt/nvme0,/mnt/nvme1 # explicit disk directories, split among targets
ais-ray up --nodes 3 --mountpaths 3          # playground: 3 Ray nodes (raylets) here, one target each
ais-ray up --address auto                    # deploy onto a running Ray cluster (ray up cluster.yaml)""")
    p.add_argument("--port", type=int, default=8080, help="REST API port (default 8080)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind and advertise (default 127.0.0.1)")
    p.add_argument("--targets", type=int, default=2, help="number of targets (default 2)")
    p.add_argument("--nodes", type=int, help="local playground: this many Ray nodes (the head plus raylets started "
                                             "here), one target each; implies --targets N")
    p.add_argument("--mountpaths", default="2", help="mountpaths per target (a count), or comma-separated directories")
    p.add_argument("--data-dir", help="where objects and metadata live (default $AIS_RAY_DATA_DIR or ~/.local/share/ais-ray)")
    p.add_argument("--address", help="join this existing Ray cluster instead of starting a local one")
    p.add_argument("--dashboard", action="store_true", help="also start the Ray dashboard (metrics, actors, logs)")
    p.add_argument("--no-fsync", action="store_true", help="do not fsync objects on commit (faster, less durable)")
    p.add_argument("--auth", action="store_true",
                   help="require bearer tokens on the API and every data server (`ais-ray auth token` issues them)")
    p.add_argument("--max-body", metavar="SIZE",
                   help="largest body of a control request (default $AIS_RAY_MAX_BODY or 1MiB; object data is not limited)")
    p.add_argument("--download-deny", metavar="CATEGORIES",
                   help="addresses download sources may not resolve to: default (link-local, metadata, multicast, "
                        "unspecified), none, all, or a comma list adding loopback, private (default: "
                        "$AIS_RAY_DOWNLOAD_DENY or 'default')")
    p = _cmd(sub, "down", cluster_cmds.cmd_down, "stop the cluster `ais-ray up` started (data is kept)", """
ais-ray down
ais-ray down --data-dir /tmp/ais""")
    p.add_argument("--data-dir")


def _add_show(sub: argparse._SubParsersAction) -> argparse._SubParsersAction:
    show = sub.add_parser("show", help="show cluster, jobs, ...", formatter_class=HelpFormatter)
    ssub = show.add_subparsers(dest="what", required=True, metavar="{cluster,config,job,performance,prometheus-config,rebalance,log}")
    p = _cmd(ssub, "cluster", cluster_cmds.cmd_show_cluster, "targets, mountpaths, capacity, data URLs, Smap version", """
ais-ray show cluster
ais-ray show cluster --json""")
    p.add_argument("--json", action="store_true")
    p = _cmd(ssub, "job", job_cmds.cmd_show_job, "jobs: running ones, one kind, or one job", """
ais-ray show job                                   # running jobs (--all: finished too)
ais-ray show job download                          # download jobs: JOB ID, STATUS, ERRORS, DESCRIPTION
ais-ray show job download dnl-5JjIuGemR -v         # in-flight files and errors
ais-ray show job dnl-5JjIuGemR --progress --refresh 500ms
ais-ray show job prefetch-listrange --all
ais-ray show job E-w0gjdm1z                        # one job, per target""")
    p.add_argument("name", nargs="?", default="", metavar="[KIND|ID]")
    p.add_argument("id", nargs="?", default="", metavar="[ID]")
    p.add_argument("--all", action="store_true", help="finished jobs too")
    p.add_argument("--progress", action="store_true", help="download jobs: progress bars until the job ends")
    p.add_argument("--refresh", default="", help="redraw every DUR (download --progress: default 1s)")
    p.add_argument("--count", type=int, default=0, help="with --refresh: stop after N tables (default: until Ctrl-C)")
    p.add_argument("--regex", default="", help="download jobs: only those whose description matches")
    p.add_argument("--json", action="store_true")
    p.add_argument("--verbose", "-v", action="store_true", help="download jobs: in-flight files and every error")
    _add_show_perf(ssub)
    p = _cmd(ssub, "config", cluster_cmds.cmd_config_cluster, "the cluster's configuration (as `ais show config cluster`)",
             "ais-ray show config cluster\nais-ray show config cluster log --json")
    p.add_argument("scope", choices=("cluster",))
    p.add_argument("what", nargs="*", metavar="[SECTION]")
    p.add_argument("--json", "-j", action="store_true")
    return ssub


def _add_config(sub: argparse._SubParsersAction) -> None:
    conf = sub.add_parser("config", help="configuration: cluster (show; read-only here)", formatter_class=HelpFormatter)
    csub = conf.add_subparsers(dest="scope", required=True, metavar="{cluster}")
    p = _cmd(csub, "cluster", cluster_cmds.cmd_config_cluster, "show the cluster's configuration, or one section of it", """
ais-ray config cluster                       # PROPERTY VALUE, every section
ais-ray config cluster log                   # the 'log' section (how each node's log rotates)
ais-ray config cluster checksum.type --json""")
    p.add_argument("what", nargs="*", metavar="[SECTION]")
    p.add_argument("--json", "-j", action="store_true")


def _add_show_perf(ssub: argparse._SubParsersAction) -> None:
    p = _cmd(ssub, "performance", perf_cmds.cmd_show_performance,
             "per-target counters, throughput, latency, capacity, disks (as `ais performance`)", """
ais-ray show performance                            # cumulative counters: GET(n), PUT(size), ERR-GET(n)...
ais-ray show performance throughput --refresh 2s --count 10
ais-ray show performance latency t1
ais-ray show performance capacity
ais-ray show performance disk --refresh 5s""", aliases=("perf",))
    p.add_argument("view", nargs="?", default="", metavar="[counters|throughput|latency|capacity|disk]")
    p.add_argument("target", nargs="?", default="", metavar="[TARGET]")
    p.add_argument("--refresh", default="", help="sample every DUR (100ms..1m); throughput/latency: the interval")
    p.add_argument("--count", type=int, default=0, help="with --refresh: stop after N tables (default: until Ctrl-C)")
    p.add_argument("--no-headers", action="store_true")
    p.add_argument("--json", action="store_true", help="every target's node_status, raw")
    _cmd(ssub, "prometheus-config", perf_cmds.cmd_show_prometheus_config,
         "Prometheus file_sd JSON: every node's /metrics address, from the current cluster map", """
ais-ray show prometheus-config > /etc/prometheus/ais-sd.json  # scrape_configs: file_sd_configs: [files: [...]]""")


def _selection_args(p: argparse.ArgumentParser) -> None:
    """What a multi-object job selects (`cli/common.py::selection_value` turns it into the body)."""
    p.add_argument("--list", default="", help="comma-separated object names")
    p.add_argument("--template", default=None, help="a range template, e.g. 'shard-{000..999}.tar' (\"\": every "
                                                    "object, as a multi-object job)")
    p.add_argument("--prefix", default="", help="objects whose names start with this")


def _prefetch_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("bucket", metavar="BUCKET[/PREFIX]")
    _selection_args(p)
    p.add_argument("--latest", action="store_true", help="also refetch cached objects whose remote version changed")
    p.add_argument("--blob-threshold", default="", help="objects at least this large use the blob downloader (min 1MiB)")
    p.add_argument("--num-workers", type=int, default=0, help="objects in flight per mountpath (default 16)")
    p.add_argument("--coer", "--continue-on-error", dest="coer", action="store_true", help="keep going after errors")
    p.add_argument("--wait", action="store_true")
    p.add_argument("--timeout", default="")


def _add_jobs(sub: argparse._SubParsersAction) -> argparse._SubParsersAction:
    start = sub.add_parser("start", help="start a job: download, mirror, rebalance, resilver, ec-encode", formatter_class=HelpFormatter)
    ssub = start.add_subparsers(dest="kind", required=True)
    p = _cmd(ssub, "mirror", job_cmds.cmd_start_mirror, "give every object of a bucket N replicas (make-n-copies)", """
ais-ray start mirror ais://b --copies 3        # 3 replicas on distinct mountpaths of each object's target
ais-ray start mirror ais://b --copies 1        # back to one: drop the replicas""")
    p.add_argument("bucket", metavar="BUCKET")
    p.add_argument("--copies", type=int, default=2, help="replicas per object, the main included (default 2)")
    p.add_argument("--wait", action="store_true", help="wait until done")
    p.add_argument("--timeout", default="", help="with --wait: give up after this long (exit 1)")
    p = _cmd(ssub, "download", download_cmds.cmd_start_download, "download objects from the Internet or a cloud bucket", """
ais-ray start download http://host:port/data/train-000.tgz ais://imagenet/train-000.tgz
ais-ray start download "http://host:port/data/train-{000..140}.tgz" ais://imagenet/train/ --progress
ais-ray start download "gs://lpr-vision/imagenet/train-{000000..000140}.tgz" ais://local-lpr/imagenet/
ais-ray start download gs://lpr-vision ais://lpr-vision-copy --sync       # whole bucket; remove what is gone
ais-ray start download gs://lpr-vision/dir/prefix- ais://lpr-vision-copy   # objects with a prefix
ais-ray start download gs://lpr-vision ais://local-lpr --object-list=objects.txt
ais-ray start download "ais://127.0.0.1:8080/imagenet/train-{0022..0140}.tgz" ais://local/set_1/""")
    p.add_argument("source", metavar="SOURCE")
    p.add_argument("destination", metavar="DESTINATION")
    p.add_argument("--desc", "--description", dest="desc", default="", help="job description")
    p.add_argument("--timeout", default="", help="per-request timeout, e.g. 30s, 5m")
    p.add_argument("--max-conns", "--conns", dest="max_conns", type=int, default=0,
                   help="concurrent connections per target (default: unlimited)")
    p.add_argument("--limit-bph", default="", help="max bytes per hour for the whole cluster, e.g. 10GiB")
    p.add_argument("--object-list", "--from", dest="object_list", default="", help="JSON array of object names")
    p.add_argument("--sync", action="store_true", help="also remove cached objects that are gone from the source")
    p.add_argument("--fsync", choices=("object", "batch", "off"), default="",
                   help="when objects are made durable: one fsync each (object), one syncfs per batch of objects "
                        "(batch, the default), or left to the page cache (off: fastest; a crash can lose objects "
                        "already reported done)")
    p.add_argument("--no-fsync", dest="fsync", action="store_const", const="off", help="the same as --fsync=off")
    p.add_argument("--progress", action="store_true", help="show progress bars and wait until done")
    p.add_argument("--progress-interval", default="1s", help="progress refresh interval (default 1s)")
    p.add_argument("--wait", action="store_true", help="wait until done, then print a summary")

    p = _cmd(sub, "wait", job_cmds.cmd_wait, "wait for a job to finish (exit 1 if it failed)", """
ais-ray wait download dnl-5JjIuGemR --progress
ais-ray wait E-w0gjdm1z --timeout 10m""")
    p.add_argument("name", metavar="[KIND] ID")
    p.add_argument("id", nargs="?", default="", help=argparse.SUPPRESS)
    p.add_argument("--progress", action="store_true", help="download jobs: progress bars")
    p.add_argument("--refresh", default="1s")
    p.add_argument("--timeout", default="", help="give up after this long (exit 1)")
    p = _cmd(sub, "stop", job_cmds.cmd_stop, "stop (abort) a job", "ais-ray stop download dnl-5JjIuGemR\nais-ray stop E-w0gjdm1z")
    p.add_argument("name", metavar="[KIND] ID")
    p.add_argument("id", nargs="?", default="", help=argparse.SUPPRESS)

    for name in ("prefetch",):
        p = _cmd(sub, name, job_cmds.cmd_prefetch, "prefetch objects of a remote bucket into the cluster", """
ais-ray prefetch s3://abc                                  # the whole bucket
ais-ray prefetch s3://abc --blob-threshold 1mb             # objects >= 1 MB through the blob downloader
ais-ray prefetch s3://abc --template 'shard-{001..999}.tar'
ais-ray prefetch s3://abc --list 'a.bin, b.bin' --latest --wait
ais-ray prefetch s3://abc --prefix images/""")
        _prefetch_args(p)
    p = _cmd(sub, "blob-download", job_cmds.cmd_blob_download,
             "download large remote objects with parallel range readers (the blob downloader)", """
ais-ray blob-download s3://ab/largefile --chunk-size=2mb --num-workers=8 --progress
ais-ray blob-download s3://ab --list "f1, f2" --num-workers=4 --progress     # 4 readers per object
ais-ray blob-download s3://ab/largefile --latest --wait --timeout 10m""")
    p.add_argument("object", metavar="BUCKET[/OBJECT]")
    p.add_argument("--list", default="", help="comma-separated object names")
    p.add_argument("--chunk-size", default="", help="e.g. 4mb, 1MiB, 1048576 (default 2MiB; 32KiB..16MiB)")
    p.add_argument("--num-workers", type=int, default=0, help="concurrent range readers per object (-1 serial; default 4, more for objects over 1GiB)")
    p.add_argument("--latest", action="store_true", help="refetch a cached object whose remote version changed")
    p.add_argument("--progress", action="store_true")
    p.add_argument("--wait", action="store_true")
    p.add_argument("--timeout", default="")
    p.add_argument("--refresh", default="1s")
    p = _cmd(ssub, "prefetch", job_cmds.cmd_prefetch, "prefetch objects of a remote bucket into the cluster",
             "ais-ray start prefetch ht://ZDE1YzE0NzhiNWFkMQ --template 'shard-{001..999}.tar'")
    _prefetch_args(p)
    p = _cmd(ssub, "ec-encode", ec_cmds.cmd_ec_encode, "erasure-code a bucket's objects (and enable EC on it)", """
ais-ray start ec-encode ais://b -d 1 -p 1 --wait
ais-ray start ec-encode ais://b -d 1 -p 1 --recover       # also rebuild missing slices""")
    ec_cmds.add_args(p)

    job = sub.add_parser("job", help="job commands: rm", formatter_class=HelpFormatter)
    jsub = job.add_subparsers(dest="verb", required=True, metavar="{rm}")
    rm = jsub.add_parser("rm", help="remove a finished job from the list")
    rsub = rm.add_subparsers(dest="kind", required=True, metavar="{download}")
    p = _cmd(rsub, "download", download_cmds.cmd_rm_download, "remove a finished or aborted download job",
             "ais-ray job rm download dnl-5JjIuGemR")
    p.add_argument("id")
    return ssub


def _bucket_args(p: argparse.ArgumentParser, verb: str) -> None:
    """`create` / `rmb` (`bucket create` / `bucket rm`): the buckets, and each verb's own flags."""
    p.add_argument("buckets", nargs="+", metavar="BUCKET")
    if verb == "create":
        p.add_argument("--props", default="", help='space-separated NAME=VALUE, e.g. "mirror.enabled=true mirror.copies=3"')
    else:  # `ais bucket rm ... -y`, as scripts written for ais say it; this command never asks
        p.add_argument("--yes", "-y", action="store_true", help="do not ask (accepted: it never asks)")


def _add_buckets(sub: argparse._SubParsersAction) -> argparse._SubParsersAction:
    for name, handler, aliases, help_, ex in (
        ("create", bucket_cmds.cmd_create, (), "create ais:// buckets",
         'ais-ray create ais://photos\nais-ray create ais://a ais://b\n'
         'ais-ray create ais://src-mirror --props "mirror.enabled=true mirror.copies=3"\n'
         'ais-ray create ais://src-ec --props "ec.enabled=true ec.data_slices=3 ec.parity_slices=1 ec.objsize_limit=0"'),
        ("rmb", bucket_cmds.cmd_rmb, (), "destroy buckets and all their objects", "ais-ray rmb ais://photos"),
    ):
        p = _cmd(sub, name, handler, help_, ex, aliases)
        _bucket_args(p, name)
    p = _cmd(sub, "ls", bucket_cmds.cmd_ls, "list buckets, or the objects of a bucket", """
ais-ray ls                                   # all buckets
ais-ray ls s3                                # the s3:// buckets in the cluster (also: ls s3://, ls gs, ls ais)
ais-ray ls s3 --all                          # and the cloud's buckets not in the cluster (PRESENT no)
ais-ray ls ais://photos                      # NAME SIZE
ais-ray ls ais://photos --summary            # NAME PRESENT OBJECTS SIZE ON DISK USAGE(%)
ais-ray ls ais://photos/a/ --props name,size,version,checksum
ais-ray ls ais://photos --limit 10 --start-after a/0999.jpg   # the 10 names after that one
ais-ray ls ais://photos --nr                 # one level: names and virtual directories (a/)
ais-ray ls ais://photos --json""")
    p.add_argument("uri", nargs="?", default="", metavar="BUCKET[/PREFIX]")
    p.add_argument("--prefix", default="")
    p.add_argument("--props", default="", help="comma-separated: name,size,checksum,atime,version,location,copies,custom")
    p.add_argument("--page-size", type=int, default=0)
    p.add_argument("--limit", type=int, default=0, help="at most this many names (0: all)")
    p.add_argument("--start-after", default="", help="only the names after this one")
    p.add_argument("--nr", "--non-recursive", dest="nr", action="store_true",
                   help="one level: names and virtual directories, not what is below them")
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-headers", "-H", action="store_true")
    p.add_argument("--no-footer", action="store_true")
    p.add_argument("--cached", action="store_true", help="remote buckets: only objects present in the cluster")
    p.add_argument("--all", action="store_true", help="ls s3|gs|az: the cloud's buckets too, not only the cluster's")
    p.add_argument("--summary", action="store_true", help="per bucket: NAME PRESENT OBJECTS SIZE ON DISK USAGE(%%)")
    p = _cmd(sub, "evict", bucket_cmds.cmd_evict, "drop cached copies of a remote bucket or object (the remote keeps them)", """
ais-ray evict s3://src                        # every cached object (and the bucket's entry)
ais-ray evict s3://src --keep-md              # every cached object; keep the bucket listed
ais-ray evict s3://src/a/1.bin""")
    p.add_argument("uri", metavar="BUCKET[/OBJECT]")
    p.add_argument("--keep-md", action="store_true", help="keep the bucket's metadata (props) in the cluster")
    storage = sub.add_parser("storage", help="storage commands: summary", formatter_class=HelpFormatter)
    stsub = storage.add_subparsers(dest="verb", required=True, metavar="{summary}")
    p = _cmd(stsub, "summary", bucket_cmds.cmd_summary, "objects and bytes of a bucket: cached vs remote", """
ais-ray storage summary ais://photos
ais-ray storage summary s3://src              # works before anything is cached""")
    p.add_argument("uri", metavar="BUCKET[/PREFIX]")
    p.add_argument("--all", action="store_true", help="include objects not in the cluster (remote buckets: always)")
    p.add_argument("--json", action="store_true")

    bucket = sub.add_parser("bucket", help="bucket commands: create, rm, mv, props", formatter_class=HelpFormatter)
    bsub = bucket.add_subparsers(dest="verb", required=True)
    for name, handler in (("create", bucket_cmds.cmd_create), ("rm", bucket_cmds.cmd_rmb)):
        p = _cmd(bsub, name, handler, f"{name} buckets", f"ais-ray bucket {name} ais://photos")
        _bucket_args(p, name)
    p = _cmd(bsub, "mv", bucket_cmds.cmd_mv, "rename an ais bucket (its objects move; both buckets are read-only meanwhile)",
             "ais-ray bucket mv ais://photos ais://photos-2024\nais-ray bucket mv ais://photos ais://photos-2024 --wait")
    p.add_argument("src", metavar="BUCKET")
    p.add_argument("dst", metavar="NEW_BUCKET")
    p.add_argument("--wait", action="store_true", help="wait until done")
    p.add_argument("--timeout", default="", help="with --wait: give up after this long")
    props = bsub.add_parser("props", help="bucket properties")
    psub = props.add_subparsers(dest="pverb", required=True)
    p = _cmd(psub, "show", bucket_cmds.cmd_bucket_props, "show bucket properties", "ais-ray bucket props show ais://photos")
    p.add_argument("bucket")
    p.add_argument("--json", action="store_true")
    p = _cmd(psub, "set", bucket_cmds.cmd_bucket_props_set, "set bucket properties",
             "ais-ray bucket props set ais://copy backend_bck=gs://lpr-vision\nais-ray bucket props set ais://copy backend_bck=")
    p.add_argument("bucket")
    p.add_argument("props", nargs="+", metavar="NAME=VALUE")
    return stsub


def _add_objects(sub: argparse._SubParsersAction) -> None:
    p = _cmd(sub, "put", object_cmds.cmd_put, "put a file, or a directory's files (--recursive)", """
ais-ray put ./1.jpg ais://photos/a/1.jpg
ais-ray put ./1.jpg ais://photos/a/          # keeps the file name
ais-ray put ./dir ais://photos --recursive    # every file, named by its path under ./dir
tar c ./dir | ais-ray put - ais://photos/dir.tar   # standard input, streamed""")
    p.add_argument("src", help="a file, a directory (--recursive), or - for standard input")
    p.add_argument("dst", metavar="BUCKET[/NAME]")
    p.add_argument("--recursive", "-r", action="store_true")
    p.add_argument("--progress", action="store_true")
    p = _cmd(sub, "get", object_cmds.cmd_get, "get an object into a file (or `-` for stdout), or many into a directory", """
ais-ray get ais://photos/a/1.jpg ./1.jpg
ais-ray get ais://photos/a/1.jpg -           # to stdout
ais-ray get ais://photos/a/1.jpg - --offset 1kib --length 16   # a range: 16 bytes from byte 1024
ais-ray get ais://photos/a/ ./out            # every object under a/ into ./out
ais-ray get s3://src/a/1.bin ./1.bin          # cold GET: fetched, stored, streamed; next time local
ais-ray get s3://ab/largefile /tmp/lf --blob-download --num-workers 8   # parallel range readers
ais-ray get http://127.0.0.1:51061/abc/hello-world   # via an HTTP bucket ht://<id>, made on the fly""")
    p.add_argument("src", metavar="BUCKET/NAME")
    p.add_argument("dst", nargs="?", default="")
    p.add_argument("--progress", action="store_true")
    p.add_argument("--latest", action="store_true", help="remote buckets: re-check the remote version, refetch if changed")
    p.add_argument("--blob-download", action="store_true",
                   help="remote buckets: fetch with the blob downloader (parallel range readers) while streaming")
    p.add_argument("--chunk-size", default="", help="with --blob-download: e.g. 4mb, 1MiB (default 2MiB; 32KiB..16MiB)")
    p.add_argument("--num-workers", type=int, default=0, help="with --blob-download: range readers (default 4)")
    p.add_argument("--offset", default="", help="with --length: read a range from this byte (e.g. 0, 4kib)")
    p.add_argument("--length", default="", help="with --offset: this many bytes (e.g. 100, 1mib)")
    p = _cmd(sub, "cp", copy_cmds.cmd_cp, "copy an object, a bucket, or a selection of objects (list, template, prefix)",
             "ais-ray cp ais://photos/a/1.jpg ais://backup/a/1.jpg   # one object\n"
             "ais-ray cp ais://photos ais://backup --wait               # a whole bucket (made if missing)\n"
             "ais-ray cp s3://src gs://dst --all --progress --refresh 3 # every remote object, cached or not\n"
             "ais-ray cp ais://photos ais://backup --template 'a/{00..99}.jpg' --prepend old-\n"
             "ais-ray cp ais://photos/a/ ais://backup --dry-run         # a prefix; count only")
    p.add_argument("src", metavar="SRC_BUCKET[/NAME|PREFIX]")
    p.add_argument("dst", nargs="?", default="", metavar="DST_BUCKET[/NAME]")
    copy_cmds.add_copy_args(p, _selection_args)
    p = _cmd(sub, "rm", object_cmds.cmd_rm, "remove objects", "ais-ray rm ais://photos/a/1.jpg ais://photos/a/2.jpg")
    p.add_argument("objects", nargs="+", metavar="BUCKET/NAME")
    obj = sub.add_parser("object", help="object commands: show, promote", formatter_class=HelpFormatter)
    osub = obj.add_subparsers(dest="verb", required=True)
    p = _cmd(osub, "show", object_cmds.cmd_object_show, "object properties: size, checksum, version, atime, location",
             "ais-ray object show ais://photos/a/1.jpg\nais-ray object show ais://photos/a/1.jpg --json")
    p.add_argument("object", metavar="BUCKET/NAME")
    p.add_argument("--json", action="store_true")
    p = _cmd(osub, "promote", object_cmds.cmd_object_promote,
             "files on the targets' machines (under the promote root, $AIS_PROMOTE_ROOT of `up`, default "
             "/var/lib/ais/promote) become objects",
             "ais-ray object promote /var/lib/ais/promote/imagenet ais://photos/train/ --recursive --wait\n"
             "ais-ray object promote /var/lib/ais/promote/a.jpg ais://photos/a.jpg --overwrite-dst")
    p.add_argument("src", metavar="SRC_PATH")
    p.add_argument("dst", metavar="BUCKET[/NAME_OR_PREFIX]")
    p.add_argument("-r", "--recursive", action="store_true", help="the directory's subdirectories too")
    p.add_argument("-o", "--overwrite-dst", action="store_true", help="replace objects of the same name (else kept)")
    p.add_argument("--delete-src", action="store_true", help="remove each file once its object is stored")
    p.add_argument("--target-id", default="", help="only this target looks at SRC_PATH (and sends to the owners)")
    p.add_argument("--not-file-share", action="store_true",
                   help="every target promotes all it sees (do not look for a file share)")
    p.add_argument("--wait", action="store_true", help="wait until the job is done")


class Parser(argparse.ArgumentParser):
    """argparse with a "did you mean" for a mistyped command or choice (Python 3.14 has it built in);
    subparsers are made of the same class, so every level suggests."""

    _CHOICE = re.compile(r"invalid choice: '([^']*)' \(choose from (.*)\)$")

    def error(self, message: str) -> None:  # type: ignore[override]
        m = self._CHOICE.search(message)
        if m:
            choices = re.findall(r"'([^']*)'", m.group(2)) or [c.strip() for c in m.group(2).split(",")]
            close = difflib.get_close_matches(m.group(1), choices, n=1, cutoff=0.6)
            if close:
                message = f"{message.split(' (choose from')[0]}; did you mean '{close[0]}'?"
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="ais-ray", formatter_class=HelpFormatter,
        description="AIStore's data-ingest core on Ray: a cluster of local disks in front of the Internet, S3, GCS and Azure.",
        epilog="Examples:\n  ais-ray up\n  ais-ray create ais://photos\n  ais-ray put ./dir ais://photos --recursive\n"
               "  ais-ray ls ais://photos\n  ais-ray down\n\nThe cluster is found at $AIS_ENDPOINT (default http://127.0.0.1:8080).")
    parser.add_argument("--verbose", "-v", action="store_true", help="print tracebacks on errors")
    parser.add_argument("--token", help="bearer token for a cluster with auth on (default $AIS_AUTHN_TOKEN)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_up_down(sub)
    show = _add_show(sub)
    _add_config(sub)
    storage = _add_buckets(sub)
    _add_objects(sub)
    start = _add_jobs(sub)
    cluster = reb_cmds.add_commands(sub, start, show, storage, _cmd)
    log_cmds.add_commands(sub, show, cluster, _cmd)
    auth_cmds.add_auth(sub, _cmd)
    etl_cmds.add_commands(sub, _cmd, _selection_args)
    archive_cmds.add_archive(sub, _cmd, _selection_args)
    ml_cmds.add_commands(sub, _cmd, _selection_args)
    p = _cmd(sub, "completion", _cmd_completion, "print the shell completion script (bash, zsh, fish)", """
eval "$(ais-ray completion bash)"            # this shell; add the line to ~/.bashrc to keep it
ais-ray completion zsh > ~/.zfunc/_ais-ray""")
    p.add_argument("shell", nargs="?", default="bash", choices=("bash", "zsh", "fish", "tcsh", "powershell"))
    return parser


def _cmd_completion(args: argparse.Namespace) -> int:
    import argcomplete

    print(argcomplete.shellcode(["ais-ray"], shell=args.shell))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    if argv is None and "_ARGCOMPLETE" in os.environ:  # a TAB from the shell's completion hook
        import argcomplete

        from ais_ray.cli import completers

        completers.attach(parser)  # bucket names and node ids from the running cluster
        argcomplete.autocomplete(parser)
    args, extra = parser.parse_known_args(argv)
    if extra:  # a verb whose positionals end with its destination takes them after its options too
        trailing = getattr(args, "trailing", None)  # (`ml get-batch SRC --list a,b DST`)
        if trailing is None or any(e.startswith("-") and e != "-" for e in extra):
            parser.error("unrecognized arguments: " + " ".join(extra))
        setattr(args, trailing, [*getattr(args, trailing), *extra])
    if args.token:  # the client reads it from there (cli/common.py::run)
        os.environ[ENV_TOKEN] = args.token
    try:
        return int(args.handler(args))
    except (CliError, AisError) as exc:
        if args.verbose:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError as exc:
        if _stdout_closed():  # `ais-ray get ... - | head`: the reader has what it wanted
            return 141  # 128 + SIGPIPE, as a shell tool would exit
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # this machine's files (a disk full, a permission): the user's to see, not a bug
        if args.verbose:
            traceback.print_exc()
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug: still one line, the traceback only on request
        if args.verbose:
            traceback.print_exc()
        print(f"error: unexpected {type(exc).__name__}: {exc} (run with --verbose for details)", file=sys.stderr)
        return 1


def _stdout_closed() -> bool:
    """True if our stdout's reader went away (a pipe or socket without a reader polls as an
    error); then stdout goes to /dev/null so the flush at exit does not fail again."""
    try:
        fd = sys.stdout.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        gone = any(ev & (select.POLLERR | select.POLLHUP) for _, ev in poller.poll(0))
    except (AttributeError, ValueError, OSError):
        return False
    if gone:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    return gone


if __name__ == "__main__":
    sys.exit(main())
