"""The condition of one procpool future: threading.Condition's behaviour, lighter to make.

A future in flight lives for as long as its task does, and a program that submits many
holds thousands at once. threading.Condition stores five bound methods and a deque per
instance: eight objects for Python's garbage collector to count and walk, which cost
more than the rest of a submit together while a flood of futures is alive (measured:
submit + result 57k/s with them, 86k/s with the collector off). This one is two (itself
and its lock); the waiters' list is made by the first wait, which most futures never see.

It is what concurrent.futures.Future asks of its _condition (with, acquire, release,
wait, notify_all), and notify and wait_for for anything else that uses it.
"""
import threading
import time
from collections import deque

_allocate_lock = threading.Lock


class Condition:
    __slots__ = ("_lock", "_waiters")

    def __init__(self):
        self._lock = threading.RLock()
        self._waiters = None  # a deque of the waiters' locks, from the first wait()

    def acquire(self, blocking=True, timeout=-1):
        return self._lock.acquire(blocking, timeout)

    def release(self):
        self._lock.release()

    def __enter__(self):
        return self._lock.acquire()

    def __exit__(self, *exc):
        self._lock.release()

    def wait(self, timeout=None):
        """As threading.Condition.wait: releases the lock however deeply it is held, waits
        for a notify or the timeout, takes the lock back. True unless it timed out."""
        if not self._lock._is_owned():
            raise RuntimeError("cannot wait on un-acquired lock")
        waiter = _allocate_lock()
        waiter.acquire()
        if self._waiters is None:
            self._waiters = deque()
        self._waiters.append(waiter)
        saved = self._lock._release_save()
        notified = False
        try:
            if timeout is None:
                notified = waiter.acquire()
            elif timeout > 0:
                notified = waiter.acquire(True, timeout)
            else:
                notified = waiter.acquire(False)
            return notified
        finally:
            self._lock._acquire_restore(saved)
            if not notified:
                try:
                    self._waiters.remove(waiter)
                except ValueError:  # notified between the timeout and the lock taken back
                    pass

    def wait_for(self, predicate, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        result = predicate()
        while not result:
            left = None
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
            self.wait(left)
            result = predicate()
        return result

    def notify(self, n=1):
        if not self._lock._is_owned():
            raise RuntimeError("cannot notify on un-acquired lock")
        waiters = self._waiters
        while waiters and n > 0:
            waiters.popleft().release()
            n -= 1

    def notify_all(self):
        self.notify(len(self._waiters) if self._waiters else 0)
