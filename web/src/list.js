// The list of active alerts: the map's equivalent for screen readers, keyboards and small
// screens, usable before the map loads. Filters (region, country, severity, event, time) and
// CSV export act on what the list holds.

import { age, bestInfo, capLanguage, countryName, dateTime, listOf, number, t, term } from './i18n.js';
import { SEVERITIES, drawPattern, severityOf } from './legend.js';

const TIME_WINDOWS = { '': 0, '1h': 3600e3, '6h': 6 * 3600e3, '24h': 24 * 3600e3, '7d': 7 * 86400e3 };

export function emptyFilters() {
  return { region: '', country: '', severity: '', event: '', time: '' };
}

export function matches(feature, filters, now = Date.now()) {
  const p = feature.properties;
  if (filters.region && !(p.regions || []).includes(filters.region)) return false;
  if (filters.country && !(p.countries || []).includes(filters.country)) return false;
  if (filters.severity && severityOf(p.severity) !== filters.severity) return false;
  if (filters.event && eventOf(p) !== filters.event) return false;
  const window = TIME_WINDOWS[filters.time] || 0;
  if (window && now - new Date(p.sent).getTime() > window) return false;
  return true;
}

export function headlineOf(p) {
  const info = bestInfo(p.infos) || p;
  return info.headline || info.event || p.headline || p.event || t('list.noHeadline');
}

export function eventOf(p) {
  return p.event || '';
}

function eventLabel(p) {
  const info = bestInfo(p.infos);
  return (info && info.event) || p.event || '';
}

// CAP text (the headline, the event, the areas) in an element saying its language and letting
// the browser find its direction: an English headline on the Arabic page is read in English,
// left to right (WCAG 2.2 SC 3.1.2). `field`: 'headline', 'event' or 'areaDesc'.
export function capText(tag, p, field, attrs = {}) {
  const info = bestInfo(p.infos);
  let text = '';
  let source = info;
  if (field === 'headline') {
    text = (info && (info.headline || info.event)) || '';
    if (!text) {
      text = p.headline || p.event || '';
      source = p;
    }
  } else if (field === 'event') {
    text = eventLabel(p);
    if (!(info && info.event)) source = p;
  } else {
    // The areas are those of the alert's summary: its lead <info>.
    text = (p.areaDesc || []).join('; ');
    source = p;
  }
  if (!text) return el(tag, attrs, field === 'headline' ? t('list.noHeadline') : '');
  return el(tag, { ...attrs, lang: capLanguage(source), dir: 'auto' }, text);
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') node.className = value;
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}
export { el };

const swatches = new Map();
export function swatch(severity) {
  const key = severityOf(severity);
  if (!swatches.has(key)) swatches.set(key, drawPattern(key, 16, 2).toDataURL());
  return el('span', { class: `swatch sev-${key}`, style: `background-image:url(${swatches.get(key)})`, 'aria-hidden': 'true' });
}

export function severityBadge(p) {
  const severity = severityOf(p.severity);
  return el('span', { class: `badge sev-${severity}` }, swatch(severity), term('severity', p.severity || 'Unknown'));
}

export class AlertList {
  constructor({ list, count, form, countries, onOpen, onShow, onExercises }) {
    this.list = list;
    this.count = count;
    this.form = form;
    this.countries = countries; // iso3 -> {iso3, iso2, name, region}
    this.onOpen = onOpen;
    this.onShow = onShow;
    this.onExercises = onExercises;
    this.filters = emptyFilters();
    this.features = [];
    this.onFilter = () => {};
    this.buildForm();
  }

  visible() {
    const now = Date.now();
    return this.features.filter((f) => matches(f, this.filters, now));
  }

  buildForm() {
    const form = this.form;
    form.replaceChildren();
    const select = (name, label, options) => {
      const id = `filter-${name}`;
      const control = el(
        'select',
        { id, name },
        el('option', { value: '' }, t('filters.any')),
        options.map(([value, text]) => el('option', { value }, text)),
      );
      control.value = this.filters[name] || '';
      control.addEventListener('change', () => {
        this.filters[name] = control.value;
        this.render();
        this.onFilter();
      });
      return el('div', { class: 'field' }, el('label', { for: id }, label), control);
    };
    const regions = ['Africa', 'Americas', 'Arab States', 'Asia and the Pacific', 'CIS', 'Europe'];
    const present = (key) => [...new Set(this.features.flatMap((f) => [].concat(f.properties[key] || [])))];
    const countries = present('countries')
      .map((code) => [code, countryName(this.countries.get(code) || { iso3: code })])
      .sort((a, b) => a[1].localeCompare(b[1]));
    const events = [...new Set(this.features.map((f) => eventOf(f.properties)).filter(Boolean))]
      .map((event) => [event, event])
      .sort((a, b) => a[1].localeCompare(b[1]));
    form.append(
      select('region', t('filters.region'), regions.map((r) => [r, term('region', r)])),
      select('country', t('filters.country'), countries),
      select('severity', t('filters.severity'), SEVERITIES.map((s) => [s, term('severity', s)])),
      select('event', t('filters.event'), events),
      select('time', t('filters.time'), ['1h', '6h', '24h', '7d'].map((w) => [w, t(`filters.time${w}`)])),
    );
    const exercises = el('input', { type: 'checkbox', id: 'filter-exercises', name: 'exercises' });
    exercises.checked = Boolean(this.exercises);
    exercises.addEventListener('change', () => {
      this.exercises = exercises.checked;
      this.onExercises(exercises.checked);
    });
    form.append(
      el('div', { class: 'field check' }, exercises, el('label', { for: 'filter-exercises' }, t('filters.exercises'))),
      el(
        'div',
        { class: 'actions' },
        el('button', { type: 'button', onclick: () => this.exportCsv() }, t('filters.export')),
        el(
          'button',
          {
            type: 'button',
            onclick: () => {
              this.filters = emptyFilters();
              this.buildForm();
              this.render();
              this.onFilter();
            },
          },
          t('filters.reset'),
        ),
      ),
    );
  }

  update(features) {
    const before = new Set(this.features.map((f) => f.properties.event).concat(this.features.flatMap((f) => f.properties.countries || [])));
    this.features = features;
    const after = new Set(features.map((f) => f.properties.event).concat(features.flatMap((f) => f.properties.countries || [])));
    // New events or countries: the choices change (keeping what is chosen).
    if (before.size !== after.size || [...after].some((v) => !before.has(v))) {
      const focused = document.activeElement && this.form.contains(document.activeElement) ? document.activeElement.id : null;
      this.buildForm();
      if (focused) document.getElementById(focused)?.focus();
    }
    this.render();
  }

  render() {
    const shown = this.visible();
    const total = this.features.length;
    this.count.textContent =
      shown.length === total ? t('list.count', { count: total }) : t('list.countFiltered', { shown: number(shown.length), count: number(total) });
    const focusedId = document.activeElement?.closest?.('[data-alert]')?.dataset.alert;
    const focusedRole = document.activeElement?.dataset?.role;
    this.list.replaceChildren(...(shown.length ? shown.map((f) => this.item(f)) : [el('li', { class: 'empty' }, t('list.empty'))]));
    if (focusedId) {
      this.list.querySelector(`[data-alert="${focusedId}"] [data-role="${focusedRole || 'open'}"]`)?.focus();
    }
  }

  item(feature) {
    const p = feature.properties;
    const headingId = `alert-${p.id}-title`;
    const countries = (p.countries || []).map((code) => countryName(this.countries.get(code) || { iso3: code }));
    const meta = [
      term('urgency', p.urgency || 'Unknown'),
      term('certainty', p.certainty || 'Unknown'),
      eventLabel(p) ? capText('span', p, 'event') : null,
      p.status !== 'Actual' ? term('status', p.status) : null,
      p.msgType !== 'Alert' ? term('msgType', p.msgType) : null,
    ].filter(Boolean);
    return el(
      'li',
      { class: `alert sev-${severityOf(p.severity)}`, 'data-alert': String(p.id) },
      el(
        'article',
        { 'aria-labelledby': headingId },
        el(
          'h3',
          { id: headingId },
          capText('button', p, 'headline', { type: 'button', class: 'open', 'data-role': 'open', onclick: (e) => this.onOpen(p.id, e.currentTarget) }),
        ),
        el('p', { class: 'meta' }, severityBadge(p), ' ', meta.flatMap((part, i) => (i ? [' · ', part] : [part]))),
        el(
          'p',
          { class: 'where' },
          countries.length ? listOf(countries) : capText('span', p, 'areaDesc'),
          ' — ',
          el('time', { datetime: p.sent, title: dateTime(p.sent) }, t('list.sent', { time: age(p.sent) })),
          p.expires ? [' ', t('list.expires', { time: dateTime(p.expires) })] : null,
        ),
        p.mapped
          ? el('button', { type: 'button', class: 'link', 'data-role': 'show', onclick: () => this.onShow(p.id) }, t('list.showOnMap'))
          : el('p', { class: 'banner', role: 'note' }, t('list.notMapped')),
      ),
    );
  }

  exportCsv() {
    const columns = ['id', 'headline', 'event', 'severity', 'urgency', 'certainty', 'status', 'msgType', 'sender', 'sent', 'expires', 'countries', 'regions', 'areas', 'link'];
    const rows = this.visible().map(({ properties: p }) => [
      p.id,
      headlineOf(p),
      eventLabel(p),
      p.severity,
      p.urgency,
      p.certainty,
      p.status,
      p.msgType,
      p.sender,
      p.sent,
      p.expires,
      (p.countries || []).join(' '),
      (p.regions || []).join('; '),
      (p.areaDesc || []).join('; '),
      new URL(`/api/v1/alerts/${p.id}`, location.href).href,
    ]);
    // RFC 4180: quoted fields, CRLF; a BOM so spreadsheet programs read UTF-8 (Arabic, Chinese).
    const cell = (v) => {
      const text = v === null || v === undefined ? '' : String(v);
      // A leading =, +, - or @ would be a formula in a spreadsheet (CSV injection).
      const safe = /^[=+\-@]/.test(text) ? `'${text}` : text;
      return `"${safe.replaceAll('"', '""')}"`;
    };
    const csv = '\ufeff' + [columns.map((c) => t(`csv.${c}`)), ...rows].map((r) => r.map(cell).join(',')).join('\r\n') + '\r\n';
    const link = el('a', { href: URL.createObjectURL(new Blob([csv], { type: 'text/csv;charset=utf-8' })), download: `tampere-alerts-${new Date().toISOString().slice(0, 10)}.csv` });
    document.body.append(link);
    link.click();
    setTimeout(() => {
      URL.revokeObjectURL(link.href);
      link.remove();
    }, 0);
  }
}
