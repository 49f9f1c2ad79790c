"""Outbound address policy for download sources (issue 15 item 11)."""

import pytest

from ais_ray.core.errors import ErrInvalidValue
from ais_ray.core.netpolicy import DEFAULT_DENY, NetPolicy, category_of


@pytest.mark.parametrize("ip, cat", [
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("::ffff:127.0.0.1", "loopback"),
    ("10.1.2.3", "private"), ("192.168.0.1", "private"), ("172.20.0.1", "private"), ("fd12::1", "private"),
    ("169.254.169.254", "metadata"), ("fd00:ec2::254", "metadata"), ("100.100.100.200", "metadata"),
    ("169.254.1.1", "link-local"), ("fe80::1%eth0", "link-local"), ("224.0.0.1", "multicast"),
    ("0.0.0.0", "unspecified"), ("::", "unspecified"), ("8.8.8.8", None), ("2001:4860::8888", None),
])
def test_categories(ip, cat):
    assert category_of(ip) == cat


def test_default_refuses_metadata_and_link_local_but_not_loopback():
    p = NetPolicy()
    assert p.deny == DEFAULT_DENY
    assert p.refuses("169.254.169.254") == "metadata"
    assert p.refuses("::ffff:169.254.169.254") == "metadata"
    assert p.refuses("169.254.3.4") == "link-local"
    assert p.refuses("127.0.0.1") is None and p.refuses("10.0.0.1") is None and p.refuses("8.8.8.8") is None
    assert p.refuses("not-an-ip") == "unparsable"


def test_parse():
    assert NetPolicy.parse(None) == NetPolicy()
    assert NetPolicy.parse("none").refuses("169.254.169.254") is None
    strict = NetPolicy.parse("default, loopback,private")
    assert strict.refuses("127.0.0.1") == "loopback" and strict.refuses("10.0.0.1") == "private"
    assert NetPolicy.parse(str(strict)) == strict  # round-trips through the environment
    assert NetPolicy.parse("all").refuses("224.0.0.1") == "multicast"
    only_ll = NetPolicy.parse("link-local")  # metadata addresses in 169.254/16 are link-local too
    assert only_ll.refuses("169.254.169.254") == "link-local"
    with pytest.raises(ErrInvalidValue):
        NetPolicy.parse("loopbak")
