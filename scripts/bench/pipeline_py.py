"""The tutorials' whole pipeline, for scripts/bench/pipeline: fetch the gallery listing,
download its links with ThreadPoolExecutor (32 threads), then make thumbnails of the
downloads with ProcessPoolExecutor (Pillow, thumbnail((128, 128))).

Usage: pipeline_py.py LISTING_URL OUT_DIR WORKERS. Prints "tutorial_pipeline <seconds> <images>".
"""
import concurrent.futures as cf
import json
import os
import sys
import time
import urllib.request

from PIL import Image


def get_links(url):
    with urllib.request.urlopen(url) as r:
        data = json.loads(r.read())["data"]
    return [item["link"] for item in data if item.get("type") in ("image/jpeg", "image/png")]


def download(args):
    url, out = args
    path = os.path.join(out, url.rsplit("/", 1)[-1])
    with urllib.request.urlopen(url) as r, open(path, "wb") as f:
        f.write(r.read())
    return path


def make_thumbnail(path):
    stem, ext = os.path.splitext(path)
    with Image.open(path) as img:
        img.thumbnail((128, 128))
        img.save(f"{stem}_thumbnail{ext}")


def main():
    listing, out, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
    os.makedirs(out, exist_ok=True)
    t0 = time.perf_counter()
    links = get_links(listing)
    with cf.ThreadPoolExecutor(32) as ex:
        paths = list(ex.map(download, [(u, out) for u in links]))
    with cf.ProcessPoolExecutor(workers) as ex:
        list(ex.map(make_thumbnail, paths))
    print(f"tutorial_pipeline {time.perf_counter() - t0:.4f} {len(paths)}", flush=True)


if __name__ == "__main__":
    main()
