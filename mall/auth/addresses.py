"""The client's address, as login throttling and the public rate limit count it.

``X-Forwarded-For`` is honoured only when the peer is a configured proxy
(``MALL_TRUSTED_PROXIES``): then the header is read from the right, skipping
the addresses of trusted proxies, and the first one that is not trusted is the
client. Anyone else could write any address in the header, so from any other
peer the header is ignored and the peer's own address counts.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

FORWARDED_FOR = "x-forwarded-for"


def parse_networks(text: str) -> tuple[Network, ...]:
    """``"10.0.0.0/8, 127.0.0.1"`` → networks (a bare address is a /32 or /128)."""
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()
    )


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(text: str, networks: Sequence[Network]) -> bool:
    address = _address(text)
    return address is not None and any(address in network for network in networks)


def client_address(
    peer: str | None, forwarded_for: Iterable[str], trusted: Sequence[Network]
) -> str:
    """The address to count: the peer's, or, behind trusted proxies, the client's."""
    peer = peer or "unknown"
    if not trusted or not _trusted(peer, trusted):
        return peer
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            # Not an address at all: the proxy passed on what the client wrote.
            return hop if _address(hop) is not None else peer
    return hops[0] if hops else peer


def request_address(connection: Any, trusted: Sequence[Network]) -> str:
    """``client_address`` for a Litestar request or connection."""
    client = connection.client
    return client_address(
        client.host if client else None, connection.headers.getall(FORWARDED_FOR, []), trusted
    )
