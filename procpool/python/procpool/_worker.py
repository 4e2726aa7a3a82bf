"""A procpool worker: started by the engine as `python -c ... main(MAIN)`, it imports the
caller's main module as __mp_main__ (as multiprocessing's spawn does, so functions defined
there unpickle), then runs procpool's worker loop, which hands each task to handle()."""
import os
import pickle
import runpy
import signal
import sys
import traceback
import types

from . import _procpool

_pickler = None


def pickler():
    """cloudpickle where installed, for what the standard pickle cannot send (lambdas,
    closures); PROCPOOL_PICKLE=pickle keeps to the standard one. Imported at first need,
    not at a worker's start: it costs 6 ms there, and unpickling a call that cloudpickle
    made imports it by itself."""
    global _pickler
    if _pickler is None:
        try:
            if os.environ.get("PROCPOOL_PICKLE") == "pickle":
                raise ImportError("PROCPOOL_PICKLE=pickle")
            import cloudpickle
            _pickler = cloudpickle
        except ImportError:  # functions by name, as multiprocessing sends them
            _pickler = pickle
    return _pickler


def dumps(obj):
    """The standard pickle first (fifteen times faster than cloudpickle, which is written
    in Python), cloudpickle for what it cannot pickle."""
    try:
        return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, AttributeError, TypeError):
        if pickler() is pickle:
            raise
        return pickler().dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def _failure(exc):
    """The failure as the engine carries it: the traceback's text, a NUL, then the
    exception pickled (its text alone when it cannot be pickled, as the stdlib does)."""
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).replace("\0", "\\x00")
    try:
        pickled = dumps(exc)
        pickle.loads(pickled)  # one that pickles but cannot be rebuilt would fail the caller
    except BaseException:
        pickled = dumps(RuntimeError("%s: %s" % (type(exc).__name__, exc)))
    return False, tb.encode("utf-8", "replace") + b"\0" + pickled


def handle(call):
    """Runs one pickled (fn, args, kwargs): (True, the value pickled) or _failure(...).
    Never raises."""
    try:
        fn, args, kwargs = pickle.loads(call)
        value = fn(*args, **kwargs)
    except BaseException as exc:  # SystemExit and KeyboardInterrupt fail the task, not the worker
        return _failure(exc)
    try:
        return True, dumps(value)
    except BaseException as exc:  # a result that cannot be pickled fails its future only
        return _failure(exc)


def run_chunk(fn, calls):
    """A chunk of map(): fn over each tuple of arguments, the results as a list."""
    return [fn(*args) for args in calls]


def _import_main(path):
    if not path or not os.path.exists(path):
        return
    module = types.ModuleType("__mp_main__")
    module.__file__ = path
    sys.modules["__mp_main__"] = module
    sys.modules["__main__"] = module
    code = runpy.run_path(path, run_name="__mp_main__")
    module.__dict__.update(code)


def main(main_path=""):
    # Ctrl-C at a terminal reaches the whole foreground group, workers too: the caller
    # decides what it means (KeyboardInterrupt there; the pool's shutdown stops us).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _import_main(main_path)
    sys.exit(_procpool.run_worker(["procpool-worker"] + sys.argv[1:], handle))
