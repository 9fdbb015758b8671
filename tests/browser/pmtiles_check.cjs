// pmtiles_check.cjs ARCHIVE CACHE_TILESET_DIR TILES_FILE MINZOOM MAXZOOM
// Reads a PMTiles archive with the `pmtiles` npm package (the format's reference reader) and
// checks it against tileq's cache (tests/integration/test_export.sh):
//  - the header: spec version 3, clustered, gzip directories and tiles, MVT, the zooms;
//  - the metadata: vector_layers naming the demo layers;
//  - every tile of TILES_FILE ("z x y" lines): byte-equal to the cached tile after
//    decompression ({y}.mvt.gz, or a legacy {y}.mvt, plain or gzip), absent for a cached
//    empty tile ({y}.empty).
// Modules from $TQ_BROWSER_MODULES/node_modules. Exit status 0 when everything matched.
"use strict";
const fs = require("fs");
const path = require("path");
const zlib = require("zlib");
const { PMTiles } = require(path.resolve(process.env.TQ_BROWSER_MODULES, "node_modules/pmtiles"));

const [archive, cacheDir, tilesFile, minzoom, maxzoom] = process.argv.slice(2);

// A Source over a local file: the reader asks for byte ranges, as it would over HTTP.
class FileSource {
  constructor(file) {
    this.file = file;
    this.fd = fs.openSync(file, "r");
    this.ranges = 0;
  }
  getKey() {
    return this.file;
  }
  async getBytes(offset, length) {
    const buf = Buffer.alloc(length);
    const n = fs.readSync(this.fd, buf, 0, length, offset);
    this.ranges++;
    return { data: buf.buffer.slice(buf.byteOffset, buf.byteOffset + n) };
  }
}

function fail(msg) {
  console.log("FAIL: " + msg);
  process.exitCode = 1;
}

(async () => {
  const src = new FileSource(archive);
  const p = new PMTiles(src);
  const h = await p.getHeader();
  console.log(
    `header: spec ${h.specVersion}, clustered ${h.clustered}, internal ${h.internalCompression},` +
      ` tile compression ${h.tileCompression}, type ${h.tileType}, z${h.minZoom}-${h.maxZoom},` +
      ` addressed ${h.numAddressedTiles}, entries ${h.numTileEntries}, contents ${h.numTileContents},` +
      ` root ${h.rootDirectoryLength} B, leaves ${h.leafDirectoryLength} B,` +
      ` bounds ${h.minLon},${h.minLat},${h.maxLon},${h.maxLat}, center ${h.centerLon},${h.centerLat} z${h.centerZoom}`
  );
  if (h.specVersion !== 3) fail("spec version " + h.specVersion);
  if (!h.clustered) fail("not clustered");
  if (h.internalCompression !== 2 || h.tileCompression !== 2) fail("not gzip");
  if (h.tileType !== 1) fail("tile type " + h.tileType);
  if (h.minZoom !== Number(minzoom) || h.maxZoom !== Number(maxzoom)) fail("zooms");
  if (127 + h.rootDirectoryLength >= 16384) fail("header + root directory >= 16384 bytes");
  if (!(h.numTileContents < h.numAddressedTiles)) fail("nothing deduplicated");

  const meta = await p.getMetadata();
  const ids = (meta.vector_layers || []).map((l) => l.id).sort();
  console.log("metadata vector_layers: " + ids.join(","));
  for (const want of ["areas", "places", "roads"])
    if (!ids.includes(want)) fail("vector_layers lacks " + want);

  const lines = fs.readFileSync(tilesFile, "utf8").split("\n").filter((l) => l.trim());
  let same = 0, empty = 0;
  for (const line of lines) {
    const [z, x, y] = line.trim().split(/\s+/).map(Number);
    const base = path.join(cacheDir, String(z), String(x), String(y));
    const got = await p.getZxy(z, x, y);
    if (fs.existsSync(base + ".empty")) {
      if (got !== undefined) fail(`${z}/${x}/${y}: empty in the cache, present in the archive`);
      else empty++;
      continue;
    }
    const file = [base + ".mvt.gz", base + ".mvt"].find((f) => fs.existsSync(f));
    if (file === undefined) {
      fail(`${z}/${x}/${y}: not in the cache`);
      continue;
    }
    let want = fs.readFileSync(file);
    if (want[0] === 0x1f && want[1] === 0x8b) want = zlib.gunzipSync(want);
    if (got === undefined) {
      fail(`${z}/${x}/${y}: missing from the archive`);
      continue;
    }
    if (!Buffer.from(got.data).equals(want)) fail(`${z}/${x}/${y}: bytes differ from the cache`);
    else same++;
  }
  console.log(
    `tiles: ${lines.length} checked, ${same} byte-equal to the cache, ${empty} empty (absent);` +
      ` ${src.ranges} range reads`
  );
  if (same + empty !== lines.length) fail("some tiles did not match");
  if (same === 0) fail("no tile with data");
})().catch((e) => fail(e.stack || String(e)));
