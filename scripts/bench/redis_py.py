"""RQ 1.13 and Celery 5.2 (Debian's python3-rq, python3-celery) on the Redis that
scripts/bench/redis started: no-op and 10 ms jobs with the same number of worker processes
as procpool, start-up included, and what happens to the job of a worker killed with
SIGKILL. Prints "name value" lines that scripts/bench/redis compares.

Usage: redis_py.py REDIS_PORT WORKERS NOOP_JOBS SLEEP_JOBS RQ_FORK_JOBS RECOVERY_WAIT_S
"""
import os
import signal
import subprocess
import sys
import tempfile
import time

import redis

PORT, WORKERS, NOOP_JOBS, SLEEP_JOBS, RQ_FORK_JOBS, RECOVERY_WAIT = (
    int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]))
URL = f"redis://127.0.0.1:{PORT}/0"
PY = sys.executable

# The jobs live in a module both the producer and the workers import.
MODULE_DIR = tempfile.mkdtemp(prefix="procpool-bench-py-")
with open(os.path.join(MODULE_DIR, "ppjobs.py"), "w") as f:
    f.write(f'''
import time
from celery import Celery

def noop(x):
    return x

def sleep_ms(ms):
    time.sleep(ms / 1000)
    return ms

app = Celery("ppjobs", broker="{URL}", backend="{URL}")
app.conf.worker_prefetch_multiplier = 4
app.conf.task_acks_late = True  # a killed worker's task is delivered again (after the visibility timeout)
app.conf.task_track_started = True

@app.task
def c_noop(x):
    return x

@app.task
def c_sleep_ms(ms):
    time.sleep(ms / 1000)
    return ms
''')
sys.path.insert(0, MODULE_DIR)
ENV = dict(os.environ, PYTHONPATH=MODULE_DIR)
import ppjobs  # noqa: E402
from rq import Queue  # noqa: E402

conn = redis.Redis(port=PORT)


def emit(name, value):
    print(f"{name} {value:.1f}" if isinstance(value, float) else f"{name} {value}", flush=True)


def rq_run(worker_class, func, args_list):
    """Enqueues the jobs, then starts WORKERS burst workers; seconds until all are done."""
    conn.flushdb()
    q = Queue("bench", connection=conn)
    start = time.monotonic()
    for i in range(0, len(args_list), 1000):  # enqueue_many pipelines them
        q.enqueue_many([Queue.prepare_data(func, (a,), result_ttl=600) for a in args_list[i:i + 1000]])
    procs = [subprocess.Popen(["rq", "worker", "--burst", "-q", "--url", URL, "-w", worker_class, "bench"],
                              env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for _ in range(WORKERS)]
    for p in procs:
        p.wait()
    elapsed = time.monotonic() - start
    finished = len(q.finished_job_registry)
    if finished != len(args_list):
        print(f"# rq {worker_class}: only {finished} of {len(args_list)} jobs finished", flush=True)
    return elapsed


def celery_worker():
    return subprocess.Popen([PY, "-m", "celery", "-A", "ppjobs", "worker", "--pool", "prefork",
                             "--concurrency", str(WORKERS), "-l", "error", "--without-heartbeat",
                             "--without-gossip", "--without-mingle"],
                            env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def celery_run(task, args_list):
    """Starts the worker, sends the jobs, waits for every result; seconds, all included."""
    conn.flushdb()
    start = time.monotonic()
    worker = celery_worker()
    try:
        results = [task.delay(a) for a in args_list]
        for r in results:
            r.get(timeout=600)
        return time.monotonic() - start
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()


noop_inputs = list(range(NOOP_JOBS))
sleep_inputs = [10] * SLEEP_JOBS
emit("rq_fork_noop_jobs_per_s", RQ_FORK_JOBS / rq_run("rq.worker.Worker", ppjobs.noop, list(range(RQ_FORK_JOBS))))
emit("rq_simple_noop_jobs_per_s", NOOP_JOBS / rq_run("rq.worker.SimpleWorker", ppjobs.noop, noop_inputs))
emit("celery_noop_jobs_per_s", NOOP_JOBS / celery_run(ppjobs.c_noop, noop_inputs))
emit("rq_simple_sleep10_jobs_per_s", SLEEP_JOBS / rq_run("rq.worker.SimpleWorker", ppjobs.sleep_ms, sleep_inputs))
emit("celery_sleep10_jobs_per_s", SLEEP_JOBS / celery_run(ppjobs.c_sleep_ms, sleep_inputs))


# Recovery: a worker killed (SIGKILL, its whole process group) while running a 1 s job,
# and a second worker started right after. Seconds from the kill until the job is done,
# minus the job's 1 s; -1 when it was not done within RECOVERY_WAIT.
def seconds_until_done(killed, done, second):
    try:
        while time.monotonic() - killed < RECOVERY_WAIT:
            if done():
                return time.monotonic() - killed - 1.0
            time.sleep(0.05)
        return -1.0
    finally:
        os.killpg(second.pid, signal.SIGKILL)
        second.wait()


def rq_recovery():
    conn.flushdb()
    q = Queue("bench", connection=conn)
    job = q.enqueue(ppjobs.sleep_ms, 1000)
    first = subprocess.Popen(["rq", "worker", "-q", "--url", URL, "bench"], env=ENV, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    while job.get_status(refresh=True) != "started":
        time.sleep(0.01)
    time.sleep(0.2)
    # The work horse runs in a session of its own (RQ calls setsid): kill it too.
    subprocess.run(["pkill", "-KILL", "-P", str(first.pid)], check=False)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    killed = time.monotonic()
    second = subprocess.Popen(["rq", "worker", "-q", "--url", URL, "bench"], env=ENV, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    return seconds_until_done(killed, lambda: job.get_status(refresh=True) == "finished", second)


def celery_recovery():
    conn.flushdb()
    first = celery_worker()
    r = ppjobs.c_sleep_ms.delay(1000)
    while r.state != "STARTED":
        time.sleep(0.01)
    time.sleep(0.2)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    killed = time.monotonic()
    return seconds_until_done(killed, r.ready, celery_worker())


emit("rq_recovery_s", rq_recovery())
emit("celery_recovery_s", celery_recovery())
