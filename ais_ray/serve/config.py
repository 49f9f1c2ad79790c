"""`GET /v1/cluster?what=config` (and `/v1/daemon?what=config`): the cluster configuration.

Shaped as Go `cmn.ClusterConfig` (JSON keys as AIStore writes them) for the sections this
cluster has; values come from the running cluster (Smap, bucket defaults), not constants
that could disagree with it: features that are not implemented say `enabled: false`.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from ais_ray.auth.gate import cluster_secret
from ais_ray.core import nodelog
from ais_ray.core.bmd import BucketProps
from ais_ray.core.smap import Smap


class ChecksumConf(BaseModel):
    type: str
    validate_cold_get: bool = False
    validate_warm_get: bool = False
    validate_obj_move: bool = False
    enable_read_range: bool = False


class VersioningConf(BaseModel):
    enabled: bool
    validate_warm_get: bool = False
    synchronize: bool = False


class Toggle(BaseModel):
    enabled: bool = False


class MirrorConf(Toggle):
    copies: int = 1


class HttpConf(BaseModel):
    use_https: bool = False
    server_crt: str = ""
    server_key: str = ""


class L4Conf(BaseModel):
    proto: str = "tcp"


class NetConf(BaseModel):
    l4: L4Conf = Field(default_factory=L4Conf)
    http: HttpConf = Field(default_factory=HttpConf)


class ProxyConf(BaseModel):
    primary_url: str
    original_url: str
    discovery_url: str = ""
    non_electable: bool = True


class LogConf(BaseModel):
    """How each node logs (core/nodelog.py): every record written at once, to stderr too."""

    level: str = "3"
    max_size: str = f"{nodelog.MAX_SIZE >> 20}MiB"
    max_total: str = f"{2 * (nodelog.BACKUPS + 1) * nodelog.MAX_SIZE >> 20}MiB"  # INFO and ERROR, with their older files
    flush_time: str = "0s"
    to_stderr: bool = True


class ClientConf(BaseModel):
    client_timeout: str = "10s"
    client_long_timeout: str = "10m"
    list_timeout: str = "10m"


class ClusterConfig(BaseModel):
    uuid: str
    config_version: str
    checksum: ChecksumConf
    versioning: VersioningConf
    mirror: MirrorConf = Field(default_factory=MirrorConf)
    ec: Toggle = Field(default_factory=Toggle)
    lru: Toggle = Field(default_factory=Toggle)
    rebalance: Toggle = Field(default_factory=Toggle)
    resilver: Toggle = Field(default_factory=Toggle)
    auth: Toggle = Field(default_factory=Toggle)
    net: NetConf = Field(default_factory=NetConf)
    proxy: ProxyConf
    client: ClientConf = Field(default_factory=ClientConf)
    log: LogConf = Field(default_factory=LogConf)
    features: str = "0"


def cluster_config(smap: Smap) -> ClusterConfig:
    defaults = BucketProps()
    return ClusterConfig(
        uuid=smap.uuid, config_version="1",
        checksum=ChecksumConf(type=defaults.checksum_type),
        versioning=VersioningConf(enabled=defaults.versioning),
        proxy=ProxyConf(primary_url=smap.primary.url, original_url=smap.primary.url),
        # every placement change rebalances, every mountpath change resilvers (unless asked not to)
        rebalance=Toggle(enabled=True), resilver=Toggle(enabled=True),
        auth=Toggle(enabled=cluster_secret() is not None),  # `ais-ray up --auth`
    )
