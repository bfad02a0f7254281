"""The per-process caches of hot look-ups: bounded in time and size, cleared after a
commit by the process that changed the data."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.db import transaction

from rahdari.core.hotcache import HotCache, hot_caches_clear


def test_a_value_is_loaded_once_until_it_expires(settings: Any) -> None:
    settings.RAHDARI_HOT_CACHE_SECONDS = 0.2
    cache: HotCache[int] = HotCache("test.expiry")
    loads: list[int] = []

    def load() -> int:
        loads.append(1)
        return len(loads)

    assert cache.get("k", load) == 1
    assert cache.get("k", load) == 1
    time.sleep(0.25)
    assert cache.get("k", load) == 2
    assert len(loads) == 2


def test_zero_seconds_means_no_caching(settings: Any) -> None:
    settings.RAHDARI_HOT_CACHE_SECONDS = 0
    cache: HotCache[int] = HotCache("test.off")
    values = iter(range(10))
    assert [cache.get("k", lambda: next(values)) for _ in range(3)] == [0, 1, 2]


def test_the_oldest_entries_go_first_when_full(settings: Any) -> None:
    settings.RAHDARI_HOT_CACHE_SECONDS = 60
    cache: HotCache[str] = HotCache("test.size", maxsize=2)
    cache.get("a", lambda: "a1")
    cache.get("b", lambda: "b1")
    cache.get("a", lambda: "a2")  # a is used again: b is now the oldest
    cache.get("c", lambda: "c1")
    assert cache.get("a", lambda: "a3") == "a1"
    assert cache.get("b", lambda: "b2") == "b2"


@pytest.mark.django_db(transaction=True)
def test_a_change_clears_the_caches_after_its_commit_not_before(settings: Any) -> None:
    settings.RAHDARI_HOT_CACHE_SECONDS = 60
    cache: HotCache[str] = HotCache("test.commit")
    cache.get("k", lambda: "old")
    with transaction.atomic():
        hot_caches_clear()
        assert cache.get("k", lambda: "new") == "old"  # not committed yet
    assert cache.get("k", lambda: "new") == "new"


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_change_leaves_the_caches_alone(settings: Any) -> None:
    settings.RAHDARI_HOT_CACHE_SECONDS = 60
    cache: HotCache[str] = HotCache("test.rollback")
    cache.get("k", lambda: "old")
    with pytest.raises(RuntimeError), transaction.atomic():
        hot_caches_clear()
        raise RuntimeError
    assert cache.get("k", lambda: "new") == "old"
