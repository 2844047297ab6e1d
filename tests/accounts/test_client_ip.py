"""amarktai.utils.client_ip: X-Forwarded-For is believed only from a peer in TRUSTED_PROXIES, and then only its
right-most entries (the ones trusted proxies appended); anything a client writes into the header itself is ignored."""

import os

import pytest
from django.test import RequestFactory, override_settings

from amarktai.utils import client_ip

LOOPBACK = ["127.0.0.1", "::1"]


def ip(remote_addr, forwarded=None, proxies=LOOPBACK):
    meta = {"REMOTE_ADDR": remote_addr}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    request = RequestFactory().get("/", **meta)
    if remote_addr is None:
        del request.META["REMOTE_ADDR"]
    with override_settings(TRUSTED_PROXIES=proxies):
        return client_ip(request)


def test_default_trusts_the_local_nginx():
    from amarktai.settings.env import DECLARED

    # The README's deployment (nginx on the same host, connecting from loopback) works without setting anything.
    assert DECLARED["TRUSTED_PROXIES"] == "127.0.0.1,::1"
    if "TRUSTED_PROXIES" not in os.environ:
        request = RequestFactory().get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.5")
        assert client_ip(request) == "203.0.113.5"


def test_without_a_proxy_the_peer_is_the_client():
    assert ip("203.0.113.5") == "203.0.113.5"
    assert ip("127.0.0.1") == "127.0.0.1"  # through nginx without the header: nginx's own address


def test_untrusted_peer_header_is_ignored():
    # A client talking to the app directly cannot pick its address with the header, nor pretend to be behind nginx.
    assert ip("198.51.100.9", "203.0.113.5") == "198.51.100.9"
    assert ip("198.51.100.9", "203.0.113.5, 127.0.0.1") == "198.51.100.9"
    assert ip("127.0.0.4", "10.0.0.1") == "127.0.0.4"  # only the listed addresses, not all of 127/8


def test_forged_left_hand_entries_are_ignored():
    # nginx appends the address it saw ($proxy_add_x_forwarded_for): everything to its left came from the client.
    assert ip("127.0.0.1", "1.2.3.4, 203.0.113.5") == "203.0.113.5"
    assert ip("127.0.0.1", "1.2.3.4, 5.6.7.8, 203.0.113.5") == "203.0.113.5"
    assert ip("127.0.0.1", "203.0.113.6,203.0.113.5") == "203.0.113.5"


def test_trusted_hops_are_skipped_from_the_right():
    # A load balancer (10.0.0.5) in front of nginx: the client is the first untrusted address from the right.
    proxies = [*LOOPBACK, "10.0.0.5"]
    assert ip("127.0.0.1", "1.2.3.4, 203.0.113.5, 10.0.0.5", proxies) == "203.0.113.5"
    # A header that holds only trusted proxies names no client: the peer stands for it.
    assert ip("127.0.0.1", "10.0.0.5, 127.0.0.1", proxies) == "127.0.0.1"


def test_empty_and_blank_headers():
    assert ip("127.0.0.1", "") == "127.0.0.1"
    assert ip("127.0.0.1", " , ,") == "127.0.0.1"
    assert ip("127.0.0.1", " , 203.0.113.5 ,") == "203.0.113.5"


@pytest.mark.parametrize("garbage", ["unknown", "not-an-ip", "203.0.113.5:4711", "999.1.1.1", "<script>", "_hidden"])
def test_garbage_entries(garbage):
    # Garbage to the left of the proxy's entry is the client's and is never reached.
    assert ip("127.0.0.1", f"{garbage}, 203.0.113.5") == "203.0.113.5"
    # Garbage where a proxy's entry should be: stop believing the chain (nothing to its left is trustworthy either).
    assert ip("127.0.0.1", f"203.0.113.5, {garbage}") == "127.0.0.1"
    assert ip("127.0.0.1", garbage) == "127.0.0.1"


def test_unparseable_peer_is_not_a_proxy():
    assert ip("", "203.0.113.5") == ""
    assert ip(None, "203.0.113.5") == ""
    assert ip("localhost", "203.0.113.5") == "localhost"


def test_ipv6():
    assert ip("::1", "2001:db8::7") == "2001:db8::7"
    assert ip("::1", "2001:db8::66, 2001:db8::7") == "2001:db8::7"
    assert ip("::1", "198.51.100.3") == "198.51.100.3"  # IPv6 proxy, IPv4 client
    assert ip("127.0.0.1", "2001:db8::7") == "2001:db8::7"  # IPv4 proxy, IPv6 client
    assert ip("2001:db8::9", "203.0.113.5") == "2001:db8::9"  # untrusted IPv6 peer
    assert ip("::1", "::1, 2001:db8::7, ::1") == "2001:db8::7"
    # A dual-stack listener reports 127.0.0.1 as ::ffff:127.0.0.1: still the trusted proxy.
    assert ip("::ffff:127.0.0.1", "203.0.113.5") == "203.0.113.5"
    assert ip("::ffff:198.51.100.9", "203.0.113.5") == "::ffff:198.51.100.9"


def test_cidr_networks():
    proxies = ["10.0.0.0/8", "fd00::/8"]
    assert ip("10.1.2.3", "203.0.113.5", proxies) == "203.0.113.5"
    assert ip("10.1.2.3", "1.1.1.1, 203.0.113.5, 10.200.0.1", proxies) == "203.0.113.5"  # two proxies in the network
    assert ip("11.0.0.1", "203.0.113.5", proxies) == "11.0.0.1"
    assert ip("fd12::1", "2001:db8::7", proxies) == "2001:db8::7"
    assert ip("fe80::1", "2001:db8::7", proxies) == "fe80::1"
    assert ip("127.0.0.1", "203.0.113.5", proxies) == "127.0.0.1"  # loopback no longer listed
    # Host bits set are accepted (10.1.2.3/8 means 10.0.0.0/8).
    assert ip("10.9.9.9", "203.0.113.5", ["10.1.2.3/8"]) == "203.0.113.5"


def test_no_trusted_proxies_means_the_header_is_never_believed():
    assert ip("127.0.0.1", "203.0.113.5", []) == "127.0.0.1"
