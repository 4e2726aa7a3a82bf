#!/usr/bin/env python3
"""Thumbnails side by side with Pillow's own, for tests/e2e/pillow_test.cpp.

  pillow_compare.py make DIR         writes the test images into DIR (every PNG colour
                                     type and depth, baseline, progressive, grey and huge
                                     JPEGs, odd aspect ratios)
  pillow_compare.py compare DIR OUT  for each image of DIR and its thumbnail in OUT
                                     (NAME_thumbnail.EXT), makes Pillow's
                                     Image.thumbnail((128, 128)) of the same file and
                                     prints one JSON line: name, both sizes, and the PSNR
                                     (dB) of the two, compared as RGBA
"""
import json
import math
import os
import sys

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageStat


def photo(w, h, seed):
    """A photograph-like picture: smooth colour fields, edges and a little fine detail."""
    im = Image.new("RGB", (w, h))
    draw = ImageDraw.Draw(im)
    for y in range(0, h, max(1, h // 64)):
        t = y / h
        draw.rectangle([0, y, w, y + h // 64 + 1], fill=(int(40 + 180 * t), int(90 + 60 * math.sin(t * 6 + seed)), int(200 - 150 * t)))
    for i in range(12):
        x0 = (seed * 97 + i * 131) % w
        y0 = (seed * 57 + i * 71) % h
        r = max(4, min(w, h) // (4 + i % 5))
        draw.ellipse([x0 - r, y0 - r, x0 + r, y0 + r], fill=((i * 40) % 256, (i * 90 + seed) % 256, (255 - i * 20) % 256))
    for i in range(0, w, max(8, w // 40)):
        draw.line([i, 0, w - i, h], fill=(255, 255, 255), width=max(1, w // 400))
    return im.filter(ImageFilter.GaussianBlur(max(1, min(w, h) // 300)))


def make(d):
    os.makedirs(d, exist_ok=True)
    photo(1000, 667, 1).save(f"{d}/landscape.jpg", quality=90)
    photo(333, 1000, 2).save(f"{d}/portrait.jpg", quality=90)
    photo(1600, 1200, 3).save(f"{d}/progressive.jpg", quality=85, progressive=True)
    photo(800, 600, 4).convert("L").save(f"{d}/grey.jpg", quality=90)
    photo(6000, 4000, 5).save(f"{d}/huge.jpg", quality=80)
    photo(129, 97, 6).save(f"{d}/just-over.jpg", quality=95)
    photo(900, 500, 7).save(f"{d}/rgb.png")
    rgba = photo(640, 480, 8).convert("RGBA")
    rgba.putalpha(photo(640, 480, 9).convert("L"))
    rgba.save(f"{d}/rgba.png")
    photo(700, 700, 10).quantize(64).save(f"{d}/palette.png")
    photo(500, 800, 11).convert("L").save(f"{d}/grey.png")
    photo(640, 400, 12).convert("LA").save(f"{d}/grey-alpha.png")
    photo(300, 200, 13).convert("1").save(f"{d}/bilevel.png")
    grey = photo(480, 640, 14).convert("L")  # to 16 bits: each value v as v * 257
    Image.frombytes("I;16", grey.size, bytes(b for v in grey.tobytes() for b in (v, v))).save(f"{d}/grey16.png")


def to_8_bits(im):
    """A 16-bit grey image as 8-bit RGBA, each value over 257 (Pillow's convert clips)."""
    return im.point(lambda v: v / 257).convert("L").convert("RGBA")


def psnr(a, b):
    diff = ImageChops.difference(a, b)
    stat = ImageStat.Stat(diff)
    n = a.size[0] * a.size[1]
    mse = sum(s / n for s in stat.sum2) / len(stat.sum2)
    return 99.0 if mse == 0 else 10 * math.log10(255 * 255 / mse)


def compare(d, out):
    for name in sorted(os.listdir(d)):
        stem, ext = os.path.splitext(name)
        with Image.open(f"{d}/{name}") as src:
            # A bilevel image: Pillow resizes mode "1" by nearest neighbour only, into
            # black and white specks; procpool's is grey, as Pillow's of the grey image.
            theirs = src.convert("L") if src.mode == "1" else src.copy()
        theirs.thumbnail((128, 128))
        with Image.open(f"{out}/{stem}_thumbnail{ext}") as t:
            ours = to_8_bits(t) if t.mode.startswith("I") else t.convert("RGBA")
        if theirs.mode.startswith("I"):
            theirs = to_8_bits(theirs)
        line = {"name": name, "pillow": list(theirs.size), "procpool": list(ours.size)}
        if theirs.size == ours.size:
            line["psnr"] = round(psnr(theirs.convert("RGBA"), ours), 2)
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        compare(sys.argv[2], sys.argv[3])
