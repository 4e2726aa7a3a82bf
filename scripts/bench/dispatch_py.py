"""Python's pools on the dispatch benchmark: no-op tasks per second and round trips.

Prints "name value unit"-style lines like dispatch_bench. Usage: dispatch_py.py TASKS WORKERS
"""
import concurrent.futures as cf
import multiprocessing as mp
import statistics
import sys
import time


def noop(x):
    return None


def main():
    tasks = int(sys.argv[1])
    workers = int(sys.argv[2])
    # ProcessPoolExecutor.submit, one future per task (fewer tasks: it is slow).
    n_submit = min(tasks, 100_000)
    with cf.ProcessPoolExecutor(workers) as ex:
        ex.submit(noop, 0).result()  # workers up
        t0 = time.perf_counter()
        futures = [ex.submit(noop, i) for i in range(n_submit)]
        for f in futures:
            f.result()
        print(f"ppe_submit_tasks_per_s {n_submit / (time.perf_counter() - t0):.0f}")
        rtt = []
        for i in range(2000):
            t = time.perf_counter()
            ex.submit(noop, i).result()
            rtt.append(time.perf_counter() - t)
        print(f"ppe_roundtrip_p50_us {statistics.median(rtt) * 1e6:.1f}")
    with mp.Pool(workers) as pool:
        pool.apply(noop, (0,))
        n_imap = min(tasks, 300_000)
        t0 = time.perf_counter()
        for _ in pool.imap_unordered(noop, range(n_imap), chunksize=1):
            pass
        print(f"pool_imap_unordered_chunk1_tasks_per_s {n_imap / (time.perf_counter() - t0):.0f}")
        t0 = time.perf_counter()
        pool.map(noop, range(tasks))
        print(f"pool_map_default_chunks_tasks_per_s {tasks / (time.perf_counter() - t0):.0f}")
        # A second shape: strings in, their lengths out (what dispatch_bench's typed map
        # of strings does).
        words = [f"word-{i:012d}" for i in range(tasks)]
        t0 = time.perf_counter()
        pool.map(len, words)
        print(f"pool_map_strings_tasks_per_s {tasks / (time.perf_counter() - t0):.0f}")


if __name__ == "__main__":
    main()
