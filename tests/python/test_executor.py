"""procpool.ProcessPoolExecutor against what concurrent.futures promises, and where it
differs on purpose: a worker that dies fails only its own future (TaskCrashed), where the
standard pool breaks every future (BrokenProcessPool) and can take no more work.

Real worker processes, real signals. Run by scripts/test (PYTHONPATH=build/python).
"""
import concurrent.futures
import gc
import itertools
import os
import pickle
import subprocess
import sys
import textwrap
import time

import pytest

import procpool
from helpers import counted, wait_exit
from procpool import ProcessPoolExecutor, TaskTimeout
from tasks import add, fail, fail_at, pid, read_global, set_global, sleep_then, square, threading_lock


@pytest.fixture
def pool():
    with ProcessPoolExecutor(2) as executor:
        yield executor


def test_submit_map_and_arguments(pool):
    assert pool.submit(square, 12).result(timeout=10) == 144
    assert pool.submit(add, 1, b=2).result(timeout=10) == 3
    assert list(pool.map(square, range(100))) == [x * x for x in range(100)]
    assert list(pool.map(add, [1, 2], [10, 20])) == [11, 22]
    assert pool._max_workers == 2


def test_lambdas_and_closures_travel_with_cloudpickle(pool):
    import cloudpickle  # noqa: F401  (scripts/setup installs it: a test dependency, not skipped)
    k = 7
    assert pool.submit(lambda x: x * k, 6).result(timeout=10) == 42


def test_an_exception_is_raised_in_the_caller_with_the_workers_traceback(pool):
    future = pool.submit(fail, "bad input")
    with pytest.raises(ValueError, match="bad input") as info:
        future.result(timeout=10)
    assert "in fail" in str(info.value.__cause__)  # the worker's traceback, as the stdlib gives
    assert pool.submit(square, 3).result(timeout=10) == 9  # and the pool goes on


def test_a_task_over_the_timeout_is_killed_and_the_pool_goes_on():
    with ProcessPoolExecutor(1, timeout=0.5) as executor:
        start = time.monotonic()
        with pytest.raises(TaskTimeout) as info:
            executor.submit(sleep_then, 30, "never").result(timeout=20)
        assert time.monotonic() - start < 10
        assert isinstance(info.value, TimeoutError)
        assert executor.submit(sleep_then, 0, "next").result(timeout=10) == "next"


def test_unpicklable_arguments_fail_the_submit_and_results_their_future(pool):
    import threading
    with pytest.raises((TypeError, pickle.PicklingError)):
        pool.submit(square, threading.Lock())
    with pytest.raises(Exception):
        pool.submit(threading_lock).result(timeout=10)
    assert pool.submit(square, 4).result(timeout=10) == 16


def test_initializer_runs_in_every_worker_before_its_tasks():
    with ProcessPoolExecutor(2, initializer=set_global, initargs=("ready",)) as executor:
        assert set(executor.map(lambda _: read_global(), range(20))) == {"ready"}


def test_a_failing_initializer_stops_the_pool_from_starting():
    with pytest.raises(procpool.PoolError):
        ProcessPoolExecutor(1, initializer=fail, initargs=("no",))


def test_max_tasks_per_child_replaces_workers():
    with ProcessPoolExecutor(1, max_tasks_per_child=2) as executor:
        pids = [executor.submit(pid).result(timeout=10) for _ in range(6)]
    assert len(set(pids)) == 3


def test_cancel_takes_a_queued_task_back_and_never_blocks():
    with ProcessPoolExecutor(1) as executor:
        running = executor.submit(sleep_then, 1, "first")
        time.sleep(0.2)
        queued = executor.submit(sleep_then, 0, "second")
        start = time.monotonic()
        assert queued.cancel()
        assert time.monotonic() - start < 0.5
        assert queued.cancelled()
        assert not running.cancel()  # running: as the stdlib, it is not stopped
        assert running.result(timeout=10) == "first"


def test_wait_and_as_completed_work_on_its_futures(pool):
    futures = [pool.submit(sleep_then, d, d) for d in (0.3, 0.0, 0.1)]
    done, not_done = concurrent.futures.wait(futures, timeout=10, return_when=concurrent.futures.FIRST_COMPLETED)
    assert done and len(done) + len(not_done) == 3
    assert sorted(f.result() for f in concurrent.futures.as_completed(futures, timeout=10)) == [0.0, 0.1, 0.3]


def test_shutdown_cancel_futures_and_no_submit_after_it():
    executor = ProcessPoolExecutor(1)
    running = executor.submit(sleep_then, 0.5, "ran")
    time.sleep(0.2)
    queued = [executor.submit(sleep_then, 0, i) for i in range(5)]
    executor.shutdown(wait=True, cancel_futures=True)
    assert running.result(timeout=1) == "ran"
    assert all(f.cancelled() for f in queued)
    with pytest.raises(RuntimeError):
        executor.submit(square, 1)


@pytest.mark.parametrize("pickler", ["cloudpickle", "pickle"])
def test_main_module_functions_unpickle_in_workers_and_exit_is_clean(tmp_path, pickler):
    # A script as a user writes it: functions in __main__, the pool under the guard, and
    # no shutdown at the end. Its workers import it as __mp_main__, as the spawn method's do.
    script = tmp_path / "user_script.py"
    script.write_text(textwrap.dedent("""
        from procpool import ProcessPoolExecutor

        def cube(x):
            return x ** 3

        if __name__ == "__main__":
            pool = ProcessPoolExecutor(2)
            print(sum(pool.map(cube, range(10))))
    """))
    # With the standard pickle, cube travels by name: the workers must have imported the
    # script as __mp_main__ to find it.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), PROCPOOL_PICKLE=pickler)
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2025"
    assert "Traceback" not in done.stderr


def test_map_in_chunks_keeps_order_and_raises_at_its_place(pool):
    assert list(pool.map(square, range(1000), chunksize=64)) == [x * x for x in range(1000)]
    assert list(pool.map(add, range(10), range(10), chunksize=3)) == [2 * x for x in range(10)]
    results = pool.map(fail_at, range(10), chunksize=4)
    assert [next(results) for _ in range(4)] == [0, 1, 2, 3]  # the chunk before the failure
    with pytest.raises(ValueError, match="at 5"):
        list(results)
    with pytest.raises(ValueError):
        pool.map(square, range(3), chunksize=0)



def test_map_with_buffersize_reads_its_inputs_only_as_results_are_read(pool):
    taken = []
    results = pool.map(square, counted(taken), buffersize=4)
    assert len(taken) == 4  # submitted at once, as Python 3.14's map does
    for k, value in enumerate(itertools.islice(results, 50)):
        assert value == k * k
        assert len(taken) <= k + 1 + 4 + 1
    results.close()  # the endless rest: what was submitted ahead is cancelled
    assert pool.submit(square, 3).result(timeout=10) == 9


def test_map_with_buffersize_and_chunks_counts_chunks(pool):
    taken = []
    results = pool.map(add, counted(taken), itertools.repeat(1), chunksize=3, buffersize=2)
    assert list(itertools.islice(results, 30)) == [i + 1 for i in range(30)]
    assert len(taken) <= 30 + 3 * 3  # the chunks read, two ahead, and the one being made
    results.close()


def test_map_refuses_a_bad_buffersize(pool):
    with pytest.raises(ValueError):
        pool.map(square, range(3), buffersize=0)
    with pytest.raises(TypeError):
        pool.map(square, range(3), buffersize=1.5)


def test_map_timeout_raises_in_time_and_cancels_what_is_left():
    with ProcessPoolExecutor(1) as executor:
        start = time.monotonic()
        results = executor.map(sleep_then, [0, 2, 1, 1], ["a", "b", "c", "d"], timeout=0.5)
        assert next(results) == "a"
        with pytest.raises(concurrent.futures.TimeoutError):
            next(results)
        assert time.monotonic() - start < 1.5
        # As the standard map, the running task ends in its own time, but the queued ones
        # are cancelled: the next task waits for "b" only (2 s), not for "c" and "d" (4 s).
        assert executor.submit(square, 5).result(timeout=10) == 25
        assert time.monotonic() - start < 3.5


def rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")


@pytest.mark.skipif(os.environ.get("PROCPOOL_TEST_SANITIZER") == "address",
                    reason="AddressSanitizer's allocator keeps what is freed (its quarantine) and grows its own "
                           "bookkeeping, so RSS says nothing of leaks there; the normal build runs this")
def test_a_hundred_thousand_tasks_leave_the_callers_memory_flat(pool):
    # Results, failures with tracebacks, cancellations and map's chunks: after a warm-up,
    # 80k more tasks through each way a future ends may not grow this process (a leak of
    # 50 bytes a task would: every future, handle and held object counts here).
    def batch(n=10000):
        futures = [pool.submit(fail_at, i % 10) for i in range(n)]
        futures[-1].cancel()
        for f in futures[:-1]:
            f.exception(timeout=60)
        assert sum(1 for f in futures[:-1] if isinstance(f.exception(timeout=60), ValueError)) == n // 10
        assert sum(pool.map(square, range(n), chunksize=100)) == sum(i * i for i in range(n))

    for _ in range(2):
        batch()
    gc.collect()
    warm = rss_kb()
    for _ in range(8):
        batch()
    gc.collect()
    assert rss_kb() - warm < 4 * 1024, "the caller grew %d KiB over 80k tasks" % (rss_kb() - warm)


def threads_here():
    return len(os.listdir("/proc/self/task"))


def test_a_pool_leaves_no_thread_behind_and_forked_children_are_safe():
    # A pool's threads end with it (no reference cycle keeps its engine until the garbage
    # collector passes); and a child forked from this process, which inherits procpool's
    # objects but not their threads, neither hangs destroying them nor may use them.
    import multiprocessing
    before = threads_here()
    for make in (lambda: ProcessPoolExecutor(2), lambda: procpool.Pool(2)):
        with make() as p:
            assert list(p.map(square, range(20))) == [i * i for i in range(20)]
    assert threads_here() == before
    executor = ProcessPoolExecutor(2)
    kept = [executor.submit(square, i) for i in range(10)]
    assert [f.result(timeout=10) for f in kept] == [i * i for i in range(10)]
    with multiprocessing.get_context("fork").Pool(2) as forked:  # its workers get our futures
        assert forked.map(square, range(50), chunksize=5) == [i * i for i in range(50)]
    # The last reference to a finished pool's engine, held by a garbage cycle the collector
    # has not reached when the fork happens: the child's collector frees it.
    gc.disable()
    try:
        other = ProcessPoolExecutor(1)
        cycle = [other.submit(square, 2)]
        cycle.append(cycle)
        assert cycle[0].result(timeout=10) == 4
        other.shutdown()
        del other, cycle
        child = os.fork()
    finally:
        gc.enable()
    if child == 0:  # drops what it inherited, as a program's exit would (never back to pytest)
        code = 3
        try:
            try:
                executor.submit(square, 1)
                code = 1
            except RuntimeError as e:
                code = 0 if "forked" in str(e) else 2
            procpool._shutdown_at_exit()  # what atexit runs
            executor.shutdown()
            del kept[:]
            gc.collect()
        finally:
            os._exit(code)
    status = wait_exit(child, 20)
    if status is None:
        pytest.fail("the forked child hung")
    assert os.waitstatus_to_exitcode(status) == 0
    assert executor.submit(square, 6).result(timeout=10) == 36  # ours is untouched
    executor.shutdown()
