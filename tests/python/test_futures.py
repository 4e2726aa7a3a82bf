"""procpool's futures against what concurrent.futures.Future promises (as CPython's
test_concurrent_futures checks it), across the ways a result reaches them: the waiting
thread settling it itself, the settler's thread, or a thread that submits settling what
came meanwhile. And procpool's lighter condition (_condition.py) on its own.

Real worker processes. Run by scripts/test (PYTHONPATH=build/python).
"""
import concurrent.futures
import logging
import threading
import time

import pytest

from procpool import ProcessPoolExecutor, _condition
from tasks import fail, sleep_then, square


@pytest.fixture
def pool():
    with ProcessPoolExecutor(2) as executor:
        yield executor


def test_a_future_has_every_field_of_the_standard_one(pool):
    # _Future sets the base class's fields itself (to give it a lighter condition): a
    # Python that adds one must fail here, not in a user's program.
    ours = pool.submit(square, 2)
    assert set(vars(concurrent.futures.Future())) <= set(vars(ours))
    assert ours.result(timeout=10) == 4


def test_result_and_exception_time_out_once_not_twice(pool):
    slow = pool.submit(sleep_then, 3, "late")
    for wait in (slow.result, slow.exception):
        start = time.monotonic()
        with pytest.raises(concurrent.futures.TimeoutError):
            wait(timeout=0.3)
        assert 0.25 < time.monotonic() - start < 0.55
    assert slow.result(timeout=10) == "late"
    assert slow.exception(timeout=0) is None


def test_exception_gives_the_tasks_exception_and_result_raises_it(pool):
    failed = pool.submit(fail, "boom")
    assert isinstance(failed.exception(timeout=10), ValueError)
    with pytest.raises(ValueError, match="boom"):
        failed.result(timeout=0)
    assert failed.done() and not failed.cancelled()


def test_many_threads_waiting_on_one_future_all_get_its_result(pool):
    future = pool.submit(sleep_then, 0.3, "shared")
    got = []
    threads = [threading.Thread(target=lambda: got.append(future.result(timeout=10))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert got == ["shared"] * 8


def test_done_callbacks_run_once_and_at_once_when_added_after_done(pool, caplog):
    calls = []
    future = pool.submit(sleep_then, 0.2, 5)
    future.add_done_callback(lambda f: calls.append(("before", f.result())))
    assert future.result(timeout=10) == 5
    future.add_done_callback(lambda f: calls.append(("after", f.result())))
    deadline = time.monotonic() + 5
    while len(calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sorted(calls) == [("after", 5), ("before", 5)]
    # A callback that raises is logged, as the standard library does, and harms nothing.
    with caplog.at_level(logging.ERROR, logger="concurrent.futures"):
        other = pool.submit(square, 3)
        other.add_done_callback(lambda f: 1 / 0)
        assert other.result(timeout=10) == 9
        assert pool.submit(square, 4).result(timeout=10) == 16


def test_as_completed_yields_each_future_once_and_times_out(pool):
    quick = pool.submit(square, 7)
    slow = pool.submit(sleep_then, 3, "slow")
    seen = []
    with pytest.raises(concurrent.futures.TimeoutError):
        for f in concurrent.futures.as_completed([quick, quick, slow, quick], timeout=0.5):
            seen.append(f)
    assert seen == [quick]
    slow.cancel()


def test_wait_first_exception_and_all_completed(pool):
    futures = [pool.submit(sleep_then, 2, "slow"), pool.submit(fail, "first"), pool.submit(square, 3)]
    done, not_done = concurrent.futures.wait(futures, timeout=10, return_when=concurrent.futures.FIRST_EXCEPTION)
    assert futures[1] in done and futures[0] in not_done
    done, not_done = concurrent.futures.wait(futures, timeout=10)
    assert not not_done and futures[2].result() == 9


def test_results_are_settled_without_anyone_asking_for_them(pool):
    # No result() and no further submit: the settler's thread must settle them itself,
    # also right after a flood of submits (whose thread settled meanwhile).
    futures = [pool.submit(square, i) for i in range(2000)]
    deadline = time.monotonic() + 10
    while not all(f.done() for f in futures) and time.monotonic() < deadline:
        time.sleep(0.005)
    assert [f.result(timeout=0) for f in futures] == [i * i for i in range(2000)]


def test_callbacks_that_submit_while_a_flood_is_settled(pool):
    # A callback runs where the future is settled: perhaps inside a submit that settles
    # what came meanwhile. One that submits there must neither recurse nor lose anything.
    second = []
    lock = threading.Lock()

    def chain(f):
        g = pool.submit(square, f.result())
        with lock:
            second.append(g)

    first = [pool.submit(square, i) for i in range(1000)]
    for f in first:
        f.add_done_callback(chain)
    concurrent.futures.wait(first, timeout=30)
    deadline = time.monotonic() + 30
    while len(second) < 1000 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sorted(g.result(timeout=30) for g in second) == sorted(i ** 4 for i in range(1000))


# procpool's condition, as threading.Condition behaves.

def test_condition_wait_times_out_and_notify_wakes_one_then_all():
    cond = _condition.Condition()
    with cond:
        start = time.monotonic()
        assert cond.wait(0.1) is False
        assert time.monotonic() - start >= 0.09
        assert cond.wait(0) is False
    woken = []

    def waiter(name):
        with cond:
            if cond.wait(10):
                woken.append(name)

    threads = [threading.Thread(target=waiter, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with cond:
            if cond._waiters is not None and len(cond._waiters) == 3:
                break
        time.sleep(0.005)
    with cond:
        cond.notify()
    threads_alive = lambda: sum(t.is_alive() for t in threads)  # noqa: E731
    deadline = time.monotonic() + 5
    while threads_alive() > 2 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert len(woken) == 1
    with cond:
        cond.notify_all()
    for t in threads:
        t.join(timeout=5)
    assert sorted(woken) == [0, 1, 2]


def test_condition_wait_releases_a_lock_held_twice_and_takes_it_back():
    cond = _condition.Condition()
    other_got_it = threading.Event()

    def other():
        with cond:
            other_got_it.set()
            cond.notify_all()

    with cond:
        with cond:  # an RLock, as the base Future's: held twice, released wholly by wait()
            threading.Thread(target=other).start()
            assert cond.wait_for(other_got_it.is_set, timeout=5)
            assert cond._lock._is_owned()
    assert not cond._lock._is_owned()


def test_condition_refuses_wait_and_notify_without_its_lock():
    cond = _condition.Condition()
    with pytest.raises(RuntimeError):
        cond.wait(0)
    with pytest.raises(RuntimeError):
        cond.notify()


# Those the settler's thread settles go to the unraisable hook: nowhere else to go.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_ctrl_c_in_a_callback_settled_by_a_submit_loses_nothing(pool):
    # A submitting thread settles what came meanwhile, callbacks included: a
    # KeyboardInterrupt raised there comes out of that submit (which then submitted
    # nothing), after every other future of the batch was settled.
    def interrupt(_):
        raise KeyboardInterrupt

    first = [pool.submit(sleep_then, 0.01, i) for i in range(40)]
    for f in first:
        f.add_done_callback(interrupt)  # before they are done: all forty are pending
    later, interrupted = [], 0
    deadline = time.monotonic() + 20
    while not all(f.done() for f in first) and time.monotonic() < deadline:
        try:
            later.append(pool.submit(square, len(later)))
        except KeyboardInterrupt:
            interrupted += 1
    assert interrupted > 0  # the flood's submits settled some of the forty
    assert [f.result(timeout=30) for f in first] == list(range(40))
    assert [f.result(timeout=30) for f in later] == [i * i for i in range(len(later))]
    assert not pool._futures


def test_a_huge_or_infinite_timeout_waits_as_none_does(pool):
    assert pool.submit(square, 9).result(timeout=float("inf")) == 81
    assert pool.submit(square, 8).result(timeout=1e300) == 64
