#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz/ (corpus/<name>/), from the inputs the unit and
integration tests use. Run it again after changing it; the files are committed, so the
fuzz tests never need Python. Names are the inputs' sha1 (as libFuzzer names its own).

  tests/fuzz/make_corpus.py            # rewrites corpus/*/
"""
import gzip
import hashlib
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def write(name, items):
    d = os.path.join(HERE, "corpus", name)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.unlink(os.path.join(d, f))
    for data in items:
        if isinstance(data, str):
            data = data.encode()
        with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
            f.write(data)
    print(f"corpus/{name}: {len(set(items))} files")


# --- tile paths: the unit tests' targets, good and bad, and the integration tests' tiles
TILE_PATHS = [
    "/demo/0/0/0.mvt", "/my-Tiles_2/14/8190/5447.pbf", "/demo/30/1073741823/1073741823.mvt",
    "/demo/3/1/2.mvt?v=1&x=%20", "/demo/0/1/0.mvt", "/demo/30/1073741824/0.mvt",
    "/demo/31/0/0.mvt", "/demo/01/0/0.mvt", "/demo/4/18446744073709551617/0.mvt",
    "/demo/1/0/0/0.mvt", "/demo/../0/0/0.mvt", "//demo/0/0/0.mvt", "/%2e%2e/0/0/0.mvt",
    "/demo/0/0/0.mvt#x", "/health", "/metrics?x=1", "/catalog", "/", "/demo.json",
    "/slow/14/8306/5636.mvt", "/demo/10/518/352.pbf", "14/8298/5636", "0/0/0", "30/0/01",
    "/" + "a" * 63 + "/1/1/1.mvt", "/" + "a" * 64 + "/1/1/1.mvt",
]

# --- HTTP header values: fields split at '\n' (see fuzz_http.c)
HTTP = [
    "gzip, deflate, br\n\"5-a430d84680aabd0b\"\ntiles.example.com\nhttps\n\n/tiles/\n127.0.0.1:8080\n",
    "br;q=1.0, gzip;q=0.8, *;q=0.1\nW/\"5-a430d84680aabd0b-gz\", \"x\"\nh:81\nHTTPS, http\nproxy.example.org, inner\n/a/b\n\n",
    "identity;q=1, gzip;q=0.5\n*\n[::1]:8080\ngopher\nevil\"/<x>\nno-slash\nfallback:1\n",
    "gzip;q=0.001\n\"0-cbf29ce484222325\"\nbad host\n\n\n/\n\nhttps://maps.example.com/tq/",
    "*;q=0, x-gzip;q=1.000\n\"x\" , \"y\"\n\n\n\n\n\n",
    " gzip ; q=0.5 ;level=9\n",
    ",,gzip,,\n\"\"\n",
    "gzip;q=abc, deflate\nW/\"\",*\n",
    # fields 8 and 9: a peer and X-Forwarded-For (tq_proxy_view)
    "\n\n\n\n\n\n\n\n127.0.0.1\n198.51.100.4, 10.1.2.3",
    "\n\n\n\n\n\n\n\n10.0.0.5\n127.0.0.1, junk, 10.0.0.1,fd00::1",
    "\n\n\n\n\n\n\n\n::ffff:127.0.0.1\n203.0.113.7:80,,",
    "\n\n\n\n\n\n\n\n203.0.113.9\n127.0.0.1",
]
HTTP_BIN = [gzip.compress(b"hello tile", mtime=0), gzip.compress(b"", mtime=0),
            gzip.compress(b"\x1a\x02x" * 40, mtime=0)[:30]]


# --- jobs: msgpack maps as tq_job_encode writes them, and broken ones from the unit tests
def mp(o):
    if isinstance(o, bool):
        return b"\xc3" if o else b"\xc2"
    if isinstance(o, int):
        if 0 <= o < 0x80:
            return bytes([o])
        if o < 0:
            return b"\xd3" + struct.pack(">q", o)
        return b"\xcf" + struct.pack(">Q", o)
    if isinstance(o, str):
        b = o.encode()
        return (bytes([0xa0 | len(b)]) if len(b) < 32 else b"\xd9" + bytes([len(b)])) + b
    if isinstance(o, list):  # [(k, v), ...] keeps order and allows duplicates
        return bytes([0x80 | len(o)]) + b"".join(mp(k) + mp(v) for k, v in o)
    raise TypeError(o)


def job(ts="demo", z=14, mx=8296, my=5632, n=8, cls="interactive", why="request",
        at=1714557600000, first=None, extra=()):
    kv = [("v", 1), ("ts", ts), ("z", z), ("mx", mx), ("my", my), ("n", n), ("cls", cls),
          ("why", why), ("at", at)]
    if first:
        kv += [("fx", first[0]), ("fy", first[1])]
    return mp(kv + list(extra))


JOBS = [
    job(), job(first=(8298, 5636)), job(ts="my-Tiles_2", z=0, mx=0, my=0, n=1, cls="bulk", why="warm"),
    job(z=1, mx=0, my=0, n=8, cls="dirty", why="expire", at=-5),
    job(z=30, mx=1073741816, my=1073741816, n=8, why="retry", first=(1073741823, 1073741823)),
    job(n=64, mx=8256, my=5632), job(extra=[("zz", "ignored")]), job(ts="a" * 63),
    job(n=3, mx=8295, my=5631), job(first=(1, 2)), job(extra=[("v", 1)]),
    b"\xdf\xff\xff\xff\xff", b"\x81\xdf\xff\xff\xff\xff\x00", b"\xc6\x7f\xff\xff\xff", b"\x90",
    b"\xc1", b"\x80", b"", "interactive", "retry",
]


# --- PostgreSQL logs: byte 0 is the mode (see fuzz_pglog.c), the rest the unit test logs
def pglog_items():
    items = []
    d = os.path.join(ROOT, "tests", "unit", "data", "pglog")
    for f in sorted(os.listdir(d)):
        if f.endswith(".gz"):
            continue
        with open(os.path.join(d, f), "rb") as fh:
            text = fh.read()
        items.append(b"\x00" + text)  # as it is
        items.append(b"\x0c" + text)  # metatile 8
    lines = [
        b"LOG:  duration: 12.5 ms  statement: SELECT ST_AsMVT(q) FROM roads WHERE geom && ST_TileEnvelope(14, 8298, 5636)",
        b"LOG:  duration: 0.5 ms  parse S_1: SELECT 1 FROM pts WHERE geom && ST_TileEnvelope($1, $2, $3)\n"
        b"LOG:  duration: 9 ms  execute S_1: SELECT 1 FROM pts WHERE geom && ST_TileEnvelope($1, $2, $3)\n"
        b"DETAIL:  parameters: $1 = '10', $2 = '518', $3 = '352'",
        b"LOG:  statement: SELECT * FROM \"My Table\" t JOIN b ON true WHERE g && ST_MakeEnvelope(0, 0, 20037508.342789244, 20037508.342789244, 3857)\n"
        b"LOG:  duration: 3.000 ms",
        b"LOG:  duration: 40.500 ms  statement: SELECT geom\n\tFROM planet_osm_point\n\tWHERE way && ST_SetSRID('BOX3D(-1956.78 5946678.50,315042.85 6263678.14)'::box3d, 3857)",
        b"LOG:  duration: 7 ms  statement: WITH a AS (SELECT 1) SELECT x FROM a, s.t WHERE g && ST_TileEnvelope(3, 4, 2)|parameters: $1 = NULL",
    ]
    for mode in (1, 2, 3, 0x1d, 0x26):
        for text in lines:
            items.append(bytes([mode]) + text)
    # one backend (log_statement then a bare duration), ten backends (past the reader's slots)
    items.append(b"\x41" + lines[2])
    items.append(b"\x82" + b"\n".join(b"LOG:  duration: %d ms  statement: SELECT 1 FROM t%d WHERE g && "
                                     b"ST_TileEnvelope(2, 1, %d)" % (i, i, i % 4) for i in range(12)))
    items.append(b"\x00" + b"DELETE FROM a USING b WHERE x IS DISTINCT FROM y AND "
                 b"extract(epoch FROM now()) > 0 AND g && ST_TileEnvelope(0, 0, 0)")
    return items


def main():
    write("tile_path", TILE_PATHS)
    write("http", HTTP + HTTP_BIN)
    write("job", JOBS)
    write("pglog", pglog_items())
    return 0


if __name__ == "__main__":
    sys.exit(main())
