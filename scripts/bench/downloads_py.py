"""The tutorials' ways to download many files, for scripts/bench/downloads.

Usage: downloads_py.py URL_FILE OUT_DIR SEQUENTIAL_COUNT
Prints "<name> <seconds> <files>" lines: urllib sequential (over the first
SEQUENTIAL_COUNT URLs only: at 20 ms each the whole list takes long), ThreadPoolExecutor
with 8 and 32 threads (urllib), and asyncio + aiohttp with 64 connections.
"""
import asyncio
import concurrent.futures
import os
import sys
import time
import urllib.request

import aiohttp


def save(url, out_dir, body):
    with open(os.path.join(out_dir, url.rsplit("/", 1)[-1]), "wb") as f:
        f.write(body)


def fetch(url, out_dir):
    with urllib.request.urlopen(url) as r:
        save(url, out_dir, r.read())


def sequential(urls, out_dir):
    for u in urls:
        fetch(u, out_dir)


def threads(urls, out_dir, n):
    with concurrent.futures.ThreadPoolExecutor(max_workers=n) as ex:
        list(ex.map(lambda u: fetch(u, out_dir), urls))


async def aio(urls, out_dir, connections):
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections)) as session:
        async def one(u):
            async with session.get(u) as r:
                save(u, out_dir, await r.read())
        await asyncio.gather(*(one(u) for u in urls))


def timed(name, urls, fn):
    start = time.perf_counter()
    fn()
    print(f"{name} {time.perf_counter() - start:.4f} {len(urls)}", flush=True)


def main():
    urls = [line.strip() for line in open(sys.argv[1]) if line.strip()]
    out_dir = sys.argv[2]
    seq = int(sys.argv[3])
    os.makedirs(out_dir, exist_ok=True)
    if seq > 0:
        timed("urllib_sequential", urls[:seq], lambda: sequential(urls[:seq], out_dir))
    timed("threadpool_8", urls, lambda: threads(urls, out_dir, 8))
    timed("threadpool_32", urls, lambda: threads(urls, out_dir, 32))
    timed("aiohttp_64", urls, lambda: asyncio.run(aio(urls, out_dir, 64)))


main()
