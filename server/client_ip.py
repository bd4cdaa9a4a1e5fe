"""The client's address, believing X-Forwarded-For only from configured proxies.

The address keys per-IP rate limits and connection caps, so a client that could choose it
could escape them. A peer outside FORWARDED_ALLOW_IPS is the client; behind trusted proxies,
the client is the right-most address in X-Forwarded-For that is not itself a trusted proxy.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache


@lru_cache(maxsize=16)
def _networks(allowed: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in allowed)


def _trusted(address: str, allowed: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _networks(allowed))


def client_ip(peer: str | None, forwarded_for: str | None, allowed: tuple[str, ...]) -> str:
    address = peer or "unknown"
    if not allowed or not forwarded_for or not _trusted(address, allowed):
        return address
    for hop in reversed([h.strip() for h in forwarded_for[:2000].split(",") if h.strip()]):
        if not _trusted(hop, allowed):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return address
    return address


def request_client_ip(request, allowed: tuple[str, ...]) -> str:
    peer = request.client.host if request.client else None
    return client_ip(peer, request.headers.get("x-forwarded-for"), allowed)
