"""Ctrl-C at a terminal, as a user presses it: a program blocked in a future's result()
gets KeyboardInterrupt at once (not when the task ends), and ends within seconds with its
workers gone and its shared-memory segment removed, whether it used the pool in a with
block or forgot to shut it down. A real pseudo-terminal: its ^C is the kernel's SIGINT to
the foreground process group. Run by scripts/test.
"""
import os
import pty
import select
import signal
import sys
import textwrap
import time

import pytest

from helpers import alive, segments_of, wait_exit

HERE = os.path.dirname(os.path.abspath(__file__))

PROGRAM = textwrap.dedent("""
    import os, sys
    sys.path[:0] = [%(tests)r, %(package)r]
    from procpool import ProcessPoolExecutor
    from tasks import pid, sleep

    def blocked(executor):
        workers = sorted({executor.submit(pid).result() for _ in range(20)})
        running = [executor.submit(sleep, 60) for _ in range(4)]
        print("workers", *workers, "ready", flush=True)
        running[0].result()

    if __name__ == "__main__":
        if sys.argv[1] == "with":
            with ProcessPoolExecutor(2) as executor:
                blocked(executor)
        else:  # forgets shutdown
            blocked(ProcessPoolExecutor(2))
""")


def read_until(fd, marker, deadline):
    seen = b""
    while marker not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the program's side closed
                break
            if not chunk:
                break
            seen += chunk
    return seen


@pytest.mark.parametrize("use", ["with", "forgotten"])
def test_ctrl_c_interrupts_the_wait_and_the_program_ends_with_its_workers(tmp_path, use):
    script = tmp_path / "program.py"
    script.write_text(PROGRAM % {"tests": HERE, "package": os.environ.get("PYTHONPATH", "")})
    child, terminal = pty.fork()
    if child == 0:  # the program, in a session of its own with the terminal as its own
        os.execv(sys.executable, [sys.executable, str(script), use])
    status = None
    try:
        out = read_until(terminal, b"ready", time.monotonic() + 60)
        assert b"ready" in out, out.decode(errors="replace")
        workers = [int(w) for w in out.split(b"workers", 1)[1].split(b"ready")[0].split()]
        time.sleep(0.3)  # blocked in result() by now
        pressed = time.monotonic()
        os.write(terminal, b"\x03")  # ^C: the terminal sends SIGINT to its foreground group
        out += read_until(terminal, b"never printed", time.monotonic() + 15)
        status = wait_exit(child, 15)
        if status is None:
            pytest.fail("the program did not end after ^C: " + out.decode(errors="replace"))
    finally:
        if status is None:  # failed before it ended: it must not outlive the test
            wait_exit(child, 0)
        os.close(terminal)
    assert time.monotonic() - pressed < 10
    assert b"KeyboardInterrupt" in out, out.decode(errors="replace")
    # Python ends an unhandled KeyboardInterrupt by dying of SIGINT, as a shell expects.
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGINT, status
    assert len(workers) >= 1 and not any(alive(w) for w in workers)
    assert not segments_of(child)
