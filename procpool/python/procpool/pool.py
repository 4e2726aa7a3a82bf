"""procpool.Pool: multiprocessing.Pool's interface over procpool's engine.

Where the standard Pool hangs for ever when a worker is killed mid-task (CPython
gh-66587), here that task's result fails with TaskCrashed and everything else goes on.
Callbacks run on the pool's own thread, as the standard Pool's result handler runs them:
they must not block.
"""
import concurrent.futures
import itertools
import multiprocessing
import threading

from . import _worker

_RUN, _CLOSE, _TERMINATE = "RUN", "CLOSE", "TERMINATE"


class AsyncResult:
    """multiprocessing.pool.AsyncResult over futures: a value, or a list of chunks' values."""

    def __init__(self, futures, join, callback, error_callback):
        self._futures = futures
        self._join = join  # the futures' values -> the result
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._left = len(futures)
        self._callback, self._error_callback = callback, error_callback
        self._value = self._error = None
        self._finishing = False  # under _lock: the one call that finishes is decided there
        if not futures:
            self._finish()
        for f in futures:
            f.add_done_callback(self._one_done)

    def _one_done(self, future):
        # The pool's thread (or the caller's, for a future already done): the first failure,
        # or the last success, finishes the result, once.
        with self._lock:
            self._left -= 1
            failed = future.cancelled() or future.exception() is not None
            if self._finishing or (not failed and self._left > 0):
                return
            self._finishing = True
        self._finish()

    def _finish(self):
        for f in self._futures:
            if f.cancelled():
                self._error = concurrent.futures.CancelledError("the pool was terminated")
                break
            if f.done() and f.exception() is not None:
                self._error = f.exception()
                break
        if self._error is None:
            self._value = self._join([f.result() for f in self._futures])
        self._futures = ()  # they hold our _one_done: no cycle left for the collector
        self._event.set()
        if self._error is None and self._callback is not None:
            self._callback(self._value)
        if self._error is not None and self._error_callback is not None:
            self._error_callback(self._error)

    def ready(self):
        return self._event.is_set()

    def successful(self):
        if not self.ready():
            raise ValueError("%r not ready" % self)
        return self._error is None

    def wait(self, timeout=None):
        self._event.wait(timeout)

    def get(self, timeout=None):
        if not self._event.wait(timeout):
            raise multiprocessing.TimeoutError
        if self._error is not None:
            raise self._error
        return self._value


def _default_chunksize(n, workers):
    chunksize, extra = divmod(n, workers * 4)  # the standard Pool's rule
    return chunksize + 1 if extra else max(chunksize, 1)


class Pool:
    """multiprocessing.Pool(processes, initializer, initargs, maxtasksperchild), with
    procpool's own keyword arguments (max_attempts, timeout, max_memory_per_child,
    hard_memory_per_child, max_procs_per_child; see ProcessPoolExecutor)."""

    def __init__(self, processes=None, initializer=None, initargs=(), maxtasksperchild=None, context=None, **procpool_options):
        from . import ProcessPoolExecutor  # the package's, defined in __init__
        if processes is not None and processes < 1:
            raise ValueError("Number of processes must be at least 1")
        self._executor = ProcessPoolExecutor(processes, initializer=initializer, initargs=initargs,
                                             max_tasks_per_child=maxtasksperchild, **procpool_options)
        self._processes = self._executor._max_workers
        self._state = _RUN

    def _check_running(self):
        if self._state != _RUN:
            raise ValueError("Pool not running")

    def apply(self, func, args=(), kwds={}):
        return self.apply_async(func, args, kwds).get()

    def apply_async(self, func, args=(), kwds={}, callback=None, error_callback=None):
        self._check_running()
        future = self._executor.submit(func, *args, **kwds)
        return AsyncResult([future], lambda values: values[0], callback, error_callback)

    def _chunk_futures(self, func, iterable, chunksize, star):
        self._check_running()
        items = list(iterable)
        if chunksize is None:
            chunksize = _default_chunksize(len(items), self._processes)
        if chunksize < 1:
            raise ValueError("Chunksize must be 1+, not %r" % chunksize)
        calls = items if star else [(x,) for x in items]
        return [self._executor.submit(_worker.run_chunk, func, calls[i:i + chunksize])
                for i in range(0, len(calls), chunksize)]

    def map_async(self, func, iterable, chunksize=None, callback=None, error_callback=None):
        futures = self._chunk_futures(func, iterable, chunksize, star=False)
        return AsyncResult(futures, lambda chunks: list(itertools.chain.from_iterable(chunks)), callback,
                           error_callback)

    def starmap_async(self, func, iterable, chunksize=None, callback=None, error_callback=None):
        futures = self._chunk_futures(func, iterable, chunksize, star=True)
        return AsyncResult(futures, lambda chunks: list(itertools.chain.from_iterable(chunks)), callback,
                           error_callback)

    def map(self, func, iterable, chunksize=None):
        return self.map_async(func, iterable, chunksize).get()

    def starmap(self, func, iterable, chunksize=None):
        return self.starmap_async(func, iterable, chunksize).get()

    def imap(self, func, iterable, chunksize=1):
        """Results in order as they come; a task's exception is raised at its place. The
        tasks are submitted now, as the standard Pool's are."""
        futures = self._chunk_futures(func, iterable, chunksize, star=False)
        return itertools.chain.from_iterable(f.result() for f in futures)

    def imap_unordered(self, func, iterable, chunksize=1):
        futures = self._chunk_futures(func, iterable, chunksize, star=False)
        return itertools.chain.from_iterable(f.result() for f in concurrent.futures.as_completed(futures))

    def close(self):
        """No more tasks; those given finish (join() waits for them)."""
        if self._state == _RUN:
            self._state = _CLOSE

    def terminate(self):
        """Stops the workers now: unfinished tasks end cancelled."""
        self._state = _TERMINATE
        self._executor.terminate_workers()

    def join(self):
        if self._state == _RUN:
            raise ValueError("Pool is still running")
        self._executor.shutdown(wait=True)

    def __enter__(self):
        self._check_running()
        return self

    def __exit__(self, *exc):
        self.terminate()  # as multiprocessing.Pool's context manager does
