#!/usr/bin/env python3
"""A loopback HTTP server for procpool's download tests and benchmarks (aiohttp).

Prints "PORT <n>" on stdout once it listens on 127.0.0.1 (port 0: the kernel picks), then
serves until killed. Every endpoint takes ?delay=MS (wait before answering); --latency-ms
adds that to every request.

  /files/NAME?size=N&type=T   N bytes (default 1000) of deterministic content, type T
                              (default by extension: .jpg image/jpeg, .png image/png,
                              .txt text/plain, else application/octet-stream)
  /                           100 bytes, image/jpeg
  /status/CODE                that status, a short body
  /empty                      200, no body
  /flaky/KEY?fail=N&code=C&retry_after=S
                              the first N requests for KEY answer C (default 503, with
                              Retry-After: S when given), later ones 200 with 100 bytes
  /stall?size=N               announces N bytes, sends half, then sends nothing more
  /huge?size=N&chunked=1      N bytes, without Content-Length when chunked=1
  /redirect/N                 N redirects, then /files/redirected.jpg
  /loop                       redirects to itself
  /goto/NAME?to=URL           redirects to URL (another scheme, another host)
  /jpeg/NAME.jpg?w=W&h=H      a real JPEG photo-like picture (Pillow), W x H (640 x 480)
  /photos/NAME                the file NAME of --photos DIR (kept in memory)
  /listing.json?photos=1      the gallery of every file in --photos DIR
  /listing.json?n=N&html=K&real=1
                              an Imgur-style gallery: {"data": [{"link": ..., "type": ...}]}
                              with N images (real JPEGs with real=1) and K text/html entries
  /bad.json                   not JSON
  /book/NAME.txt?words=N      a plain-text book of N words (a known word distribution)
  /latin1.txt                 text that is not UTF-8
  /header/NAME.txt?h=H        200, text/plain: the request's header H
  /stats                      {"requests": {path: count}, "connections": n}
"""
import argparse
import asyncio
import hashlib
import json
import sys

from aiohttp import web

requests = {}
connections = set()
flaky_counts = {}


def body_bytes(name, size):
    seed = hashlib.sha256(name.encode()).digest()
    reps = size // len(seed) + 1
    return (seed * reps)[:size]


def type_for(name):
    for ext, t in ((".jpg", "image/jpeg"), (".jpeg", "image/jpeg"), (".png", "image/png"), (".txt", "text/plain")):
        if name.lower().endswith(ext):
            return t
    return "application/octet-stream"


BOOK_WORDS = ["the", "whale", "sea", "ship", "captain", "and", "of", "a", "to", "in"]


def book_text(words):
    # word i is BOOK_WORDS[i % 10] except every 7th is "ahab": counts are easy to predict.
    out = []
    for i in range(words):
        out.append("Ahab" if i % 7 == 0 else BOOK_WORDS[i % 10])
    lines = [" ".join(out[i:i + 12]) + ".\n" for i in range(0, len(out), 12)]
    return "".join(lines)


@web.middleware
async def common(request, handler):
    requests[request.path] = requests.get(request.path, 0) + 1
    peer = request.transport.get_extra_info("peername") if request.transport else None
    if peer:
        connections.add(peer)
    delay = int(request.query.get("delay", "0")) + request.app["latency_ms"]
    if delay:
        await asyncio.sleep(delay / 1000)
    return await handler(request)


async def files(request):
    name = request.match_info["name"]
    size = int(request.query.get("size", "1000"))
    return web.Response(body=body_bytes(name, size), content_type=request.query.get("type", type_for(name)))


async def root(request):
    return web.Response(body=body_bytes("root", 100), content_type="image/jpeg")


jpeg_cache = {}


def jpeg_bytes(name, w, h):
    key = (name, w, h)
    if key not in jpeg_cache:
        import io
        from PIL import Image
        seed = hashlib.sha256(name.encode()).digest()
        img = Image.linear_gradient("L").resize((w, h)).convert("RGB")
        img = Image.merge("RGB", [c.point(lambda v, k=k: (v + seed[k]) % 256) for k, c in enumerate(img.split())])
        out = io.BytesIO()
        img.save(out, "JPEG", quality=85)
        jpeg_cache[key] = out.getvalue()
    return jpeg_cache[key]


async def jpeg(request):
    w, h = int(request.query.get("w", "640")), int(request.query.get("h", "480"))
    return web.Response(body=jpeg_bytes(request.match_info["name"], w, h), content_type="image/jpeg")


async def photos(request):
    body = request.app["photos"].get(request.match_info["name"])
    if body is None:
        raise web.HTTPNotFound()
    return web.Response(body=body, content_type="image/jpeg")


async def status(request):
    code = int(request.match_info["code"])
    return web.Response(status=code, text=f"status {code}\n")


async def empty(request):
    return web.Response(status=200, body=b"", content_type="image/jpeg")


async def flaky(request):
    key = request.match_info["key"]
    seen = flaky_counts.get(key, 0)
    flaky_counts[key] = seen + 1
    if seen < int(request.query.get("fail", "1")):
        headers = {}
        if "retry_after" in request.query:
            headers["Retry-After"] = request.query["retry_after"]
        return web.Response(status=int(request.query.get("code", "503")), text="try again\n", headers=headers)
    return web.Response(body=body_bytes(key, 100), content_type="image/jpeg")


async def stall(request):
    size = int(request.query.get("size", "100000"))
    resp = web.StreamResponse(headers={"Content-Type": "image/jpeg", "Content-Length": str(size)})
    await resp.prepare(request)
    await resp.write(body_bytes("stall", size // 2))
    await asyncio.sleep(3600)
    return resp


async def huge(request):
    size = int(request.query.get("size", str(10 << 20)))
    headers = {"Content-Type": "image/jpeg"}
    resp = web.StreamResponse(headers=headers)
    if request.query.get("chunked") == "1":
        resp.enable_chunked_encoding()
    else:
        resp.content_length = size
    await resp.prepare(request)
    block = b"x" * 65536
    sent = 0
    while sent < size:
        n = min(len(block), size - sent)
        await resp.write(block[:n])
        sent += n
    await resp.write_eof()
    return resp


async def redirect(request):
    n = int(request.match_info["n"])
    raise web.HTTPFound("/files/redirected.jpg" if n <= 1 else f"/redirect/{n - 1}")


async def loop(request):
    raise web.HTTPFound("/loop")


async def goto(request):
    raise web.HTTPFound(request.query["to"])


async def listing(request):
    n = int(request.query.get("n", "10"))
    html = int(request.query.get("html", "0"))
    base = f"http://127.0.0.1:{request.app['where']['port']}"
    if request.query.get("photos") == "1":
        names = sorted(request.app["photos"])
        data = [{"id": i, "link": f"{base}/photos/{name}", "type": "image/jpeg"} for i, name in enumerate(names)]
        return web.json_response({"data": data, "success": True, "status": 200})
    where = "jpeg" if request.query.get("real") == "1" else "files"
    data = [{"id": i, "link": f"{base}/{where}/img{i:04d}.jpg", "type": "image/jpeg"} for i in range(n)]
    data += [{"id": n + i, "link": f"{base}/files/page{i}.html", "type": "text/html"} for i in range(html)]
    return web.json_response({"data": data, "success": True, "status": 200})


async def bad_json(request):
    return web.Response(text='{"data": [ {"link": ', content_type="application/json")


async def book(request):
    return web.Response(text=book_text(int(request.query.get("words", "1000"))), content_type="text/plain")


async def latin1(request):
    return web.Response(body="caf\u00e9 na\u00efve\n".encode("latin-1"), content_type="text/plain")


async def header(request):
    return web.Response(text=request.headers.get(request.query.get("h", "Authorization"), ""), content_type="text/plain")


async def stats(request):
    return web.json_response({"requests": requests, "connections": len(connections)})


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--photos", default=None, help="a folder of JPEGs to serve under /photos/")
    args = parser.parse_args()
    app = web.Application(middlewares=[common])
    app["latency_ms"] = args.latency_ms
    app["where"] = {}  # filled once the port is known
    app["photos"] = {}
    if args.photos:
        import os
        for name in os.listdir(args.photos):
            if name.lower().endswith((".jpg", ".jpeg")) and "_thumbnail" not in name:
                with open(os.path.join(args.photos, name), "rb") as f:
                    app["photos"][name] = f.read()
    app.add_routes([
        web.get("/", root), web.get("/files/{name}", files), web.get("/jpeg/{name}", jpeg), web.get("/photos/{name}", photos), web.get("/status/{code}", status), web.get("/empty", empty),
        web.get("/flaky/{key}", flaky), web.get("/stall", stall), web.get("/huge", huge),
        web.get("/redirect/{n}", redirect), web.get("/loop", loop), web.get("/goto/{name}", goto), web.get("/listing.json", listing),
        web.get("/bad.json", bad_json), web.get("/book/{name}", book), web.get("/latin1.txt", latin1),
        web.get("/header/{name}", header), web.get("/stats", stats),
    ])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", args.port, backlog=1024)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    app["where"]["port"] = port
    print(f"PORT {port}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
