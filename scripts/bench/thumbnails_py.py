"""Pillow on the thumbnail benchmark: sequential, and with ProcessPoolExecutor.

The tutorials' program: Image.open, thumbnail((128, 128)), save as <stem>_thumbnail<ext>.
Prints images/s, the pool's start-up included. Usage: thumbnails_py.py PHOTOS OUT WORKERS
"""
import concurrent.futures as cf
import os
import sys
import time

from PIL import Image

SIZE = (128, 128)


def make_thumbnail(args):
    path, out = args
    stem, ext = os.path.splitext(os.path.basename(path))
    with Image.open(path) as img:
        img.thumbnail(SIZE)
        img.save(os.path.join(out, f"{stem}_thumbnail{ext}"))


def main():
    photos, out, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
    paths = sorted(os.path.join(photos, n) for n in os.listdir(photos) if n.lower().endswith(".jpg"))
    os.makedirs(out, exist_ok=True)
    jobs = [(p, out) for p in paths]
    t0 = time.perf_counter()
    for job in jobs:
        make_thumbnail(job)
    print(f"pillow_sequential_img_per_s {len(jobs) / (time.perf_counter() - t0):.1f}")
    t0 = time.perf_counter()
    with cf.ProcessPoolExecutor(workers) as ex:
        list(ex.map(make_thumbnail, jobs))
    print(f"pillow_ppe_img_per_s {len(jobs) / (time.perf_counter() - t0):.1f}")


if __name__ == "__main__":
    main()
