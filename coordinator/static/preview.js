// tileq preview map: /map/{tileset} → TileJSON ../{tileset}.json → one vector source and,
// per vector layer, a fill, a line and a circle style layer filtered by geometry type.
// ?pmtiles=URL: a PMTiles archive (tileq export) instead, through the pmtiles package's
// MapLibre protocol (HTTP range requests; its TileJSON from the archive's header/metadata).
// State for tests (tests/browser): window.tq = { map, tileErrors: [], ready: bool }.
'use strict';
(function () {
  const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b',
                   '#e377c2', '#17becf', '#bcbd22', '#7f7f7f'];
  const tileset = decodeURIComponent(location.pathname.replace(/\/+$/, '').split('/').pop());
  const tq = window.tq = { map: null, tileErrors: [], ready: false, error: null };
  const $ = (id) => document.getElementById(id);
  $('name').textContent = tileset;
  document.title = 'tileq · ' + tileset;

  function fail(msg) {
    tq.error = msg;
    $('status').textContent = msg;
  }

  if (typeof maplibregl === 'undefined') {
    fail('MapLibre GL JS is not installed (npm was missing when tileq was built).');
    return;
  }
  let tilejsonUrl = new URL('../' + encodeURIComponent(tileset) + '.json', location.href).href;
  const archive = new URLSearchParams(location.search).get('pmtiles');

  if (archive) {
    if (typeof pmtiles === 'undefined') {
      fail('pmtiles is not installed (npm was missing when tileq was built).');
      return;
    }
    const url = new URL(archive, location.href).href;
    const protocol = new pmtiles.Protocol();
    maplibregl.addProtocol('pmtiles', protocol.tile);
    const p = new pmtiles.PMTiles(url);
    protocol.add(p);
    tilejsonUrl = 'pmtiles://' + url;
    tq.pmtiles = url;
    Promise.all([p.getHeader(), p.getMetadata()]).then(([h, meta]) => start({
      vector_layers: meta.vector_layers || [],
      center: [h.centerLon, h.centerLat, h.centerZoom],
      minzoom: h.minZoom,
    })).catch((e) => fail(String(e)));
  } else {
    fetch(tilejsonUrl).then((r) => {
      if (!r.ok) throw new Error('TileJSON: HTTP ' + r.status);
      return r.json();
    }).then(start).catch((e) => fail(String(e)));
  }

  function styleLayers(vl, color) {
    const id = vl.id;
    const base = { source: 'tq', 'source-layer': id, minzoom: vl.minzoom, maxzoom: (vl.maxzoom ?? 22) + 1 };
    const polygon = ['==', ['geometry-type'], 'Polygon'];
    const line = ['==', ['geometry-type'], 'LineString'];
    const point = ['==', ['geometry-type'], 'Point'];
    return [
      Object.assign({ id: id + '-fill', type: 'fill', filter: polygon,
        paint: { 'fill-color': color, 'fill-opacity': 0.25, 'fill-outline-color': color } }, base),
      Object.assign({ id: id + '-line', type: 'line', filter: ['any', line, polygon],
        paint: { 'line-color': color, 'line-width': ['case', line, 1.5, 0.7] } }, base),
      Object.assign({ id: id + '-circle', type: 'circle', filter: point,
        paint: { 'circle-color': color, 'circle-radius': 3, 'circle-stroke-color': '#fff',
                 'circle-stroke-width': 0.5 } }, base),
    ];
  }

  function start(tj) {
    const layers = [{ id: 'background', type: 'background', paint: { 'background-color': '#f4f1ea' } }];
    const legend = $('legend');
    (tj.vector_layers || []).forEach((vl, i) => {
      const color = PALETTE[i % PALETTE.length];
      layers.push(...styleLayers(vl, color));
      const row = document.createElement('div');
      const sw = document.createElement('span');
      sw.className = 'swatch';
      sw.style.background = color;
      row.appendChild(sw);
      row.appendChild(document.createTextNode(vl.id + ' (' + Object.keys(vl.fields || {}).join(', ') + ')'));
      legend.appendChild(row);
    });
    const center = tj.center || [0, 0, tj.minzoom || 0];
    const map = tq.map = new maplibregl.Map({
      container: 'map',
      style: { version: 8, sources: { tq: { type: 'vector', url: tilejsonUrl } }, layers },
      center: [center[0], center[1]],
      zoom: center[2],
      attributionControl: false,
      hash: true,
    });
    map.addControl(new maplibregl.NavigationControl(), 'top-right');
    map.on('error', (e) => {
      const msg = (e.error && e.error.message) || String(e.error || e);
      if (e.sourceId === 'tq' || e.tile) tq.tileErrors.push(msg);
      fail(msg);
    });
    map.on('idle', () => { tq.ready = true; });
    const ids = layers.filter((l) => l.source).map((l) => l.id);
    map.on('click', (e) => {
      const feats = map.queryRenderedFeatures(e.point, { layers: ids });
      const info = $('info');
      info.textContent = '';
      if (!feats.length) {
        info.innerHTML = '<small>No feature here.</small>';
        return;
      }
      const f = feats[0];
      const h = document.createElement('b');
      h.textContent = f.sourceLayer + ' (' + f.geometry.type + ')';
      info.appendChild(h);
      const table = document.createElement('table');
      for (const [k, v] of Object.entries(f.properties)) {
        const tr = table.insertRow();
        tr.insertCell().textContent = k;
        tr.insertCell().textContent = String(v);
      }
      info.appendChild(table);
      tq.lastClicked = { layer: f.sourceLayer, properties: f.properties };
    });
    map.on('mousemove', (e) => {
      map.getCanvas().style.cursor =
        map.queryRenderedFeatures(e.point, { layers: ids }).length ? 'pointer' : '';
    });
  }
})();
