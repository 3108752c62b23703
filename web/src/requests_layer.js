// Assistance requests on the map, for a signed-in principal who may see them: each at a point on
// its location, or on its country's land when it names none (the service's `map_point`), as a
// badge with the state's symbol and word in the page's language (never colour alone). The
// requests are those GET /api/v1/requests answers this session: the service decides who sees
// what. The console lists the same requests as text.

import { term } from './i18n.js';

const EMPTY = { type: 'FeatureCollection', features: [] };
// One shape per state, so a state reads without colour (and in a grey-scale print).
export const STATE_SYMBOLS = {
  open: '○',
  acknowledged: '◐',
  'in-progress': '▶',
  fulfilled: '●',
  closed: '■',
  cancelled: '✕',
};

export function requestFeatures(requests) {
  return {
    type: 'FeatureCollection',
    features: requests
      .filter((r) => Array.isArray(r.map_point))
      .map((r) => ({
        type: 'Feature',
        id: r.id,
        geometry: { type: 'Point', coordinates: r.map_point },
        properties: { id: r.id, state: r.state, title: r.title },
      })),
  };
}

// The badge of a state, drawn on a canvas with the browser's fonts (no glyph server).
function stateBadge(state, ratio = 2) {
  const text = `${STATE_SYMBOLS[state] || '?'} ${term('requestState', state)}`;
  const canvas = document.createElement('canvas');
  const g = canvas.getContext('2d');
  const font = `600 ${12 * ratio}px system-ui, sans-serif`;
  g.font = font;
  const width = Math.ceil(g.measureText(text).width + 12 * ratio);
  const height = 20 * ratio;
  canvas.width = width;
  canvas.height = height;
  g.font = font;
  g.fillStyle = '#ffffff';
  g.strokeStyle = '#1d3557';
  g.lineWidth = 2 * ratio;
  g.beginPath();
  g.roundRect(ratio, ratio, width - 2 * ratio, height - 2 * ratio, 10 * ratio);
  g.fill();
  g.stroke();
  g.fillStyle = '#111111';
  g.textBaseline = 'middle';
  g.textAlign = 'center';
  g.direction = document.documentElement.dir === 'rtl' ? 'rtl' : 'ltr';
  g.fillText(text, width / 2, height / 2 + ratio / 2);
  return { image: g.getImageData(0, 0, width, height), ratio };
}

export class RequestsLayer {
  constructor(map) {
    this.map = map; // a maplibregl.Map
    this.data = EMPTY;
    this.added = false;
    if (map.loaded()) this.add();
    else map.once('load', () => this.add());
  }

  add() {
    const map = this.map;
    for (const state of Object.keys(STATE_SYMBOLS)) {
      const { image, ratio } = stateBadge(state);
      map.addImage(`request-${state}`, image, { pixelRatio: ratio });
    }
    map.addSource('requests', { type: 'geojson', data: this.data, promoteId: 'id' });
    map.addLayer({
      id: 'request-badge',
      type: 'symbol',
      source: 'requests',
      layout: { 'icon-image': ['concat', 'request-', ['get', 'state']], 'icon-allow-overlap': true },
    });
    this.added = true;
    // What MapLibre really drew in the view, once settled (read by the tests, like the alerts').
    map.on('idle', () => {
      const drawn = map.queryRenderedFeatures({ layers: ['request-badge'] });
      map.getContainer().dataset.renderedRequests = [...new Set(drawn.map((f) => f.properties.id))].join(' ');
    });
    this.draw();
  }

  // What this session may see now; an error or no session leaves the layer empty.
  async refresh() {
    try {
      const response = await fetch('/api/v1/requests?limit=200', { credentials: 'same-origin' });
      this.data = response.ok ? requestFeatures((await response.json()).requests) : EMPTY;
      this.map.getContainer().dataset.requestsLoaded = String(response.ok);
    } catch {
      // offline: the last drawn requests stay
    }
    this.draw();
  }

  clear() {
    this.data = EMPTY;
    delete this.map.getContainer().dataset.requestsLoaded;
    this.draw();
  }

  draw() {
    // Read by the tests as "on the map": id:state of every request drawn.
    this.map.getContainer().dataset.requests = this.data.features.map((f) => `${f.id}:${f.properties.state}`).join(' ');
    if (this.added) this.map.getSource('requests').setData(this.data);
  }
}
