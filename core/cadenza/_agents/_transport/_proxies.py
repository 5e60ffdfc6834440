"""Proxies from the environment, as httpx reads them, mounted on httpx's own proxy transport.

httpx ignores ``HTTP_PROXY``/``HTTPS_PROXY``/``ALL_PROXY``/``NO_PROXY`` when
a client is given a ``transport=``, so :func:`proxy_mounts` rebuilds the
mounts httpx would have made (the same reading of the variables as httpx's
``get_environment_proxies``, curl's ``NO_PROXY`` rules) for
``httpx.AsyncClient(mounts=...)``: proxied origins go through
``httpx.AsyncHTTPTransport(proxy=...)`` (plain and ``CONNECT`` tunnels, as
with stock httpx), ``NO_PROXY`` ones map to ``None``, which means Cadenza's
own transport. Without proxy variables there are no mounts.
"""

from __future__ import annotations

import ipaddress
from urllib.request import getproxies

import httpx


def environment_proxies() -> dict[str, str | None]:
    """URL pattern → proxy URL (``None``: no proxy), from the environment."""
    info = getproxies()
    patterns: dict[str, str | None] = {}
    for scheme in ("http", "https", "all"):
        proxy = info.get(scheme)
        if proxy:
            patterns[f"{scheme}://"] = proxy if "://" in proxy else f"http://{proxy}"
    if not patterns:
        return {}
    for raw in info.get("no", "").split(","):
        host = raw.strip()
        if host == "*":  # NO_PROXY=*: no proxy for anything
            return {}
        if not host:
            continue
        if "://" in host:
            patterns[host] = None
        elif _is_ip(host, ipaddress.IPv4Address) or host.lower() == "localhost":
            patterns[f"all://{host}"] = None
        elif _is_ip(host, ipaddress.IPv6Address):
            patterns[f"all://[{host}]"] = None
        else:  # "example.com" and ".example.com" both cover subdomains
            patterns[f"all://*{host}"] = None
    return patterns


def _is_ip(host: str, kind: type[ipaddress.IPv4Address | ipaddress.IPv6Address]) -> bool:
    try:
        kind(host.split("/")[0])
    except ValueError:
        return False
    return True


def proxy_mounts() -> dict[str, httpx.AsyncBaseTransport | None]:
    """``mounts=`` for an ``httpx.AsyncClient`` that honours the environment's proxies."""
    patterns = environment_proxies()
    if not patterns:
        return {}
    from ._tls import build_default_context

    context = build_default_context()  # the process's one context, not one per proxy
    return {
        pattern: None if proxy is None else httpx.AsyncHTTPTransport(proxy=proxy, verify=context)
        for pattern, proxy in patterns.items()
    }
