"""The client's address of a request: the socket peer, or behind trusted proxies the hop they saw.

`X-Forwarded-For` is only believed when the direct peer is a configured trusted proxy; then the
hops are read from the right, skipping trusted proxies, and the first untrusted hop is the client
(anything left of it was written by the client and could be forged).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# A peer that is no address at all (a test client, a Unix socket) is still a key, kept short.
MAX_KEY_CHARS = 64


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """The CIDR blocks (or single addresses) `values` name; ValueError for anything else."""
    networks = []
    for value in values:
        text = value.strip()
        if text:
            networks.append(ipaddress.ip_network(text, strict=False))
    return tuple(networks)


def parse_address(value: str) -> Address | None:
    """The address of a hop (`1.2.3.4`, `1.2.3.4:80`, `[::1]:80`, `::1`), or None when not one."""
    text = value.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: Address, networks: Sequence[Network]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def client_ip(peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[Network]) -> str:
    """The client's address: `peer`, or the rightmost untrusted `X-Forwarded-For` hop.

    `forwarded_for` holds the header's values in the order received. Only when `peer` is in
    a `trusted` network are they read; a hop that is not an address ends the walk at the last
    trusted hop. A peer that is no address is returned as given (cut to MAX_KEY_CHARS).
    """
    if not peer:
        return ""
    address = parse_address(peer)
    if address is None:
        return peer[:MAX_KEY_CHARS]
    if not trusted or not forwarded_for or not _trusted(address, trusted):
        return str(address)
    hops = [hop for value in forwarded_for for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        found = parse_address(hop)
        if found is None:
            break
        address = found
        if not _trusted(address, trusted):
            break
    return str(address)
