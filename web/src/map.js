// The map: MapLibre GL JS on the base the service names (src/basemap.js: its own country
// boundaries, imported PMTiles archives, or a configured style URL; no glyph or sprite server
// otherwise: the overlay has no text layer, and its patterns and badges are drawn here on a
// canvas), the active alerts filled by severity with a pattern and a worded badge, outlined by
// urgency. Keyboard: MapLibre's own (arrows pan, + and - zoom) and Enter to open the alerts
// under the cross in the middle.

import maplibregl from 'maplibre-gl';
import 'maplibre-gl/dist/maplibre-gl.css';
import { dateTime, t, term } from './i18n.js';
import { SEVERITIES, SEVERITY_STYLE, URGENCIES, URGENCY_STYLE, drawPattern, severityOf, urgencyOf } from './legend.js';
import { DETAIL_ZOOM_STEPS } from './alerts.js';
import { el } from './list.js';
import { COUNTRIES as BASEMAP, baseStyle, loadBasemap } from './basemap.js';
import { startLayers } from './layers/control.js';

const DETAIL_ZOOM = 5; // from here the service sends boundaries for a box (service/webapp/basemap.py)
const EMPTY = { type: 'FeatureCollection', features: [] };

export async function startMap({ container, legend, help, onOpen, onZoom, detailUrl }) {
  const reduceMotion = window.matchMedia('(prefers-reduced-motion: reduce)').matches;
  const base = baseStyle(await loadBasemap());
  const overlay = style();
  const map = new maplibregl.Map({
    container,
    // A style from elsewhere loads whole; the alerts go on top once it has (below).
    style: base.url || { ...overlay, sources: { ...base.sources, ...overlay.sources }, layers: [...base.layers, ...overlay.layers] },
    center: [20, 10],
    zoom: 1.3,
    minZoom: 0,
    maxZoom: 14,
    attributionControl: false,
    fadeDuration: reduceMotion ? 0 : 300,
    dragRotate: false,
    pitchWithRotate: false,
    touchPitch: false,
  });
  map.touchZoomRotate.disableRotation();
  map.keyboard.disableRotation();
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  // The attribution names the base and says whether the alerts are live (setAlertsState).
  let attribution = new maplibregl.AttributionControl({ compact: true, customAttribution: base.source });
  map.addControl(attribution);
  if (base.url) {
    map.once('style.load', () => {
      for (const [id, source] of Object.entries(overlay.sources)) map.addSource(id, source);
      for (const layer of overlay.layers) map.addLayer(layer);
    });
  }
  const canvas = map.getCanvas();
  canvas.setAttribute('aria-label', t('map.label'));
  canvas.setAttribute('role', 'application');
  canvas.setAttribute('aria-describedby', help.id);
  canvas.tabIndex = 0;
  // The localized control titles ("Zoom in") come from MapLibre's English defaults otherwise.
  for (const button of container.querySelectorAll('.maplibregl-ctrl-zoom-in, .maplibregl-ctrl-zoom-out')) {
    const key = button.classList.contains('maplibregl-ctrl-zoom-in') ? '+' : '−';
    button.setAttribute('aria-label', `${t('map.title')}: ${key}`);
    button.title = `${t('map.title')}: ${key}`;
  }
  const cross = el('div', { class: 'map-cross', 'aria-hidden': 'true' });
  const announce = el('p', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite' });
  container.append(cross, announce);
  drawLegend(legend);
  // The connectivity layers' control (web/src/layers/), before the legend it adds to.
  const layersRoot = el('div', { class: 'layers', id: 'layers' });
  legend.before(layersRoot);

  const api = new MapView(map, { reduceMotion, announce, onOpen, onZoom, detailUrl });
  // The alerts' part of the attribution: live, or how old what is shown is. MapLibre reads a
  // control's text once, so a changed text is a new control (rare: when the state changes).
  let alertsText = '';
  api.setAlertsState = (text) => {
    if (text === alertsText) return;
    alertsText = text;
    map.removeControl(attribution);
    attribution = new maplibregl.AttributionControl({ compact: true, customAttribution: [base.source, text].filter(Boolean).join(' ') });
    map.addControl(attribution);
  };
  map.on('load', () => {
    performance.mark('tampere:map-style'); // for bench/web.py: the style and base map in
    api.ready();
    startLayers(map, { root: layersRoot, legend }).then((control) => {
      api.layers = control;
    });
  });
  canvas.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      api.openAtCentre();
    }
  });
  return api;
}

// The alerts over the base (src/basemap.js).
function style() {
  return {
    version: 8,
    // No "glyphs" and no "sprite": nothing here needs a server of fonts or icons.
    sources: {
      alerts: { type: 'geojson', data: EMPTY, promoteId: 'id' },
      selected: { type: 'geojson', data: EMPTY },
    },
    layers: [
      {
        id: 'alert-fill',
        type: 'fill',
        source: 'alerts',
        paint: { 'fill-color': bySeverity((s) => SEVERITY_STYLE[s].color), 'fill-opacity': 0.22 },
      },
      {
        id: 'alert-pattern',
        type: 'fill',
        source: 'alerts',
        filter: ['!=', ['get', 'severityKey'], 'Unknown'],
        paint: { 'fill-pattern': ['concat', 'pattern-', ['get', 'severityKey']], 'fill-opacity': 0.75 },
      },
      ...URGENCIES.map((u) => ({
        id: `alert-outline-${u}`,
        type: 'line',
        source: 'alerts',
        filter: ['==', ['get', 'urgencyKey'], u],
        paint: {
          'line-color': bySeverity((s) => SEVERITY_STYLE[s].color),
          'line-width': URGENCY_STYLE[u].width,
          'line-dasharray': URGENCY_STYLE[u].dash,
        },
      })),
      { id: 'selected-line', type: 'line', source: 'selected', paint: { 'line-color': '#000', 'line-width': 3 } },
      {
        id: 'alert-badge',
        type: 'symbol',
        source: 'alerts',
        layout: { 'icon-image': ['concat', 'badge-', ['get', 'severityKey']], 'icon-allow-overlap': false, 'symbol-sort-key': ['get', 'rank'] },
      },
    ],
  };
}

function bySeverity(value) {
  return ['match', ['get', 'severityKey'], ...SEVERITIES.slice(0, -1).flatMap((s) => [s, value(s)]), value('Unknown')];
}

// A badge with the severity's word in the page's language, drawn on a canvas (the browser's
// own fonts shape Arabic and Chinese), so the map needs no glyph server.
function badge(severity, ratio = 2) {
  const text = term('severity', severity);
  const canvas = document.createElement('canvas');
  const g = canvas.getContext('2d');
  const font = `600 ${12 * ratio}px system-ui, sans-serif`;
  g.font = font;
  const width = Math.ceil(g.measureText(text).width + 28 * ratio);
  const height = 20 * ratio;
  canvas.width = width;
  canvas.height = height;
  g.font = font;
  g.fillStyle = '#ffffff';
  g.strokeStyle = SEVERITY_STYLE[severity].color;
  g.lineWidth = 2 * ratio;
  g.beginPath();
  g.roundRect(ratio, ratio, width - 2 * ratio, height - 2 * ratio, 4 * ratio);
  g.fill();
  g.stroke();
  g.drawImage(drawPattern(severity, 12, ratio), 5 * ratio, 4 * ratio, 12 * ratio, 12 * ratio);
  g.fillStyle = '#111111';
  g.textBaseline = 'middle';
  g.direction = document.documentElement.dir === 'rtl' ? 'rtl' : 'ltr';
  g.textAlign = 'left';
  if (g.direction === 'rtl') {
    g.textAlign = 'right';
    g.fillText(text, width - 6 * ratio, height / 2 + ratio / 2);
  } else {
    g.fillText(text, 21 * ratio, height / 2 + ratio / 2);
  }
  return { image: g.getImageData(0, 0, width, height), ratio };
}

function drawLegend(legend) {
  const item = (key, sample) => el('li', {}, sample, ' ', key);
  legend.replaceChildren(
    el('h3', {}, t('map.legend')),
    el('p', {}, t('map.fill')),
    el(
      'ul',
      { class: 'legend-list' },
      SEVERITIES.map((s) =>
        item(term('severity', s), el('span', { class: `swatch sev-${s}`, style: `background-image:url(${drawPattern(s).toDataURL()})`, 'aria-hidden': 'true' })),
      ),
    ),
    el('p', {}, t('map.outline')),
    el(
      'ul',
      { class: 'legend-list' },
      URGENCIES.map((u) => item(term('urgency', u), el('span', { class: `line-sample urg-${u}`, 'aria-hidden': 'true' }))),
    ),
  );
}

class MapView {
  constructor(map, { reduceMotion, announce, onOpen, onZoom, detailUrl }) {
    this.map = map;
    this.detailUrl = detailUrl;
    this.listed = [];
    this.detail = null; // {key, box, features}: the view's areas in detail, from DETAIL_ZOOM_STEPS[0]
    this.detailAsked = null;
    this.reduceMotion = reduceMotion;
    this.announce = announce;
    this.onOpen = onOpen;
    this.onZoom = onZoom;
    this.loaded = false;
    this.pending = null;
    this.bandKey = 'world-0';
    this.drawn = 0; // how many alerts the map holds now
  }

  ready() {
    const map = this.map;
    for (const s of SEVERITIES) {
      const pattern = drawPattern(s, 16, 2);
      map.addImage(`pattern-${s}`, pattern.getContext('2d').getImageData(0, 0, pattern.width, pattern.height), { pixelRatio: 2 });
      const { image, ratio } = badge(s);
      map.addImage(`badge-${s}`, image, { pixelRatio: ratio });
    }
    this.loaded = true;
    for (const layer of ['alert-fill', 'alert-pattern', 'alert-badge']) {
      map.on('click', layer, (event) => this.openFeatures(event.features));
      map.on('mouseenter', layer, () => (map.getCanvas().style.cursor = 'pointer'));
      map.on('mouseleave', layer, () => (map.getCanvas().style.cursor = ''));
    }
    map.on('moveend', () => {
      this.basemapForView();
      this.detailForView();
    });
    map.on('zoomend', () => this.onZoom?.(map.getZoom()));
    // What is drawn, once the map has settled: the alerts really rendered in the view (read by
    // the tests and the benchmark as "on the map", by nothing else).
    map.on('idle', () => {
      const drawn = map.queryRenderedFeatures({ layers: ['alert-fill'] });
      map.getContainer().dataset.drawnIds = [...new Set(drawn.map((f) => f.properties.id))].join(' ');
      // For bench/web.py: when alerts were first drawn.
      if (drawn.length && !performance.getEntriesByName('tampere:map').length) performance.mark('tampere:map');
    });
    if (this.pending) this.setAlerts(this.pending);
    else this.draw();
    // The alerts known when the map opens frame it: a responder opens it to see them. Alerts
    // arriving later never move the map under the reader's hands.
    const areas = this.listed.filter((f) => f.geometry).map((f) => f.geometry);
    if (areas.length) this.frame(areas, 6);
    this.map.getContainer().dataset.ready = 'true';
  }

  // Boundaries for the view: the whole world below DETAIL_ZOOM, else a box around the view
  // (snapped to 5 degrees, with a margin, so panning rarely asks again).
  basemapForView() {
    if (!this.map.getSource('countries')) return; // an imported or configured base map
    const zoom = this.map.getZoom();
    let url;
    let key;
    if (zoom < DETAIL_ZOOM) {
      const band = zoom < 3 ? 0 : 3;
      key = `world-${band}`;
      url = `${BASEMAP}?zoom=${band}`;
    } else {
      const b = this.map.getBounds();
      const snap = (v, f) => f(v / 5) * 5;
      const west = Math.max(-180, snap(b.getWest() - 5, Math.floor));
      const east = Math.min(180, snap(b.getEast() + 5, Math.ceil));
      const south = Math.max(-90, snap(b.getSouth() - 5, Math.floor));
      const north = Math.min(90, snap(b.getNorth() + 5, Math.ceil));
      if (this.box && zoom >= DETAIL_ZOOM && b.getWest() >= this.box[0] && b.getEast() <= this.box[2] && b.getSouth() >= this.box[1] && b.getNorth() <= this.box[3]) return;
      this.box = [west, south, east, north];
      key = `box-${this.box}`;
      url = `${BASEMAP}?zoom=${DETAIL_ZOOM}&bbox=${this.box.join(',')}`;
    }
    if (key === this.bandKey) return;
    if (!key.startsWith('box')) this.box = null;
    this.bandKey = key;
    this.map.getSource('countries').setData(url);
  }

  setAlerts(features) {
    this.listed = features;
    if (!this.loaded) {
      this.pending = features;
      return;
    }
    this.draw();
    // The list changed: the detailed areas of the view are asked for again.
    if (this.detail) this.detailForView(true);
  }

  // Close in, the areas in the view in detail (one request for the view, not the world's
  // alerts in detail); the list's own generalised areas elsewhere and further out.
  async detailForView(force = false) {
    const zoom = this.map.getZoom();
    const step = [...DETAIL_ZOOM_STEPS].reverse().find((z) => zoom >= z);
    if (step === undefined || !this.detailUrl) {
      if (this.detail) {
        this.detail = null;
        this.draw();
      }
      return;
    }
    const b = this.map.getBounds();
    const inside = (box) => box && b.getWest() >= box[0] && b.getSouth() >= box[1] && b.getEast() <= box[2] && b.getNorth() <= box[3];
    if (!force && this.detail && this.detail.step === step && inside(this.detail.box)) return;
    // A box a little larger than the view, on a half-degree grid, so small moves ask nothing.
    const pad = Math.max(b.getEast() - b.getWest(), b.getNorth() - b.getSouth()) / 4;
    const snap = (v, f) => f(v * 2) / 2;
    const box = [
      Math.max(-180, snap(b.getWest() - pad, Math.floor)),
      Math.max(-90, snap(b.getSouth() - pad, Math.floor)),
      Math.min(180, snap(b.getEast() + pad, Math.ceil)),
      Math.min(90, snap(b.getNorth() + pad, Math.ceil)),
    ];
    const asked = (this.detailAsked = `${step}:${box}`);
    try {
      const response = await fetch(this.detailUrl({ zoom: step, bbox: box }), { credentials: 'same-origin' });
      if (!response.ok || asked !== this.detailAsked) return;
      const { features } = await response.json();
      this.detail = { step, box, features };
      this.draw();
    } catch {
      // offline: the list's areas stay drawn
    }
  }

  draw() {
    const rank = { Extreme: 0, Severe: 1, Moderate: 2, Minor: 3, Unknown: 4 };
    const detailed = new Map((this.detail?.features || []).map((f) => [f.id, f.geometry]));
    const drawable = this.listed
      .filter((f) => f.geometry)
      .map((f) => ({
        type: 'Feature',
        id: f.id,
        geometry: detailed.get(f.id) || f.geometry,
        properties: {
          id: f.properties.id,
          severityKey: severityOf(f.properties.severity),
          urgencyKey: urgencyOf(f.properties.urgency),
          rank: rank[severityOf(f.properties.severity)],
        },
      }));
    this.map.getSource('alerts').setData({ type: 'FeatureCollection', features: drawable });
    this.drawn = drawable.length;
    this.map.getContainer().dataset.alerts = String(drawable.length);
  }

  show(geometry) {
    this.map.getSource('selected').setData(geometry ? { type: 'Feature', geometry, properties: {} } : EMPTY);
    if (geometry) this.frame([geometry], 9);
  }

  // An alert's area with the network as it stood when the alert began: cell sites and outage
  // reports as of `at` (the layer control's "Status as of"), said in the map's live region.
  networkBefore(geometry, at) {
    this.show(geometry);
    if (!this.layers) return false;
    this.layers.statusBefore(at);
    this.announce.textContent = t('map.networkBefore', { time: dateTime(at) });
    return true;
  }

  frame(geometries, maxZoom) {
    const bounds = new maplibregl.LngLatBounds();
    const walk = (c) => (typeof c[0] === 'number' ? bounds.extend(c) : c.forEach(walk));
    for (const geometry of geometries) walk(geometry.coordinates || geometry.geometries?.map((g) => g.coordinates) || []);
    if (!bounds.isEmpty()) this.map.fitBounds(bounds, { padding: 40, maxZoom, animate: !this.reduceMotion });
  }

  openFeatures(features) {
    const ids = [...new Set((features || []).map((f) => f.properties.id))];
    if (ids.length) this.onOpen(ids);
  }

  openAtCentre() {
    const { width, height } = this.map.getCanvas().getBoundingClientRect();
    const box = [
      [width / 2 - 6, height / 2 - 6],
      [width / 2 + 6, height / 2 + 6],
    ];
    const found = this.map.queryRenderedFeatures(box, { layers: ['alert-fill', 'alert-badge'] });
    const ids = [...new Set(found.map((f) => f.properties.id))];
    // The connectivity layers that are on, at the same point: a keyboard user hears what a
    // pointer user sees there.
    const network = [this.layers?.describeAt(12), this.requests?.describeAt(12)].filter(Boolean).join(' ');
    this.announce.textContent = [ids.length ? t('map.found', { count: ids.length }) : t('map.none'), network].filter(Boolean).join(' ');
    if (ids.length) this.onOpen(ids);
  }
}
