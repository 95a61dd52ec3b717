"""Which address rollout workers use to reach the trainer's Redis (published as ``ip/ip.json``).

The image's trainer publishes ``gethostbyname(gethostname())`` (docs/protocol.md §4.1), which is right
inside its container. A trainer running natively while the simulator runs in Docker must publish
the host's address *as seen from the container* instead; 127.0.0.1 would point the worker at
itself. The host's LAN address works from Docker on Linux, Docker Desktop and WSL2; users with
another set-up pass ``--redis_public_ip`` / ``REDIS_PUBLIC_IP`` (``host.docker.internal`` on
Docker Desktop, or the ``docker0`` bridge address such as 172.17.0.1 on Linux).
"""
from __future__ import annotations

import ipaddress
import logging
import socket
from typing import Callable, Iterable

log = logging.getLogger(__name__)


def choose_public_address(
    override: str | None = None,
    hostname: Callable[[], str] = socket.gethostname,
    resolve: Callable[[str], Iterable[str]] | None = None,
) -> tuple[str, str]:
    """Return ``(address, why)``: the address for ``ip/ip.json`` and a reason to log.

    Order: an explicit override; else the first non-loopback IPv4 address the host name
    resolves to; else 127.0.0.1, which only works when the workers share our network namespace
    (``deepracer-trainer local``, or Docker with ``--network host``).
    """
    if override:
        return override, "set by --redis_public_ip / REDIS_PUBLIC_IP"
    resolve = resolve or _resolve_ipv4
    name = hostname()
    try:
        candidates = list(resolve(name))
    except OSError:
        candidates = []
    for candidate in candidates:
        try:
            address = ipaddress.ip_address(candidate)
        except ValueError:
            continue
        if address.version == 4 and not address.is_loopback and not address.is_unspecified:
            return candidate, f"the address host name {name!r} resolves to"
    return "127.0.0.1", (
        f"host name {name!r} resolves only to loopback; Docker rollout workers cannot reach it: "
        "pass --redis_public_ip (e.g. host.docker.internal, or your LAN address)"
    )


def _resolve_ipv4(name: str) -> list[str]:
    infos = socket.getaddrinfo(name, None, family=socket.AF_INET, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos]
