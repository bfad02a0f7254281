"""Work spread over threads: every item done once, results as they finish, errors raised,
and no threads where they cannot help (SQLite, inside a transaction)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from rahdari.core.models import District
from rahdari.core.parallel import in_threads


def _count_districts(item: int) -> tuple[int, str, int]:
    return item * item, threading.current_thread().name, District.objects.count()


@pytest.mark.django_db(transaction=True)
def test_every_item_once_on_its_own_connection_on_postgresql() -> None:
    results = dict(in_threads(_count_districts, range(20), workers=3))
    assert sorted(results) == list(range(20))
    assert all(square == i * i for i, (square, _name, _n) in results.items())
    names = {name for _square, name, _n in results.values()}
    counts = {n for *_rest, n in results.values()}
    assert len(counts) == 1  # every thread reads the same committed rows
    if connection.vendor == "postgresql":
        assert names and all(name.startswith("rahdari-job") for name in names)
    else:  # SQLite: one writer at a time, so one thread, in order
        assert names == {threading.current_thread().name}
        assert list(results) == list(range(20))


@pytest.mark.django_db
def test_inside_a_transaction_it_runs_in_order_in_the_caller() -> None:
    district = District.objects.order_by("pk").first()
    assert district is not None
    District.objects.filter(pk=district.pk).update(name="Not yet committed")

    def work(item: int) -> tuple[str, int]:
        seen = District.objects.filter(name="Not yet committed").count()
        return threading.current_thread().name, seen

    results = list(in_threads(work, range(5), workers=3))
    assert [item for item, _ in results] == list(range(5))
    assert {result for _item, result in results} == {(threading.current_thread().name, 1)}


@pytest.mark.django_db(transaction=True)
def test_an_error_in_one_item_is_raised_after_the_others_in_flight() -> None:
    done: list[int] = []

    def work(item: int) -> int:
        if item == 3:
            raise ValueError("item 3 is bad")
        done.append(item)
        return item

    with pytest.raises(ValueError, match="item 3"):
        for _item, _result in in_threads(work, range(10), workers=2):
            pass
    assert 3 not in done


def test_the_cyclic_collector_is_paused_during_the_work_and_restored_after() -> None:
    import gc

    from rahdari.core.parallel import collector_paused

    assert gc.isenabled()
    seen = [state for _item, state in in_threads(lambda _i: gc.isenabled(), range(3), workers=1)]
    assert seen == [False, False, False]
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():  # restored after an error too
        raise RuntimeError("boom")
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():  # found paused: left paused
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
