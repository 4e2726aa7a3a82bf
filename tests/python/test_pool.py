"""procpool.Pool against multiprocessing.Pool's documented behaviour, and the case where
the standard Pool hangs for ever (CPython gh-66587): a worker killed mid-task. Here that
task's result fails with TaskCrashed and the pool goes on.
"""
import multiprocessing
import os
import threading
import time

import pytest

from procpool import Pool, TaskCrashed
from tasks import add, die_on, fail_on, sleep, slow_square, square


@pytest.fixture
def pool():
    with Pool(2) as p:
        yield p


def test_apply_map_starmap(pool):
    assert pool.apply(add, (2, 3)) == 5
    assert pool.map(square, range(50)) == [x * x for x in range(50)]
    assert pool.map(square, []) == []
    assert pool.starmap(add, [(1, 2), (3, 4)]) == [3, 7]
    assert pool.map(square, range(10), chunksize=3) == [x * x for x in range(10)]


def test_async_results_and_callbacks(pool):
    got, errors = [], []
    done = threading.Event()
    r = pool.map_async(square, range(5), callback=lambda v: (got.append(v), done.set()))
    assert r.get(timeout=10) == [0, 1, 4, 9, 16]
    assert done.wait(5) and got == [[0, 1, 4, 9, 16]]
    assert r.ready() and r.successful()
    failed = pool.apply_async(fail_on, (3,), error_callback=errors.append)
    with pytest.raises(KeyError):
        failed.get(timeout=10)
    assert not failed.successful()
    assert isinstance(errors[0], KeyError)
    slow = pool.apply_async(sleep, (1,))
    with pytest.raises(ValueError):  # not ready yet
        slow.successful()
    with pytest.raises(multiprocessing.TimeoutError):
        slow.get(timeout=0.05)
    assert slow.get(timeout=10) == 1


def test_imap_in_order_and_imap_unordered(pool):
    assert list(pool.imap(slow_square, range(10))) == [x * x for x in range(10)]
    assert sorted(pool.imap_unordered(slow_square, range(10), chunksize=2)) == sorted(x * x for x in range(10))
    results = pool.imap(fail_on, range(6))
    assert [next(results) for _ in range(3)] == [0, 1, 2]
    with pytest.raises(KeyError):
        next(results)


def test_a_killed_worker_fails_its_task_where_the_standard_pool_hangs(pool):
    with pytest.raises(TaskCrashed):
        pool.map(die_on, range(20), chunksize=1)
    assert pool.map(square, range(5)) == [0, 1, 4, 9, 16]  # and the pool goes on
    results = [pool.apply_async(die_on, (x,)) for x in range(10)]
    outcomes = []
    for r in results:
        try:
            outcomes.append(r.get(timeout=60))
        except TaskCrashed:
            outcomes.append("crashed")
    assert outcomes == [0, 1, 2, 3, 4, 5, 6, "crashed", 8, 9]


def test_close_join_and_terminate():
    p = Pool(2)
    r = p.map_async(sleep, [0.2, 0.2])
    p.close()
    with pytest.raises(ValueError):
        p.apply(square, (1,))
    p.join()
    assert r.get(timeout=1) == [0.2, 0.2]
    q = Pool(1)
    long = q.apply_async(sleep, (30,))
    time.sleep(0.3)
    start = time.monotonic()
    q.terminate()
    q.join()
    assert time.monotonic() - start < 5
    with pytest.raises(Exception):
        long.get(timeout=5)
    with pytest.raises(ValueError):
        Pool(0)


def test_maxtasksperchild_replaces_workers():
    with Pool(1, maxtasksperchild=1) as p:
        pids = {p.apply(os.getpid) for _ in range(3)}
    assert len(pids) == 3


def test_the_standard_pool_hangs_where_this_one_fails_one_task():
    # The behaviour this package exists to fix, shown on the standard Pool itself: the
    # result of a map whose worker was killed never comes (gh-66587).
    with multiprocessing.get_context("spawn").Pool(2) as standard:
        with pytest.raises(multiprocessing.TimeoutError):
            standard.map_async(die_on, range(20), chunksize=1).get(timeout=3)
        standard.terminate()
    with Pool(2) as ours:
        with pytest.raises(TaskCrashed):
            ours.map_async(die_on, range(20), chunksize=1).get(timeout=30)
