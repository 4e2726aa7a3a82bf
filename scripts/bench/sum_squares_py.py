"""The tutorials' CPU-bound example in Python: sum of i*i below N, one process and a
ProcessPoolExecutor with one chunk per worker. Prints seconds. Usage: sum_squares_py.py N WORKERS"""
import concurrent.futures as cf
import sys
import time


def chunk(bounds):
    begin, end = bounds
    return sum(i * i for i in range(begin, end))


def main():
    n, workers = int(sys.argv[1]), int(sys.argv[2])
    t0 = time.perf_counter()
    total = chunk((0, n))
    print(f"python_one_process_s {time.perf_counter() - t0:.3f}")
    t0 = time.perf_counter()
    step = (n + workers - 1) // workers
    with cf.ProcessPoolExecutor(workers) as ex:
        pooled = sum(ex.map(chunk, [(b, min(n, b + step)) for b in range(0, n, step)]))
    print(f"python_ppe_s {time.perf_counter() - t0:.3f}")
    assert pooled == total
    print(f"python_total {total}")


if __name__ == "__main__":
    main()
