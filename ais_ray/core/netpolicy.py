"""Which network addresses a download may reach (issue 15 item 11: outbound safety).

A download job fetches URLs a client chose, from inside the cluster: without a rule, anyone
who may start a job can make the cluster read its cloud metadata service
(`http://169.254.169.254/...`) or a service bound to a node's loopback. The rule is a set of
address categories to refuse; it is applied to every address a source's name resolves to, at
connect time, on every connection (redirect hops included), so neither a redirect nor a DNS
answer that changes between check and use gets around it.

Default: refuse link-local (which holds the cloud metadata addresses), the known metadata
addresses, multicast and unspecified addresses. Loopback and private networks stay allowed,
because the embedded default serves a laptop's own files; a cluster exposed to other users
should add them: `ais-ray up --download-deny default,loopback,private`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ais_ray.core.errors import ErrInvalidValue

# Cloud instance-metadata endpoints outside 169.254/16 (AWS IPv6, Alibaba, Oracle's legacy one).
METADATA_ADDRS = frozenset({"169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200",
                            "192.0.0.192"})
_PRIVATE_NETS = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"))

CATEGORIES = ("loopback", "private", "link-local", "metadata", "multicast", "unspecified")
DEFAULT_DENY = frozenset({"link-local", "metadata", "multicast", "unspecified"})


def category_of(ip: str) -> str | None:
    """The first category `ip` falls in (in `CATEGORIES` order), or None for a public address."""
    addr = ipaddress.ip_address(ip.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if addr.is_loopback:
        return "loopback"
    if any(addr in net for net in _PRIVATE_NETS if net.version == addr.version):
        return "private" if str(addr) not in METADATA_ADDRS else "metadata"
    if str(addr) in METADATA_ADDRS:
        return "metadata"
    if addr.is_link_local:
        return "link-local"
    if addr.is_multicast:
        return "multicast"
    if addr.is_unspecified:
        return "unspecified"
    return None


@dataclass(frozen=True, slots=True)
class NetPolicy:
    deny: frozenset[str] = DEFAULT_DENY

    @classmethod
    def parse(cls, text: str | None) -> NetPolicy:
        """`default`, `none`, `all`, or a comma list of categories (with `default` as a member).

        Raises:
            ErrInvalidValue: an unknown category.
        """
        words = [w.strip().lower() for w in (text or "default").split(",") if w.strip()]
        deny: set[str] = set()
        for w in words:
            if w == "default":
                deny |= DEFAULT_DENY
            elif w == "all":
                deny |= set(CATEGORIES)
            elif w == "none":
                continue
            elif w in CATEGORIES:
                deny.add(w)
            else:
                raise ErrInvalidValue(f'invalid download address category "{w}" '
                                      f'(expecting default, none, all or any of: {", ".join(CATEGORIES)})')
        return cls(frozenset(deny))

    def __str__(self) -> str:
        return ",".join(c for c in CATEGORIES if c in self.deny) or "none"

    def refuses(self, ip: str) -> str | None:
        """The category for which `ip` is refused, or None if it may be reached."""
        try:
            cat = category_of(ip)
        except ValueError:
            return "unparsable"
        if cat is None:
            return None
        if cat in self.deny:
            return cat
        # metadata addresses are also link-local: refusing link-local refuses them too
        if cat == "metadata" and "link-local" in self.deny and ipaddress.ip_address(ip.split("%", 1)[0]).is_link_local:
            return "link-local"
        return None
