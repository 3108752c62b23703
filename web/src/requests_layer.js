// Assistance requests on the map, for a signed-in principal who may see them: each at a point on
// its location, or on its country's land when it names none (the service's `map_point`), as a
// badge with the state's symbol and word in the page's language (never colour alone). The
// requests are those GET /api/v1/requests answers this session: the service decides who sees
// what. The console lists the same requests as text. The legend says what each badge means,
// where the requests come from and when they were last read; Enter at the map's cross names
// the requests there (src/map.js).

import { age, dateTime, listOf, t, term } from './i18n.js';
import { el } from './list.js';

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
  constructor(map, { legend = null } = {}) {
    this.map = map; // a maplibregl.Map
    this.data = EMPTY;
    this.added = false;
    this.legend = legend;
    this.legendPart = null;
    this.readAt = null; // when the service last answered
    // "read 2 minutes ago" ages by itself.
    setInterval(() => this.drawLegend(), 30_000);
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
      if (response.ok) this.readAt = new Date();
    } catch {
      // offline: the last drawn requests stay
    }
    this.draw();
  }

  clear() {
    this.data = EMPTY;
    this.readAt = null;
    delete this.map.getContainer().dataset.requestsLoaded;
    this.draw();
  }

  draw() {
    // Read by the tests as "on the map": id:state of every request drawn.
    this.map.getContainer().dataset.requests = this.data.features.map((f) => `${f.id}:${f.properties.state}`).join(' ');
    if (this.added) this.map.getSource('requests').setData(this.data);
    this.drawLegend();
  }

  // The badges in words, the source and how old the requests shown are; gone when signed out.
  drawLegend() {
    if (!this.legend) return;
    if (!this.readAt) {
      this.legendPart?.remove();
      this.legendPart = null;
      return;
    }
    const items = Object.entries(STATE_SYMBOLS).map(([state, symbol]) =>
      el('li', {}, el('span', { class: 'request-sample', 'aria-hidden': 'true' }, symbol), ' ', term('requestState', state)),
    );
    const part = el(
      'section',
      { class: 'layer-legend-part', id: 'requests-legend' },
      el('h4', {}, t('requests.title')),
      el('ul', { class: 'legend-list' }, items),
      el('p', { class: 'layer-source' }, t('requests.source', { age: age(this.readAt), time: dateTime(this.readAt) })),
    );
    if (this.legendPart) this.legendPart.replaceWith(part);
    else this.legend.append(part);
    this.legendPart = part;
  }

  // The requests drawn within `radius` pixels of the map's centre (the keyboard's cross), in
  // words; '' when none is shown at all (signed out).
  describeAt(radius) {
    if (!this.readAt) return '';
    const { width, height } = this.map.getCanvas().getBoundingClientRect();
    const near = this.data.features.filter((f) => {
      const p = this.map.project(f.geometry.coordinates);
      return Math.hypot(p.x - width / 2, p.y - height / 2) <= radius;
    });
    const what = near.length
      ? listOf(near.map((f) => t('requests.item', { title: f.properties.title, state: term('requestState', f.properties.state) })))
      : t('requests.none');
    return t('requests.atCross', { what });
  }
}
