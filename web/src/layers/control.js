// The layer control beside the map: a checkbox per connectivity layer (native controls: Tab,
// Space, arrow keys in the selects), each described by its source, file, import time and
// licence from GET /api/v1/layers, and by what it shows in the view in words, so the map is
// never the only carrier. The legend gains each layer's marks while it is on.

import { age, dateTime, number, t } from '../i18n.js';
import { el } from '../list.js';
import { CHANGES, ConnectivityLayers, LAYERS, SPEEDS } from './connectivity.js';
import { SITE_STATES, drawLanding, drawOutage, drawSite, drawSpeed } from './symbols.js';
import './layers.css';

const NAMES = ['sites', 'outages', 'performance', 'landings'];
const AS_OF = [
  ['now', 0],
  ['6h', 6],
  ['24h', 24],
  ['7d', 24 * 7],
  ['custom', null],
];

export async function startLayers(map, { root, legend }) {
  const catalogue = await fetch('/api/v1/layers', { credentials: 'same-origin' })
    .then((r) => (r.ok ? r.json() : null))
    .catch(() => null);
  const control = new LayerControl(map, { root, legend, catalogue });
  return control;
}

// The tables held per kind (one per Ookla quarter), newest import first.
function held(catalogue, kind) {
  return (catalogue?.layers || []).filter((m) => m.kind === kind).sort((a, b) => String(b.imported_at).localeCompare(String(a.imported_at)));
}

class LayerControl {
  constructor(map, { root, legend, catalogue }) {
    this.catalogue = catalogue;
    this.legend = legend;
    this.parts = {};
    this.layers = new ConnectivityLayers(map, { onData: (name, state) => this.data(name, state) });
    this.periods = held(catalogue, 'ookla').map((m) => m.period || m.table).sort();
    // The latest quarter against the one before it, until the reader chooses others.
    this.layers.options.period = this.periods.at(-1) || null;
    this.layers.options.baseline = this.periods.at(-2) || null;
    const fieldset = el('fieldset', { class: 'layer-control' }, el('legend', {}, t('layers.title')));
    for (const name of NAMES) fieldset.append(this.entry(name));
    this.legendBox = el('div', { class: 'layer-legend', id: 'layer-legend' });
    root.replaceChildren(fieldset);
    legend.append(this.legendBox);
    root.dataset.ready = 'true';
    // What the map really rendered of each layer once settled (read by the tests only).
    map.on('idle', () => {
      for (const name of NAMES) {
        const ids = this.layers.ids(name).filter((id) => map.getLayer(id));
        root.dataset[`drawn${name[0].toUpperCase()}${name.slice(1)}`] = this.parts[name].box.checked ? String(map.queryRenderedFeatures({ layers: ids }).length) : '0';
      }
    });
  }

  entry(name) {
    const id = `layer-${name}`;
    const kind = LAYERS[name].kind;
    const tables = kind ? held(this.catalogue, kind) : [];
    const imported = !kind || tables.length > 0;
    const source = el('p', { class: 'layer-source', id: `${id}-source` }, this.sourceText(name, tables));
    const view = el('p', { class: 'layer-view', id: `${id}-view` });
    const box = el('input', { type: 'checkbox', id, 'aria-describedby': `${id}-source ${id}-view` });
    box.disabled = !imported;
    const options = el('div', { class: 'layer-options', hidden: '' }, ...this.options(name));
    box.addEventListener('change', () => {
      options.hidden = !box.checked;
      this.layers.set(name, box.checked);
      if (!box.checked) view.textContent = '';
      this.drawLegend();
    });
    this.parts[name] = { box, view, options };
    return el('div', { class: 'layer-entry' }, el('div', { class: 'field check' }, box, el('label', { for: id }, t(`layers.${name}`))), source, options, view);
  }

  sourceText(name, tables) {
    if (name === 'outages') return t('layers.outageSource');
    const kind = LAYERS[name].kind;
    if (!this.catalogue) return t('layers.catalogueFailed');
    if (!tables.length) return t('layers.notImported', { kind });
    const described = this.catalogue?.sources?.[kind] || {};
    const table = name === 'performance' ? tables.find((m) => (m.period || m.table) === this.layers.options.period) || tables[0] : tables[0];
    return t('layers.source', {
      source: described.source || kind,
      file: table.source,
      rows: number(table.rows),
      age: age(table.imported_at),
      time: dateTime(table.imported_at),
      licence: described.licence || '',
    });
  }

  options(name) {
    if (name === 'sites' || name === 'outages') {
      // One time for both layers (sites' status and the reports are the same story): a preset,
      // or a time the reader chooses (before an alert's onset, say), in their local time.
      const select = el('select', { id: `layer-${name}-asof`, class: 'layer-asof' }, ...AS_OF.map(([key]) => el('option', { value: key }, t(`layers.asOf_${key}`))));
      const when = el('input', { type: 'datetime-local', id: `layer-${name}-time`, class: 'layer-time', step: '60' });
      const whenField = el('div', { class: 'field', hidden: true }, el('label', { for: when.id }, t('layers.asOfTime')), when);
      select.addEventListener('change', () => this.setAsOf(select.value, when.value));
      when.addEventListener('change', () => this.setAsOf('custom', when.value));
      return [el('div', { class: 'field' }, el('label', { for: select.id }, t('layers.asOf')), select), whenField];
    }
    if (name === 'performance' && this.periods.length) {
      const { period: latest, baseline: previous } = this.layers.options;
      const period = el('select', { id: 'layer-performance-period' }, ...this.periods.map((p) => el('option', { value: p, selected: p === latest }, p)));
      const baseline = el(
        'select',
        { id: 'layer-performance-baseline' },
        el('option', { value: '' }, t('layers.noBaseline')),
        ...this.periods.map((p) => el('option', { value: p, selected: p === previous }, p)),
      );
      const changed = () => {
        this.layers.setOptions({ period: period.value, baseline: baseline.value || null });
        // The source line names the chosen quarter's file and import.
        document.getElementById('layer-performance-source').textContent = this.sourceText('performance', held(this.catalogue, 'ookla'));
        this.drawLegend();
      };
      period.addEventListener('change', changed);
      baseline.addEventListener('change', changed);
      return [
        el('div', { class: 'field' }, el('label', { for: period.id }, t('layers.period')), period),
        el('div', { class: 'field' }, el('label', { for: baseline.id }, t('layers.baseline')), baseline),
      ];
    }
    return [];
  }

  // "Status as of" for sites and outages alike: a preset key, or 'custom' with a local time
  // ("YYYY-MM-DDTHH:MM", as a datetime-local input holds it).
  setAsOf(key, time) {
    for (const other of document.querySelectorAll('.layer-asof')) other.value = key;
    for (const other of document.querySelectorAll('.layer-time')) {
      other.value = time;
      other.parentElement.hidden = key !== 'custom';
    }
    const hours = AS_OF.find(([k]) => k === key)[1];
    let asOf = null;
    if (key === 'custom') asOf = time ? new Date(time).toISOString() : null;
    else if (hours) asOf = new Date(Date.now() - hours * 3600e3).toISOString();
    this.layers.setOptions({ asOf });
  }

  // A network status report arrived (event `network.status`): the outage reports and the
  // sites, whose status the reports decide, are read again where they are on.
  networkChanged() {
    this.layers.reload(['outages', 'sites']);
  }

  // The network as it stood at `at` (an alert's onset): sites and outage reports on, where
  // imported, their status as of that minute.
  statusBefore(at) {
    const when = new Date(at);
    const local = new Date(when.getTime() - when.getTimezoneOffset() * 60e3).toISOString().slice(0, 16);
    for (const name of ['sites', 'outages']) {
      const { box, options } = this.parts[name];
      if (box.disabled || box.checked) continue;
      box.checked = true;
      options.hidden = false;
      this.layers.set(name, true);
    }
    this.drawLegend();
    this.setAsOf('custom', local);
  }

  data(name, { collection, error, loading, storedAt }) {
    const view = this.parts[name].view;
    if (loading) {
      view.dataset.state = 'loading';
      return;
    }
    if (error) {
      view.dataset.state = 'error';
      view.textContent = t('layers.failed', { message: error });
      return;
    }
    view.dataset.state = 'ready';
    if (name === 'outages') this.outageSource(collection.features);
    view.dataset.features = String(collection.features.length);
    view.dataset.aggregated = String(Boolean(collection.aggregated));
    view.textContent = t('layers.inView', { what: summary(name, collection, this.layers.options) });
    if (storedAt) {
      view.dataset.stale = 'true';
      view.textContent += ` ${t('layers.kept', { age: age(storedAt), time: dateTime(storedAt) })}`;
    } else {
      delete view.dataset.stale;
    }
  }

  // The outage layer's source line with how old its data is: it is read again on every report
  // (live), and the newest report in view says when the latest news is from.
  outageSource(features) {
    const times = features.map((f) => f.properties.time).filter(Boolean).sort();
    const newest = times.at(-1);
    const fresh = newest ? t('layers.outageNewest', { age: age(newest), time: dateTime(newest) }) : t('layers.outageNoneInView');
    document.getElementById('layer-outages-source').textContent = `${t('layers.outageSource')} ${fresh}`;
    this.drawLegend();
  }

  // What each layer that is on shows at the map's centre (the keyboard's cross), in the words
  // of the control's own summaries: the areas (grid cells, tiles, reported areas) that hold it
  // and the points within `radius` pixels of it; '' when no layer is on.
  describeAt(radius) {
    const map = this.layers.map;
    const { width, height } = map.getCanvas().getBoundingClientRect();
    const centre = map.unproject([width / 2, height / 2]);
    const here = [centre.lng, centre.lat];
    const near = (lngLat) => {
      const p = map.project(lngLat);
      return Math.hypot(p.x - width / 2, p.y - height / 2) <= radius;
    };
    const said = [];
    for (const name of NAMES) {
      if (!this.parts[name].box.checked) continue;
      const shown = this.layers.shown[name]?.features || [];
      const features = shown.filter((f) => (f.geometry.type === 'Point' ? near(f.geometry.coordinates) : covers(f.geometry, here)));
      const collection = { features, period: this.layers.options.period };
      said.push(t('layers.atCross', { layer: t(`layers.${name}`), what: summary(name, collection, this.layers.options) }));
    }
    return said.join(' ');
  }

  drawLegend() {
    const on = NAMES.filter((name) => this.parts[name].box.checked);
    const item = (sample, text) => el('li', {}, sample, ' ', text);
    const img = (canvas) => el('img', { src: canvas.toDataURL(), alt: '', class: 'layer-sample' });
    const sections = on.map((name) => {
      let items = [];
      if (name === 'sites') {
        items = [
          ...SITE_STATES.map((s) => item(img(drawSite(s)), t(`layers.site_${s}`))),
          item(el('span', { class: 'layer-sample grid-sample', 'aria-hidden': 'true' }), t('layers.siteGrid')),
          item(img(drawOutage('down')), t('layers.gridOutage')),
        ];
      } else if (name === 'outages') {
        items = SITE_STATES.map((s) => item(img(drawOutage(s)), t(`layers.outage_${s}`)));
      } else if (name === 'performance') {
        items = [
          ...SPEEDS.map((s) => item(img(drawSpeed(s)), t(`layers.speed_${s}`))),
          ...CHANGES.filter((c) => c !== 'same').map((c) => item(img(drawSpeed('fast', c)), t(`layers.change_${c}`))),
        ];
      } else {
        items = [item(img(drawLanding()), t('layers.landing'))];
      }
      const source = this.legend.ownerDocument.getElementById(`layer-${name}-source`)?.textContent || '';
      return el('section', { class: 'layer-legend-part' }, el('h4', {}, t(`layers.${name}`)), el('ul', { class: 'legend-list' }, items), el('p', { class: 'layer-source' }, source));
    });
    this.legendBox.replaceChildren(...sections);
  }
}

function weighted(features, key) {
  let tests = 0;
  let sum = 0;
  for (const f of features) {
    const p = f.properties;
    if (p[key] === null || p[key] === undefined || !p.tests) continue;
    tests += p.tests;
    sum += p[key] * p.tests;
  }
  return tests ? { mean: sum / tests, tests } : null;
}

// The view's layer in words: what the map shows there, for every reader.
// Whether a Polygon or MultiPolygon holds the point [lng, lat] (even-odd rule, holes too).
function covers(geometry, [x, y]) {
  const polygons = geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.type === 'MultiPolygon' ? geometry.coordinates : [];
  let inside = false;
  for (const rings of polygons) {
    for (const ring of rings) {
      for (let i = 0, j = ring.length - 1; i < ring.length; j = i, i += 1) {
        const [xi, yi] = ring[i];
        const [xj, yj] = ring[j];
        if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
      }
    }
  }
  return inside;
}

function summary(name, collection, options) {
  const features = collection.features;
  if (name === 'sites') {
    let total = 0;
    let down = 0;
    let degraded = 0;
    for (const f of features) {
      const p = f.properties;
      if ('count' in p) {
        total += p.count;
        down += p.down;
        degraded += p.degraded;
      } else {
        total += 1;
        down += p.status === 'down' ? 1 : 0;
        degraded += p.status === 'degraded' ? 1 : 0;
      }
    }
    return t('layers.viewSites', { total, down: number(down), degraded: number(degraded) });
  }
  if (name === 'outages') {
    const states = features.map((f) => f.properties.state);
    return t('layers.viewOutages', { count: features.length, down: number(states.filter((s) => s === 'down').length) });
  }
  if (name === 'performance') {
    const now = weighted(features, 'download_mbps');
    if (!now) return t('layers.viewNoTests');
    let text = t('layers.viewPerformance', { download: number(Math.round(now.mean * 10) / 10), period: collection.period, tests: number(now.tests) });
    if (options.baseline) {
      // Before, over the same tiles: the earlier quarter's means weighted by today's tests.
      const before = weighted(
        features.filter((f) => f.properties.download_mbps_before !== null && f.properties.download_mbps_before !== undefined),
        'download_mbps_before',
      );
      if (before) {
        const change = Math.round((now.mean / before.mean - 1) * 100);
        text += ' ' + t('layers.viewBefore', { download: number(Math.round(before.mean * 10) / 10), period: options.baseline, change: `${change > 0 ? '+' : ''}${number(change)} %` });
      }
    }
    return text;
  }
  const count = features.reduce((n, f) => n + (f.properties.count ?? 1), 0);
  return t('layers.viewLandings', { count });
}
