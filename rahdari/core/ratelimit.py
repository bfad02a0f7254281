"""Fixed-window rate limits on the Django cache (per process by default; a shared
cache in production: set RAHDARI_CACHE_URL, docs/operations.md)."""

from __future__ import annotations

import time

from django.core.cache import cache
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ipware import get_client_ip

from rahdari.core.errors import RateLimited


def client_address(request: HttpRequest) -> str:
    address, _routable = get_client_ip(request)
    return address or "unknown"


def rate_limit(scope: str, key: str, *, limit: int, window_seconds: int = 60) -> None:
    """Count one request for ``key``; raise RateLimited past ``limit`` in the window."""
    bucket = int(time.time() // window_seconds)
    name = f"rl:{scope}:{key}:{bucket}"
    if cache.add(name, 1, timeout=window_seconds + 1):
        return
    try:
        count = cache.incr(name)
    except ValueError:  # expired between add and incr
        cache.add(name, 1, timeout=window_seconds + 1)
        return
    if count > limit:
        raise RateLimited(_("Too many requests. Wait a minute and try again."), code="rate_limited")
