"""Small per-process caches for look-ups that every request of a hot path repeats
(a partner's token, a service by slug, the signing key): a few seconds of staleness
saves several queries per request.

What a cached value may lag behind is bounded by ``RAHDARI_HOT_CACHE_SECONDS``
(default 5 s) in other processes; a service that changes such data calls
:func:`hot_caches_clear` after its commit, so its own process sees the change at once.
Never cache anything here whose staleness could release data: the checks that guard
a release (consent, credential status) read the database or their own cache with its
own bound.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from django.conf import settings
from django.db import transaction

V = TypeVar("V")
_ALL: list[HotCache[object]] = []


class HotCache(Generic[V]):
    """A bounded LRU map whose entries expire after the configured seconds."""

    def __init__(self, name: str, *, maxsize: int = 4096) -> None:
        self.name = name
        self._maxsize = maxsize
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()
        _ALL.append(self)  # type: ignore[arg-type]

    def get(self, key: Hashable, load: Callable[[], V]) -> V:
        ttl = float(settings.RAHDARI_HOT_CACHE_SECONDS)
        now = time.monotonic()
        with self._lock:
            found = self._items.get(key)
            if found is not None and found[0] > now:
                self._items.move_to_end(key)
                return found[1]
        value = load()
        if ttl > 0:
            with self._lock:
                self._items[key] = (now + ttl, value)
                self._items.move_to_end(key)
                while len(self._items) > self._maxsize:
                    self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def hot_caches_clear() -> None:
    """Forget every cached value in this process (after the current transaction commits)."""

    def clear() -> None:
        for cache in _ALL:
            cache.clear()

    transaction.on_commit(clear)
