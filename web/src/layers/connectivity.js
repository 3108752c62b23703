// The connectivity layers on the map: cell sites (a grid far out, points close in, their status
// marked), operators' outage reports, Ookla's measured performance of one quarter against an
// earlier one, and cable landings. A layer's data is asked for only while it is on, for the view
// at its zoom (the service aggregates: never one huge GeoJSON), again when the view leaves the
// box last asked for.

import { CHANGES, SPEEDS, addImages, changeOf, speedOf } from './symbols.js';

const EMPTY = { type: 'FeatureCollection', features: [] };
// The alerts stay above every connectivity layer.
const BELOW = 'alert-fill';

export const LAYERS = {
  sites: { kind: 'opencellid', attribution: 'OpenCelliD (CC BY-SA 4.0)' },
  outages: { kind: null, attribution: '' },
  performance: { kind: 'ookla', attribution: 'Ookla Speedtest Intelligence open data (CC BY-NC-SA 4.0)' },
  landings: { kind: 'cables', attribution: 'TeleGeography Submarine Cable Map 2022 (CC BY-NC-SA 3.0)' },
};

const isGrid = ['has', 'count'];
const isPolygon = ['match', ['geometry-type'], ['Polygon', 'MultiPolygon'], true, false];

function styleLayers(name) {
  const source = `layer-${name}`;
  if (name === 'sites') {
    return [
      {
        id: 'sites-grid',
        type: 'fill',
        source,
        filter: isGrid,
        paint: {
          'fill-color': '#0b3d6b',
          'fill-opacity': ['interpolate', ['linear'], ['ln', ['+', 1, ['get', 'count']]], 0, 0.08, 9, 0.6],
          'fill-outline-color': '#0b3d6b',
        },
      },
      {
        id: 'sites-grid-outage',
        type: 'fill',
        source,
        filter: ['all', isGrid, ['>', ['+', ['get', 'down'], ['get', 'degraded']], 0]],
        paint: { 'fill-pattern': ['case', ['>', ['get', 'down'], 0], 'outage-down', 'outage-degraded'] },
      },
      {
        id: 'sites-points',
        type: 'symbol',
        source,
        filter: ['!', isGrid],
        layout: {
          'icon-image': ['concat', 'site-', ['get', 'status']],
          'icon-allow-overlap': true,
          // Down above degraded above up: an outage is never hidden under working sites.
          'symbol-sort-key': ['match', ['get', 'status'], 'down', 2, 'degraded', 1, 0],
        },
      },
    ];
  }
  if (name === 'outages') {
    return [
      {
        id: 'outages-fill',
        type: 'fill',
        source,
        filter: isPolygon,
        paint: { 'fill-pattern': ['concat', 'outage-', ['get', 'state']] },
      },
      {
        id: 'outages-line',
        type: 'line',
        source,
        filter: isPolygon,
        paint: {
          'line-color': ['match', ['get', 'state'], 'down', '#b00020', 'degraded', '#8a5300', '#1b5e20'],
          'line-width': 2.5,
          'line-dasharray': ['match', ['get', 'state'], 'up', ['literal', [1, 2]], ['literal', [4, 2]]],
        },
      },
      {
        id: 'outages-sites',
        type: 'symbol',
        source,
        filter: ['!', isPolygon],
        layout: { 'icon-image': ['concat', 'site-', ['get', 'state']], 'icon-allow-overlap': true },
      },
    ];
  }
  if (name === 'performance') {
    return [
      {
        id: 'performance-fill',
        type: 'fill',
        source,
        filter: ['has', 'speed'],
        paint: { 'fill-pattern': ['concat', 'speed-', ['get', 'speed'], '-', ['get', 'change']], 'fill-opacity': 0.85 },
      },
      { id: 'performance-line', type: 'line', source, paint: { 'line-color': '#555', 'line-width': 0.4 } },
    ];
  }
  return [
    {
      id: 'landings-grid',
      type: 'fill',
      source,
      filter: isGrid,
      paint: { 'fill-color': '#1a237e', 'fill-opacity': 0.35, 'fill-outline-color': '#1a237e' },
    },
    {
      id: 'landings-points',
      type: 'symbol',
      source,
      filter: ['!', isGrid],
      layout: { 'icon-image': 'landing', 'icon-allow-overlap': true },
    },
  ];
}

// Box of the view, a quarter larger on every side, snapped to a grid of the zoom, so small
// moves ask nothing and views near each other ask the same URL (the browser revalidates it).
function viewBox(map) {
  const b = map.getBounds();
  const zoom = Math.floor(map.getZoom());
  const step = 90 / 2 ** Math.min(zoom, 12);
  const pad = Math.max(b.getEast() - b.getWest(), b.getNorth() - b.getSouth()) / 4;
  const down = (v) => Math.floor(v / step) * step;
  const up = (v) => Math.ceil(v / step) * step;
  let west = down(b.getWest() - pad);
  let east = up(b.getEast() + pad);
  if (east - west >= 360) {
    west = -180;
    east = 180;
  } else {
    // Into -180..180; across the antimeridian west > east (RFC 7946 §5).
    west = ((((west + 180) % 360) + 360) % 360) - 180;
    east = ((((east + 180) % 360) + 360) % 360) - 180;
    if (east === -180) east = 180;
  }
  const box = [west, Math.max(-90, down(b.getSouth() - pad)), east, Math.min(90, up(b.getNorth() + pad))];
  return { zoom, box: box.map((v) => Number(v.toFixed(6))) };
}

function covers(outer, map) {
  if (!outer) return false;
  const b = map.getBounds();
  const [w, s, e, n] = outer.box;
  return outer.zoom === Math.floor(map.getZoom()) && w <= e && b.getWest() >= w && b.getEast() <= e && b.getSouth() >= s && b.getNorth() <= n;
}

// Performance features carry their speed class and change for the fill pattern.
function classify(collection) {
  for (const f of collection.features) {
    const speed = speedOf(f.properties.download_mbps);
    if (speed) f.properties.speed = speed;
    f.properties.change = changeOf(f.properties.download_change);
  }
  return collection;
}

export class ConnectivityLayers {
  constructor(map, { onData }) {
    this.map = map;
    this.onData = onData; // (name, {collection} | {error} | {loading})
    this.on = new Set();
    this.asked = {}; // name -> {zoom, box, url}
    this.shown = {}; // name -> the collection the map draws (for what is at a point: control.js)
    this.options = { asOf: null, period: null, baseline: null };
    addImages(map);
    for (const name of Object.keys(LAYERS)) {
      map.addSource(`layer-${name}`, { type: 'geojson', data: EMPTY, attribution: LAYERS[name].attribution || undefined });
      for (const layer of styleLayers(name)) {
        map.addLayer({ ...layer, layout: { ...(layer.layout || {}), visibility: 'none' } }, map.getLayer(BELOW) ? BELOW : undefined);
      }
    }
    map.on('moveend', () => this.refresh());
  }

  ids(name) {
    return styleLayers(name).map((l) => l.id);
  }

  set(name, visible) {
    if (visible) this.on.add(name);
    else this.on.delete(name);
    for (const id of this.ids(name)) this.map.setLayoutProperty(id, 'visibility', visible ? 'visible' : 'none');
    if (!visible) {
      this.map.getSource(`layer-${name}`).setData(EMPTY);
      delete this.asked[name];
      delete this.shown[name];
    }
    this.refresh();
  }

  setOptions(options) {
    Object.assign(this.options, options);
    this.asked = {};
    this.refresh();
  }

  url(name, zoom, box) {
    const q = new URLSearchParams({ bbox: box.join(',') });
    if (name === 'outages') {
      if (this.options.asOf) q.set('as_of', this.options.asOf);
      return `/api/v1/network-status?${q}`;
    }
    q.set('zoom', String(zoom));
    q.set('limit', name === 'landings' ? '5000' : '2000');
    if (name === 'sites' && this.options.asOf) q.set('as_of', this.options.asOf);
    if (name === 'performance') {
      if (this.options.period) q.set('period', this.options.period);
      if (this.options.baseline) q.set('baseline', this.options.baseline);
    }
    return `/api/v1/layers/${LAYERS[name].kind}?${q}`;
  }

  // The data changed at the source (an outage reported: the event streams say so): the layers
  // named that are on are asked for again for the same view, bypassing the browser's copy.
  reload(names) {
    for (const name of names) {
      if (!this.on.has(name)) continue;
      const { zoom, box } = viewBox(this.map);
      const url = this.url(name, zoom, box);
      this.asked[name] = { zoom, box, url };
      this.load(name, url, 'no-cache');
    }
  }

  refresh() {
    for (const name of this.on) {
      if (covers(this.asked[name], this.map)) continue;
      const { zoom, box } = viewBox(this.map);
      const url = this.url(name, zoom, box);
      this.asked[name] = { zoom, box, url };
      this.load(name, url);
    }
  }

  async load(name, url, cache = 'default') {
    this.onData(name, { loading: true });
    try {
      const response = await fetch(url, { credentials: 'same-origin', cache });
      if (this.asked[name]?.url !== url) return; // a newer view was asked for meanwhile
      const body = await response.json();
      if (!response.ok) {
        delete this.asked[name];
        this.onData(name, { error: body.errors?.[0]?.message || body.title || String(response.status) });
        return;
      }
      const collection = name === 'performance' ? classify(body) : body;
      this.map.getSource(`layer-${name}`).setData(collection);
      this.shown[name] = collection;
      // Offline, the service worker answers with the copy it kept, saying when (sw.js).
      this.onData(name, { collection, storedAt: response.headers.get('X-Tampere-Stored-At') });
    } catch (error) {
      if (this.asked[name]?.url === url) delete this.asked[name];
      this.onData(name, { error: error.message });
    }
  }
}

export { SPEEDS, CHANGES };
