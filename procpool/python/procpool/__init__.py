"""procpool for Python programs: a ProcessPoolExecutor whose pool never breaks.

    from procpool import ProcessPoolExecutor      # was: from concurrent.futures import ...

    with ProcessPoolExecutor() as pool:
        print(list(pool.map(pow, [2, 3], [10, 10])))

The workers are fresh interpreters of this Python (spawn semantics: the main module is
imported there as __mp_main__, so keep the pool's use under `if __name__ == "__main__":`),
fed through procpool's shared-memory rings by its C++ engine, which runs on a thread of
its own in this process. A worker that dies (a signal, os._exit, a segfault in C code, a
memory limit) fails only the task it ran, with TaskCrashed, after max_attempts runs;
every other future and the pool go on. A task over `timeout` seconds is killed with its
worker: TaskTimeout. Calls and results travel by pickle (cloudpickle when installed, so
lambdas and closures work too; PROCPOOL_PICKLE=pickle chooses the standard pickle).
"""
import atexit
import collections
import concurrent.futures
import concurrent.futures.process
import itertools
import os
import pickle
import sys
import threading
import time
import weakref

from . import _condition, _procpool, _worker

__all__ = ["ProcessPoolExecutor", "Pool", "TaskCrashed", "TaskTimeout", "PoolError"]

PoolError = _procpool.PoolError


class TaskCrashed(concurrent.futures.process.BrokenProcessPool):
    """The task's worker died while running it, on every one of its attempts.

    A BrokenProcessPool, so code written for the standard pool catches it; unlike there,
    only this future fails and the pool stays usable.
    """

    def __init__(self, message, attempts):
        super().__init__(message)
        self.attempts = attempts


class TaskTimeout(TimeoutError):
    """The task ran longer than the pool's timeout and was killed with its worker."""

    def __init__(self, message, attempts):
        super().__init__(message)
        self.attempts = attempts


class _RemoteTraceback(Exception):
    """The worker's traceback, as the cause of the exception raised in the caller."""

    def __init__(self, tb):
        super().__init__(tb)
        self.tb = tb

    def __str__(self):
        return self.tb


def _batched(iterable, n):
    """Tuples of n items of iterable (the last may be shorter): itertools.batched of 3.12."""
    iterator = iter(iterable)
    while True:
        batch = tuple(itertools.islice(iterator, n))
        if not batch:
            return
        yield batch


def _flattened(lists):
    """The items of a generator of lists; closing this closes that generator."""
    try:
        for items in lists:
            yield from items
    finally:
        lists.close()


def _raised(data):
    """The exception a task raised in its worker, with the worker's traceback as its
    cause (as the standard pool gives it), from the text-NUL-pickle the worker sent."""
    text, _, pickled = data.partition(b"\0")
    try:
        exc = pickle.loads(pickled)
    except BaseException:
        return RuntimeError(text.decode(errors="replace"))
    exc.__cause__ = _RemoteTraceback(text.decode(errors="replace"))
    return exc


def _main_is_importable():
    main = sys.modules.get("__main__")
    return bool(getattr(main, "__file__", None))


def _dumps(call):
    """A call pickled as the worker pickles results (_worker.dumps: the standard pickle
    first, cloudpickle for what it cannot), and by value (cloudpickle) for a function of a
    __main__ that workers cannot import: an interactive session, python -c."""
    fn = call[0]
    if getattr(fn, "__module__", None) == "__main__" and not _main_is_importable() and _worker.pickler() is not pickle:
        return _worker.pickler().dumps(call, protocol=pickle.HIGHEST_PROTOCOL)
    return _worker.dumps(call)


def _worker_command():
    """The interpreter and its arguments that start a worker (the engine appends its own).

    The worker gets this process's sys.path (as multiprocessing's spawn gives it), so
    that what this process imported, the worker can, and the path of the main script,
    which it imports as __mp_main__. It imports procpool._worker under a bare stand-in
    of this package, not this file: what this file imports for the caller's side
    (concurrent.futures, multiprocessing, logging) is 40 ms of a worker's start that
    its loop never uses. The stand-in goes once _worker is in, so that a task that
    imports procpool gets all of it."""
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    main = os.path.abspath(main) if main else ""
    paths = [os.path.abspath(p) if p else os.getcwd() for p in sys.path]
    package = os.path.dirname(os.path.abspath(__file__))
    code = ("import sys, types; sys.path[:] = %r; stand_in = types.ModuleType('procpool'); "
            "stand_in.__path__ = [%r]; sys.modules['procpool'] = stand_in; import procpool._worker as worker; "
            "del sys.modules['procpool']; worker.main(%r)") % (paths, package, main)
    return sys.executable, ["-c", code]


_live_pools = weakref.WeakSet()
# A child forked from this process (the standard pool's fork workers, os.fork()) inherits
# the pools but none of their threads: they are not its to shut down at its exit.
os.register_at_fork(after_in_child=_live_pools.clear)


@atexit.register
def _shutdown_at_exit():
    # Before the interpreter finalises: the engine's callback thread needs the GIL to
    # settle what is still running, which a finalising interpreter no longer gives. A
    # program ended by Ctrl-C (its KeyboardInterrupt unhandled) wants out now: what runs
    # is stopped, not waited for, as the standard pool's workers die of the same SIGINT.
    interrupted = isinstance(getattr(sys, "last_value", None), KeyboardInterrupt)
    for pool in list(_live_pools):
        if interrupted:
            pool.terminate_workers()
        else:
            pool.shutdown(wait=True, cancel_futures=True)


class _Future(concurrent.futures.Future):
    """A Future whose cancel() also takes its task back from the pool, and whose result()
    waits for it in the engine: the waiting thread is woken by the pool's loop and settles
    the future itself (the settler's thread would settle it a hop later)."""

    def __init__(self, executor):
        # The base class's fields (a test checks they are all here), with a lighter
        # condition than its threading.Condition (see _condition.py for why).
        self._condition = _condition.Condition()
        self._state = concurrent.futures._base.PENDING
        self._result = None
        self._exception = None
        self._waiters = []
        self._done_callbacks = []
        self._task = None
        self._executor = executor

    def _wait_in_engine(self, timeout):
        """The timeout the base class's wait should have left: None once the task's
        outcome is in (settled here, or by another thread this instant), 0 if the engine
        waited the whole timeout in vain (the base class would wait it again)."""
        task = self._task
        if task is None or self.done():
            return timeout
        if not _procpool.wait(task, -1.0 if timeout is None else max(timeout, 0.0)):
            return 0
        self._settle(*_procpool.outcome(task))
        return None

    def _settle(self, status, data, attempts):
        # Twice for each future (its waiter, and the settler's thread or a submit that
        # drains it): the first settles.
        executor = self._executor
        with executor._lock:
            if self not in executor._futures:
                return
            executor._futures.discard(self)
        try:
            self._set_outcome(status, data, attempts)
        finally:
            # Called, so no longer needed: a callback that holds what holds this future
            # (AsyncResult does) would otherwise keep both, and the pool's engine with
            # them, until the garbage collector's next full pass.
            self._done_callbacks = []

    def _set_outcome(self, status, data, attempts):
        if status == _procpool.STATUS_CANCELLED:
            # Our futures stay PENDING until settled here, so this always takes (the base
            # class's: ours would ask the pool again, from the pool's own thread).
            concurrent.futures.Future.cancel(self)
            return
        if not self.set_running_or_notify_cancel():
            return
        if status == _procpool.STATUS_OK:
            try:
                value = pickle.loads(data)
            except BaseException as e:  # a result that cannot be unpickled here fails its future
                self.set_exception(e)
                if not isinstance(e, Exception):
                    raise  # a Ctrl-C meanwhile is the user's too
            else:
                self.set_result(value)  # a callback's KeyboardInterrupt goes on up
        elif status == _procpool.STATUS_ERROR:
            self.set_exception(_raised(data))
        elif status == _procpool.STATUS_CRASHED:
            self.set_exception(TaskCrashed(data.decode(errors="replace"), attempts))
        elif status == _procpool.STATUS_TIMEOUT:
            self.set_exception(TaskTimeout(data.decode(errors="replace"), attempts))
        else:
            self.set_exception(RuntimeError(data.decode(errors="replace")))

    def result(self, timeout=None):
        return super().result(self._wait_in_engine(timeout))

    def exception(self, timeout=None):
        return super().exception(self._wait_in_engine(timeout))

    def cancel(self):
        with self._condition:
            if self._state != concurrent.futures._base.PENDING:
                return super().cancel()
        task = self._task
        if task is not None and not _procpool.cancel(task):
            return False  # it runs already: as the standard pool, it is not stopped
        return super().cancel()


class ProcessPoolExecutor(concurrent.futures.Executor):
    """concurrent.futures.ProcessPoolExecutor, with workers that may die without breaking it.

    max_workers: worker processes (default: the usable cores). initializer(*initargs)
    runs once in each worker before its first task; if it fails, the pool cannot start.
    max_tasks_per_child: replace a worker after that many tasks. procpool's own:
    max_attempts (runs of a task whose worker died, default 3), timeout (seconds a task
    may run; it is killed with its worker), max_memory_per_child (bytes of RSS after which
    a worker is replaced), hard_memory_per_child (bytes at which it is killed at once),
    max_procs_per_child (processes and threads a worker and what it starts may have).
    """

    def __init__(self, max_workers=None, mp_context=None, initializer=None, initargs=(),
                 *, max_tasks_per_child=None, max_attempts=3, timeout=None,
                 max_memory_per_child=None, hard_memory_per_child=None, max_procs_per_child=1024):
        if max_workers is not None and max_workers <= 0:
            raise ValueError("max_workers must be greater than 0")
        if max_tasks_per_child is not None and max_tasks_per_child <= 0:
            raise ValueError("max_tasks_per_child must be >= 1")
        if timeout is not None and timeout <= 0:
            raise ValueError("timeout must be greater than 0")
        if initializer is not None and not callable(initializer):
            raise TypeError("initializer must be a callable")
        initializer_call = _dumps((initializer, tuple(initargs), {})) if initializer else b""
        executable, args = _worker_command()
        self._lock = threading.Lock()
        self._maker = os.getpid()
        self._shutdown = False
        self._futures = set()
        self._pool = _procpool.Pool(
            workers=max_workers or 0, max_attempts=max_attempts, timeout=timeout or 0.0,
            max_tasks_per_child=max_tasks_per_child or 0,
            max_memory_per_child=max_memory_per_child or 0,
            hard_memory_per_child=hard_memory_per_child or 0,
            max_procs_per_child=max_procs_per_child, executable=executable, executable_args=args,
            initializer=initializer_call)
        self._max_workers = self._pool.workers
        _live_pools.add(self)

    def submit(self, fn, /, *args, **kwargs):
        call = _dumps((fn, args, kwargs))  # a call that cannot be pickled fails here, alone
        future = _Future(self)
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            self._futures.add(future)
        try:
            future._task = self._pool.submit(call, future)
        except BaseException:  # the pool refused it, or a Ctrl-C in a callback it settled
            with self._lock:
                self._futures.discard(future)
            raise
        return future

    def map(self, fn, *iterables, timeout=None, chunksize=1, buffersize=None):
        """As concurrent.futures: results in order, lazily; a task's exception is raised
        when its result's turn comes; a result not in by `timeout` seconds from this call
        raises TimeoutError, and the tasks not yet read are cancelled. chunksize > 1 sends
        that many calls as one task (so a worker that dies fails the calls of its chunk,
        each with TaskCrashed). buffersize (Python 3.14's, here on every Python): at most
        that many tasks (chunks) submitted ahead of the results read, the inputs read
        only as results are, so an endless generator works in bounded memory."""
        if chunksize < 1:
            raise ValueError("chunksize must be >= 1.")
        if buffersize is not None and not isinstance(buffersize, int):
            raise TypeError("buffersize must be an integer or None")
        if buffersize is not None and buffersize < 1:
            raise ValueError("buffersize must be None or > 0")
        calls = zip(*iterables)
        if chunksize == 1:
            return self._results_in_order(fn, calls, timeout, buffersize)
        chunks = ((fn, chunk) for chunk in _batched(calls, chunksize))
        return _flattened(self._results_in_order(_worker.run_chunk, chunks, timeout, buffersize))

    def _results_in_order(self, fn, calls, timeout, buffersize):
        """map()'s tasks submitted now (buffersize of them, or all), and a generator of
        their results that submits one more for each it yields."""
        end = None if timeout is None else time.monotonic() + timeout
        first = calls if buffersize is None else itertools.islice(calls, buffersize)
        futures = collections.deque(self.submit(fn, *args) for args in first)
        executor = weakref.ref(self)  # the generator must not keep the executor alive

        def results():
            try:
                while futures:
                    live = executor() if buffersize else None
                    if live is not None:
                        args = next(calls, None)
                        if args is not None:
                            futures.append(live.submit(fn, *args))
                    future = futures.popleft()
                    try:
                        value = future.result(None if end is None else end - time.monotonic())
                    finally:
                        future.cancel()  # a timeout: as the standard map, it is not left running
                    yield value
            finally:
                for future in futures:
                    future.cancel()

        return results()

    def shutdown(self, wait=True, *, cancel_futures=False):
        if self._maker != os.getpid():  # a forked child's copy: nothing of the pool runs here
            self._shutdown = True
            return
        with self._lock:
            self._shutdown = True
            pending = list(self._futures) if cancel_futures else []
        for future in pending:
            future.cancel()
        self._pool.close(wait, cancel_futures)

    def __exit__(self, exc_type, exc_val, exc_tb):
        # Ctrl-C in the with block: stop the workers rather than wait for their tasks
        # (the standard pool's workers die of the terminal's SIGINT; ours ignore it).
        if exc_type is not None and issubclass(exc_type, KeyboardInterrupt):
            self.terminate_workers()
        else:
            self.shutdown(wait=True)
        return False

    def terminate_workers(self):
        """Stops every worker at once: running tasks end cancelled, pending ones too."""
        if self._maker != os.getpid():  # a forked child's copy: nothing of the pool runs here
            self._shutdown = True
            return
        with self._lock:
            self._shutdown = True
        self._pool.close(True, True, True)

    kill_workers = terminate_workers


from .pool import Pool  # noqa: E402  (it builds on ProcessPoolExecutor above)
