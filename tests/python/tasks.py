"""The tasks the Python tests run in their pools' workers: module-level functions of an
importable module, as the standard pickle sends functions (by name)."""
import ctypes
import os
import signal
import time


def square(x):
    return x * x


def add(a, b=0):
    return a + b


def fail(message):
    raise ValueError(message)


def kill_self(sig):
    os.kill(os.getpid(), sig)
    time.sleep(10)


def exit_now(code):
    os._exit(code)


def null_write():
    ctypes.string_at(0)


def sleep_then(seconds, value):
    time.sleep(seconds)
    return value


def pid():
    return os.getpid()


def threading_lock():
    import threading
    return threading.Lock()


def set_global(value):
    global INITIALIZED
    INITIALIZED = value


INITIALIZED = None


def read_global():
    return INITIALIZED


def slow_square(x):
    time.sleep(0.05 * (5 - x % 5))
    return x * x


def fail_on(x):
    if x == 3:
        raise KeyError("three")
    return x


def die_on(x):
    if x == 7:
        os.kill(os.getpid(), signal.SIGKILL)
    return x


def sleep(seconds):
    time.sleep(seconds)
    return seconds


def fail_at(x):
    if x == 5:
        raise ValueError("at 5")
    return x


def hog(megabytes):
    """Takes memory a MiB at a time, touching it, until it has that many."""
    held = [bytearray(b"x" * (1 << 20)) for _ in range(megabytes)]
    return len(held)


def allocate(nbytes):
    return len(bytearray(nbytes))
