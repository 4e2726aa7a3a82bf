"""procpool.ProcessPoolExecutor against concurrent.futures.ProcessPoolExecutor in the same
run: no-op submit + result (a future each; the median of 5 rounds), the round trip of one
task from an idle pool (p50 of 200), and map over a range. Prints "name value" lines, then the ratios."""
import concurrent.futures
import statistics
import sys
import time

import procpool


def noop(x):
    return x


def submit_rate(pool, n):
    start = time.perf_counter()
    futures = [pool.submit(noop, i) for i in range(n)]
    for f in futures:
        f.result()
    return n / (time.perf_counter() - start)


def round_trip_p50_us(pool, rounds=200):
    times = []
    for i in range(rounds):
        time.sleep(0.002)  # idle: the workers are asleep again
        start = time.perf_counter()
        pool.submit(noop, i).result()
        times.append((time.perf_counter() - start) * 1e6)
    return statistics.median(times)


def map_rate(pool, n, chunksize):
    start = time.perf_counter()
    total = sum(pool.map(noop, range(n), chunksize=chunksize))
    assert total == n * (n - 1) // 2
    return n / (time.perf_counter() - start)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    out = {}
    for name, cls in (("procpool", procpool.ProcessPoolExecutor),
                      ("stdlib", concurrent.futures.ProcessPoolExecutor)):
        with cls(workers) as pool:
            pool.submit(noop, 0).result()  # started
            # The median of 5 rounds: one round's rate moves by 30% with what else the
            # machine does in that second.
            out[name + "_submit_tasks_per_s"] = statistics.median(submit_rate(pool, n) for _ in range(5))
            out[name + "_roundtrip_p50_us"] = round_trip_p50_us(pool)
            out[name + "_map_chunk1000_tasks_per_s"] = map_rate(pool, n * 10, 1000)
    for key, value in out.items():
        print("%s %.1f" % (key, value))
    print()
    print("submit + result, a future each: procpool %.0f/s, stdlib %.0f/s: %.1fx" % (
        out["procpool_submit_tasks_per_s"], out["stdlib_submit_tasks_per_s"],
        out["procpool_submit_tasks_per_s"] / out["stdlib_submit_tasks_per_s"]))
    print("round trip from idle, p50: procpool %.0f us, stdlib %.0f us: %.2fx" % (
        out["procpool_roundtrip_p50_us"], out["stdlib_roundtrip_p50_us"],
        out["procpool_roundtrip_p50_us"] / out["stdlib_roundtrip_p50_us"]))
    print("map(chunksize=1000): procpool %.0f/s, stdlib %.0f/s: %.2fx" % (
        out["procpool_map_chunk1000_tasks_per_s"], out["stdlib_map_chunk1000_tasks_per_s"],
        out["procpool_map_chunk1000_tasks_per_s"] / out["stdlib_map_chunk1000_tasks_per_s"]))


if __name__ == "__main__":
    main()
