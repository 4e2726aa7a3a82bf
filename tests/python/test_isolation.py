"""Crash isolation from Python: a task that kills its worker (a signal, os._exit, a null
write in C code, a memory hog over the limit, a hang over the timeout) fails only its own
future, with the cause; a thousand neighbours submitted around it all succeed; and once
the pool is shut down no worker process and no shared-memory segment is left behind.

Where this differs from the standard pool on purpose: there, any of these breaks the
pool (BrokenProcessPool on every pending future, and no more submits); here TaskCrashed
(itself a BrokenProcessPool, so the same except clause catches it) fails one future.

Real worker processes, real signals, the kernel's memory limit. Run by scripts/test.
"""
import concurrent.futures
import os
import signal
import time

import pytest

from procpool import ProcessPoolExecutor, TaskCrashed, TaskTimeout
from helpers import children_of, segments_of
from tasks import allocate, exit_now, hog, kill_self, null_write, pid, sleep_then, square

NEIGHBOURS = 1000


def run_beside_neighbours(executor, fn, *args):
    """fn(*args) submitted between two halves of the neighbours: (its future, theirs)."""
    before = [executor.submit(square, i) for i in range(NEIGHBOURS // 2)]
    doomed = executor.submit(fn, *args)
    after = [executor.submit(square, i) for i in range(NEIGHBOURS // 2, NEIGHBOURS)]
    return doomed, before + after


CRASHES = {
    "SIGKILL": (dict(), kill_self, (signal.SIGKILL,), TaskCrashed, "SIGKILL"),
    "SIGSEGV": (dict(), kill_self, (signal.SIGSEGV,), TaskCrashed, "SIGSEGV"),
    "os._exit": (dict(), exit_now, (3,), TaskCrashed, "status 3"),
    "ctypes null write": (dict(), null_write, (), TaskCrashed, "SIGSEGV"),
    # The kernel's limit on the worker's cgroup (or the pool's polled one) kills the
    # worker: the hog cannot catch it, as it could a MemoryError, and no other task pays.
    "memory hog": (dict(hard_memory_per_child=150 << 20), hog, (2000,), TaskCrashed, "limit"),
    "hang": (dict(timeout=1.0), sleep_then, (3600, None), TaskTimeout, "(limit 1.00 s)"),
}


@pytest.mark.parametrize("case", list(CRASHES), ids=list(CRASHES))
def test_a_dying_task_fails_only_its_future_and_leaves_nothing_behind(case):
    options, fn, args, raised, said = CRASHES[case]
    me = os.getpid()
    assert not segments_of(me)
    with ProcessPoolExecutor(2, **options) as executor:
        start = time.monotonic()
        doomed, neighbours = run_beside_neighbours(executor, fn, *args)
        with pytest.raises(raised) as info:
            doomed.result(timeout=120)
        assert time.monotonic() - start < 60
        assert said in str(info.value), str(info.value)
        assert info.value.attempts >= 1
        if raised is TaskCrashed:  # what code written for the standard pool catches
            assert isinstance(info.value, concurrent.futures.process.BrokenProcessPool)
        else:
            assert isinstance(info.value, TimeoutError)
        assert [f.result(timeout=60) for f in neighbours] == [i * i for i in range(NEIGHBOURS)]
        assert executor.submit(square, 5).result(timeout=10) == 25  # the pool goes on
        workers = {executor.submit(pid).result(timeout=10) for _ in range(20)}
        assert segments_of(me)
    assert not segments_of(me)
    deadline = time.monotonic() + 5
    while set(children_of(me)) & workers and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not set(children_of(me)) & workers


def test_a_memory_error_in_a_task_is_its_exception_and_its_worker_lives_on():
    # An allocation Python refuses (not a limit's kill): the task's own MemoryError,
    # raised in the caller; the worker that raised it runs the next task.
    with ProcessPoolExecutor(1) as executor:
        before = executor.submit(pid).result(timeout=10)
        doomed, neighbours = run_beside_neighbours(executor, allocate, 1 << 60)
        with pytest.raises(MemoryError):
            doomed.result(timeout=60)
        assert [f.result(timeout=60) for f in neighbours] == [i * i for i in range(NEIGHBOURS)]
        assert executor.submit(pid).result(timeout=10) == before
