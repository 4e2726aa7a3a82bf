"""The seeds' own Python programs, as their authors wrote them, run twice in one process:
with the standard library's pool, then with procpool's, the import the only change.

  thumbnails  ProcessPoolExecutor().map(create_thumbnail, images)   (Pillow)
  squares     multiprocessing.Pool(cores).map(sum_squares, ranges)
  downloads   multiprocessing.Pool(4).map(download, links)           (urllib)

Each on two data sets of other shapes (see scripts/bench/python_seeds). Prints
"<program> <data set> <pool> <seconds>" lines, pool start-up included, best of ROUNDS.
Usage: python_seeds_py.py PHOTOS PNGS OUT URLS_SMALL URLS_LARGE ROUNDS
"""
import concurrent.futures
import multiprocessing
import os
import sys
import time
import urllib.request

from PIL import Image

import procpool

# --- thumbnails: the Pillow tutorial's program -------------------------------------------
def create_thumbnail(job):
    path, out = job
    stem, ext = os.path.splitext(os.path.basename(path))
    with Image.open(path) as image:
        image.thumbnail((128, 128))
        image.save(os.path.join(out, f"{stem}_thumbnail{ext}"))


def thumbnails(executor_class, folder, out):
    with executor_class() as executor:
        thumbnails_in(executor, folder, out)


def thumbnails_in(executor, folder, out):
    images = sorted(os.path.join(folder, n) for n in os.listdir(folder) if n.lower().endswith((".jpg", ".png")))
    list(executor.map(create_thumbnail, [(path, out) for path in images]))
    made = len(os.listdir(out))
    assert made == len(images), "%d thumbnails of %d images" % (made, len(images))


# --- the sum of squares over per-core processes -----------------------------------------
def sum_squares(bounds):
    begin, end = bounds
    return sum(i * i for i in range(begin, end))


def squares(pool_class, n, pieces):
    with pool_class(os.cpu_count()) as pool:
        squares_in(pool, n, pieces)


def squares_in(pool, n, pieces):
    step = (n + pieces - 1) // pieces
    total = sum(pool.map(sum_squares, [(b, min(n, b + step)) for b in range(0, n, step)]))
    assert total == (n - 1) * n * (2 * n - 1) // 6


# --- downloads with urllib in a pool of four ---------------------------------------------
def download(job):
    url, out = job
    with urllib.request.urlopen(url, timeout=30) as response:
        body = response.read()
    with open(os.path.join(out, url.rsplit("/", 1)[-1]), "wb") as f:
        f.write(body)
    return len(body)


def downloads(pool_class, urls, out):
    with pool_class(4) as pool:
        downloads_in(pool, urls, out)


def downloads_in(pool, urls, out):
    sizes = pool.map(download, [(url, out) for url in urls])
    assert len(sizes) == len(urls) and all(sizes)


def timed(fn, *args):
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def fresh(out, name):
    path = os.path.join(out, name)
    if os.path.isdir(path):
        for f in os.listdir(path):
            os.unlink(os.path.join(path, f))
    os.makedirs(path, exist_ok=True)
    return path


def main():
    photos, pngs, out, urls_small, urls_large, rounds = sys.argv[1:7]
    with open(urls_small) as f:
        small = f.read().split()
    with open(urls_large) as f:
        large = f.read().split()
    # (program, data set, the program as written, its work alone in a running pool, the
    # pool's constructor call, the standard class, procpool's)
    cores = os.cpu_count()
    programs = [
        ("thumbnails", "jpeg-photos", lambda cls, o: thumbnails(cls, photos, o),
         lambda pool, o: thumbnails_in(pool, photos, o), (), concurrent.futures.ProcessPoolExecutor,
         procpool.ProcessPoolExecutor),
        ("thumbnails", "png-mixed", lambda cls, o: thumbnails(cls, pngs, o),
         lambda pool, o: thumbnails_in(pool, pngs, o), (), concurrent.futures.ProcessPoolExecutor,
         procpool.ProcessPoolExecutor),
        ("squares", "per-core-chunks", lambda cls, o: squares(cls, 30_000_000, cores),
         lambda pool, o: squares_in(pool, 30_000_000, cores), (cores,), multiprocessing.Pool, procpool.Pool),
        ("squares", "2000-chunks", lambda cls, o: squares(cls, 30_000_000, 2000),
         lambda pool, o: squares_in(pool, 30_000_000, 2000), (cores,), multiprocessing.Pool, procpool.Pool),
        ("downloads", "%d-x-10kB-20ms" % len(small), lambda cls, o: downloads(cls, small, o),
         lambda pool, o: downloads_in(pool, small, o), (4,), multiprocessing.Pool, procpool.Pool),
        ("downloads", "%d-x-2MB-0ms" % len(large), lambda cls, o: downloads(cls, large, o),
         lambda pool, o: downloads_in(pool, large, o), (4,), multiprocessing.Pool, procpool.Pool),
    ]
    for program, data, as_written, work, args, stdlib_class, procpool_class in programs:
        for label, cls in (("stdlib", stdlib_class), ("procpool", procpool_class)):
            best = min(timed(as_written, cls, fresh(out, label)) for _ in range(int(rounds)))
            print("%s %s %s %.3f" % (program, data, label, best), flush=True)
            with cls(*args) as pool:
                work(pool, fresh(out, label))  # the workers warm
                best = min(timed(work, pool, fresh(out, label)) for _ in range(int(rounds)))
            print("%s %s %s-started %.3f" % (program, data, label, best), flush=True)


if __name__ == "__main__":
    main()
