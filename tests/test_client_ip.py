"""The client address: X-Forwarded-For only from trusted proxies, rightmost untrusted hop."""

from __future__ import annotations

import pytest

from moderation.client_ip import client_ip, parse_address, parse_networks

PROXIES = parse_networks(["10.0.0.0/8", "fd00::/8"])


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    assert client_ip("203.0.113.9", ["198.51.100.1"], ()) == "203.0.113.9"


def test_an_untrusted_peer_cannot_claim_another_address() -> None:
    assert client_ip("203.0.113.9", ["198.51.100.1"], PROXIES) == "203.0.113.9"


def test_behind_a_trusted_proxy_the_hop_it_saw_is_the_client() -> None:
    assert client_ip("10.0.0.1", ["198.51.100.1"], PROXIES) == "198.51.100.1"


def test_hops_a_client_wrote_itself_are_ignored() -> None:
    # The client sent "1.1.1.1, 10.9.9.9"; the proxy appended the address it really saw.
    forwarded = ["1.1.1.1, 10.9.9.9, 198.51.100.7"]
    assert client_ip("10.0.0.1", forwarded, PROXIES) == "198.51.100.7"


def test_chains_of_trusted_proxies_and_repeated_headers_are_walked_from_the_right() -> None:
    forwarded = ["6.6.6.6", "198.51.100.7, 10.1.1.1", "10.2.2.2"]
    assert client_ip("10.0.0.1", forwarded, PROXIES) == "198.51.100.7"


def test_garbage_stops_the_walk_at_the_last_trusted_hop() -> None:
    assert client_ip("10.0.0.1", ["not-an-ip, 10.3.3.3"], PROXIES) == "10.3.3.3"
    assert client_ip("10.0.0.1", ["not-an-ip"], PROXIES) == "10.0.0.1"


def test_all_hops_trusted_gives_the_leftmost() -> None:
    assert client_ip("10.0.0.1", ["10.4.4.4, 10.5.5.5"], PROXIES) == "10.4.4.4"


def test_ipv6_and_mapped_addresses() -> None:
    assert client_ip("fd00::1", ["2001:db8::5"], PROXIES) == "2001:db8::5"
    assert client_ip("::ffff:10.0.0.1", ["[2001:db8::6]:443"], PROXIES) == "2001:db8::6"
    assert client_ip("::ffff:203.0.113.9", [], PROXIES) == "203.0.113.9"


@pytest.mark.parametrize(
    ("hop", "address"),
    [("1.2.3.4", "1.2.3.4"), (" 1.2.3.4:8080 ", "1.2.3.4"), ("[::1]:80", "::1"), ("::1", "::1")],
)
def test_hops_with_ports_and_brackets_parse(hop: str, address: str) -> None:
    assert str(parse_address(hop)) == address


def test_a_peer_that_is_no_address_is_kept_as_its_name() -> None:
    assert client_ip("testclient", ["198.51.100.1"], PROXIES) == "testclient"
    assert client_ip(None, [], PROXIES) == ""


def test_a_bad_network_is_refused() -> None:
    with pytest.raises(ValueError, match="does not appear to be"):
        parse_networks(["10.0.0.0/33"])
