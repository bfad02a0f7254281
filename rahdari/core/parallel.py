"""Work of a long job spread over threads, each on its own database connection.

A payment cycle's chunks are a few seconds of Python followed by a few seconds of
PostgreSQL each: done one after the other, one of the machine's cores waits while the
other works. Two threads keep both busy (the Python of one overlaps the server's work
for the other). Each item is done in its own transaction by ``work``; the caller
records progress as items finish.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import TypeVar

from django.db import connection

T = TypeVar("T")
R = TypeVar("R")


def in_threads(
    work: Callable[[T], R], items: Iterable[T], *, workers: int
) -> Iterator[tuple[T, R]]:
    """``work(item)`` for every item, yielding ``(item, result)`` as each finishes, at
    most two per worker in flight (items are drawn from ``items`` as it goes). An
    exception in ``work`` is raised here once the items in flight have finished.

    It runs in the calling thread, in order, where threads cannot help or must not be
    used: ``workers`` ≤ 1, SQLite (one writer at a time), or inside a transaction (other
    connections would not see its rows).

    Python's cyclic garbage collector is paused meanwhile (``collector_paused``).
    """
    with collector_paused():
        yield from _in_threads(work, items, workers=workers)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused for bulk work, restored after.

    A job's rows are tuples, lists and dicts without reference cycles: reference counting
    frees them. But every few thousand allocations the collector runs, and every so
    often it walks every live object — with a chunk's 10,000 rows and a batch's 50,000
    alive, about 160 ms each time, 200 times in a cycle of a million payments (32 s of
    this process's 124 s of CPU, benchmarks/payments.py). Garbage with cycles made
    meanwhile is collected once it runs again. Nested or concurrent uses leave it
    running if any caller found it running."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _in_threads(
    work: Callable[[T], R], items: Iterable[T], *, workers: int
) -> Iterator[tuple[T, R]]:
    if workers <= 1 or connection.vendor != "postgresql" or connection.in_atomic_block:
        for item in items:
            yield item, work(item)
        return

    def run(item: T) -> R:
        try:
            return work(item)
        finally:
            connection.close()  # this thread's own connection

    source = iter(items)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rahdari-job") as pool:
        running: dict[Future[R], T] = {}

        def submit() -> None:
            for item in source:
                running[pool.submit(run, item)] = item
                return

        for _ in range(2 * workers):
            submit()
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                item = running.pop(future)
                yield item, future.result()
                submit()
