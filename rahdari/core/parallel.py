"""Work of a long job spread over threads, each on its own database connection.

A payment cycle's chunks are a few seconds of Python followed by a few seconds of
PostgreSQL each: done one after the other, one of the machine's cores waits while the
other works. Two threads keep both busy (the Python of one overlaps the server's work
for the other). Each item is done in its own transaction by ``work``; the caller
records progress as items finish.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
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
    """
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
