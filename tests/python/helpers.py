"""What the Python tests share about processes and inputs (not run in workers: tasks.py is)."""
import itertools
import os
import signal
import time


def counted(taken):
    """An endless 0, 1, 2, ... that appends each number to taken as it is read."""
    for i in itertools.count():
        taken.append(i)
        yield i


def wait_exit(pid, seconds):
    """The wait status of child pid once it exits, within seconds; None if it did not, and
    then it is killed and reaped (a hung child never outlives its test)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


def parent_of(stat):
    """The parent pid in a /proc/PID/stat line (after the name, which may hold spaces)."""
    return int(stat[stat.rindex(")") + 2:].split()[1])


def children_of(parent):
    """The pids of parent's live child processes (zombies too: not yet reaped is left)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:  # gone meanwhile
            continue
        if parent_of(stat) == parent:
            found.append(int(entry))
    return found


def alive(pid):
    """Running, not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def segments_of(owner):
    """The /dev/shm segments of procpool pools made by process owner."""
    prefix = "procpool-%d-%d-" % (os.getuid(), owner)
    return [name for name in os.listdir("/dev/shm") if name.startswith(prefix)]
