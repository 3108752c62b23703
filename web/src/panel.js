// The alert panel: one alert's CAP info in the reader's language (best match among its <info>
// blocks), headline, instruction, areas, impact, who it was routed to and whether they
// acknowledged, related assistance requests, and its history of updates and cancellations.

import { age, bestInfo, capLanguage, countryName, dateTime, languageName, listOf, number, t, term } from './i18n.js';
import { el, severityBadge } from './list.js';
import { contactName, deadlineOf, reasonsOf } from './routing.js';

export class AlertPanel {
  constructor({ root, countries, session, onClose, onShow, onNetwork }) {
    this.root = root;
    this.countries = countries;
    this.session = session; // () => the signed-in session or null
    this.onClose = onClose;
    this.onShow = onShow;
    this.onNetwork = onNetwork; // (geometry, at) => the map shows the network as of `at`
    this.opener = null;
    this.alertId = null;
    root.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') this.close();
    });
  }

  async open(id, opener = null) {
    this.opener = opener;
    this.alertId = id;
    this.root.hidden = false;
    this.root.replaceChildren(this.closeButton(), el('h2', { id: 'panel-title' }, t('panel.loading')));
    this.root.focus();
    let body;
    try {
      const response = await fetch(`/api/v1/alerts/${id}`, { credentials: 'same-origin' });
      if (!response.ok) throw new Error(await problemText(response));
      body = await response.json();
    } catch (error) {
      if (this.alertId !== id) return;
      this.root.replaceChildren(this.closeButton(), el('h2', { id: 'panel-title' }, t('panel.failed', { message: error.message })));
      return;
    }
    if (this.alertId !== id) return;
    const requests = await this.relatedRequests(id);
    this.render(body, requests);
    this.root.querySelector('#panel-title')?.focus();
  }

  // The open alert again (the list changed: it may have been updated, cancelled, acknowledged),
  // without moving the reader's focus unless it was inside the panel's replaced content.
  async refresh() {
    const id = this.alertId;
    if (this.root.hidden || id === null) return;
    try {
      const response = await fetch(`/api/v1/alerts/${id}`, { credentials: 'same-origin' });
      if (!response.ok || this.alertId !== id) return;
      const body = await response.json();
      const requests = await this.relatedRequests(id);
      if (this.alertId !== id) return;
      const hadFocus = this.root.contains(document.activeElement);
      this.render(body, requests);
      if (hadFocus) this.root.querySelector('#panel-title')?.focus();
    } catch {
      // offline: what is shown stays
    }
  }

  close() {
    if (this.root.hidden) return;
    this.root.hidden = true;
    this.alertId = null;
    this.onClose?.();
    if (this.opener && document.contains(this.opener)) this.opener.focus();
  }

  closeButton() {
    return el('button', { type: 'button', class: 'close', onclick: () => this.close() }, t('panel.close'));
  }

  async relatedRequests(id) {
    if (!this.session()) return null;
    try {
      const response = await fetch('/api/v1/requests?limit=1000', { credentials: 'same-origin' });
      if (!response.ok) return null;
      const { requests } = await response.json();
      return requests.filter((r) => (r.related_alerts || []).some((a) => a === id || a?.id === id || a?.alert_id === id));
    } catch {
      return null;
    }
  }

  render(alert, requests) {
    const cap = alert.alert || {};
    const infos = cap.info || [];
    const info = bestInfo(infos) || {};
    const others = infos.filter((i) => i !== info).map((i) => languageName(i.language));
    const headline = info.headline || info.event || alert.headline || alert.identifier;
    const section = (titleKey, ...content) => el('section', { class: 'part' }, el('h3', {}, t(titleKey)), ...content);
    const dl = (pairs) =>
      el(
        'dl',
        {},
        pairs.filter(([, v]) => v !== null && v !== undefined && v !== '').flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]),
      );
    const impact = alert.impact || {};
    const sites = impact.sites;
    const routing = (alert.routing || []).map((entry) => {
      const deadline = deadlineOf(entry, alert.received);
      const state = entry.acknowledged_at
        ? t('panel.acknowledged', { time: dateTime(entry.acknowledged_at) })
        : [t('panel.notAcknowledged'), deadline ? ` — ${t('panel.deadline', { time: dateTime(deadline) })}` : ''].join('');
      return el(
        'li',
        {},
        el('strong', {}, contactName(entry)),
        ` (${term('priority', entry.priority)}): ${state}`,
        entry.escalated_to ? ` — ${t('panel.escalated', { to: [].concat(entry.escalated_to).join(', ') })}` : '',
        reasonsOf(entry).length ? el('span', { class: 'reasons' }, ` — ${reasonsOf(entry).join('; ')}`) : '',
      );
    });
    // CAP text says its <info>'s language, its direction found by the browser (WCAG 3.1.2).
    const written = { lang: capLanguage(info), dir: 'auto' };
    const areas = (info.area || []).map((area) => el('li', written, area.areaDesc || ''));
    const name = (code) => countryName(this.countries.get(code) || { iso3: code });
    const parts = [
      this.closeButton(),
      el('h2', { id: 'panel-title', tabindex: '-1', ...(info.headline || info.event ? written : {}) }, headline),
      el(
        'p',
        { class: 'meta' },
        severityBadge({ severity: info.severity || alert.severity }),
        ' ',
        [term('urgency', info.urgency), term('certainty', info.certainty), info.event ? el('span', written, info.event) : null, term('status', alert.status), term('msgType', alert.msgType), term('state', alert.state)]
          .filter(Boolean)
          .flatMap((part, i) => (i ? [' · ', part] : [part])),
      ),
      others.length ? el('p', { class: 'note' }, t('panel.language', { language: languageName(info.language || 'en'), others: listOf(others) })) : null,
      dl([
        [t('panel.sender'), info.senderName || alert.sender],
        [t('panel.sent'), el('time', { datetime: alert.sent }, `${dateTime(alert.sent)} (${age(alert.sent)})`)],
        [t('panel.expires'), alert.expires ? el('time', { datetime: alert.expires }, `${dateTime(alert.expires)} (${age(alert.expires)})`) : null],
        [t('panel.event'), listOf((info.category || []).map((c) => term('category', c)))],
      ]),
      info.description ? section('panel.description', el('p', { class: 'prose', ...written }, info.description)) : null,
      info.instruction ? section('panel.instruction', el('p', { class: 'prose instruction', ...written }, info.instruction)) : null,
      section(
        'panel.areas',
        areas.length ? el('ul', {}, areas) : el('p', {}, t('panel.none')),
        alert.geometry ? el('button', { type: 'button', class: 'link', onclick: () => this.onShow(alert.id, alert.geometry) }, t('list.showOnMap')) : el('p', { class: 'banner', role: 'note' }, t('list.notMapped')),
        alert.geometry && this.onNetwork
          ? el('button', { type: 'button', class: 'link', 'data-key': 'network-before', onclick: () => this.onNetwork(alert.geometry, onset(alert)) }, t('panel.networkBefore'))
          : null,
      ),
      section(
        'panel.impact',
        dl([
          [t('panel.countries'), listOf((impact.countries || alert.countries || []).map(name))],
          [t('panel.regions'), listOf((impact.regions || alert.regions || []).map((r) => term('region', r)))],
        ]),
        sites && sites.total
          ? el('p', {}, t('panel.sites', { total: number(sites.total), down: number(sites.down || 0), degraded: number(sites.degraded || 0) }))
          : el('p', {}, t('panel.noSites')),
      ),
      section('panel.routing', alert.unrouted ? el('p', {}, t('panel.unrouted')) : null, routing.length ? el('ul', {}, routing) : el('p', {}, t('panel.none'))),
      requests
        ? section(
            'panel.requests',
            requests.length
              ? el('ul', {}, requests.map((r) => el('li', {}, `${r.title} — ${term('requestState', r.state)}`)))
              : el('p', {}, t('panel.none')),
          )
        : null,
      section(
        'panel.history',
        el(
          'ol',
          { class: 'history' },
          (alert.history || []).map((step) =>
            el('li', {}, el('time', { datetime: step.at }, dateTime(step.at)), ' — ', term('action', step.action), step.note ? ` (${step.note})` : ''),
          ),
        ),
      ),
      info.web ? el('p', {}, el('a', { href: safeUrl(info.web), rel: 'noopener noreferrer' }, t('panel.web'))) : null,
      info.contact ? dl([[t('panel.contact'), info.contact]]) : null,
      el('p', {}, el('a', { href: `/api/v1/alerts/${alert.id}/cap` }, t('panel.cap'))),
    ];
    this.root.replaceChildren(...parts.filter(Boolean));
  }
}

// A CAP <web> link is the issuer's text: only http(s) becomes a link (no javascript:).
function safeUrl(value) {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : '#';
  } catch {
    return '#';
  }
}

export async function problemText(response) {
  try {
    const problem = await response.json();
    const first = (problem.errors || [])[0];
    return first ? `${first.message} (${first.rule})` : problem.detail || `${response.status}`;
  } catch {
    return `${response.status} ${response.statusText}`;
  }
}

// When the alert's story began: its first message (an update's history starts with the alert
// it updates), else its own sent time.
function onset(alert) {
  const times = [alert.sent, ...(alert.history || []).map((step) => step.at)].filter(Boolean);
  return times.reduce((a, b) => (new Date(b) < new Date(a) ? b : a));
}
