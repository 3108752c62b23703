// The alert panel: one alert's CAP info in the reader's language (best match among its <info>
// blocks), headline, instruction, areas, impact, who it was routed to and whether they
// acknowledged, related assistance requests, and its history of updates and cancellations.

import { age, bestInfo, capLanguage, countryName, currentLanguage, dateTime, languageName, listOf, number, t, term } from './i18n.js';
import { el, severityBadge } from './list.js';
import { contactLabel, deadlineOf, historyText, learnNames, loadContacts, reasonsByRule, unverifiedOf } from './routing.js';

// How far back an Update's chain of earlier messages is followed (each one request).
const EARLIER_MAX = 10;

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
    this.earlierIds = [];
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
    const [requests, earlier] = await Promise.all([this.relatedRequests(id), earlierMessages(body), this.session() ? loadContacts() : null]);
    if (this.alertId !== id) return;
    this.render(body, requests, earlier);
    this.root.querySelector('#panel-title')?.focus();
  }

  // Something happened to an alert (an event about it, an acknowledgement made here): the open
  // panel is read again when it is that alert, or one of the messages it follows from.
  changed(alertId) {
    if (this.root.hidden || this.alertId === null || alertId === null || alertId === undefined) return;
    if (alertId === this.alertId || this.earlierIds.includes(alertId)) this.refresh();
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
      const [requests, earlier] = await Promise.all([this.relatedRequests(id), earlierMessages(body)]);
      if (this.alertId !== id) return;
      const hadFocus = this.root.contains(document.activeElement);
      this.render(body, requests, earlier);
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

  render(alert, requests, earlier = []) {
    const cap = alert.alert || {};
    const infos = cap.info || [];
    const info = bestInfo(infos) || {};
    const others = infos.filter((i) => i !== info).map((i) => languageName(i.language));
    const headline = info.headline || info.event || alert.headline || alert.identifier;
    this.earlierIds = earlier.map((m) => m.id);
    learnNames(alert.routing);
    const section = (titleKey, ...content) => el('section', { class: 'part' }, el('h3', {}, t(titleKey)), ...content);
    const dl = (pairs) =>
      el(
        'dl',
        {},
        pairs.filter(([, v]) => v !== null && v !== undefined && v !== '').flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]),
      );
    const when = (value) => (value ? el('time', { datetime: value }, `${dateTime(value)} (${age(value)})`) : null);
    // CAP text says its <info>'s language, its direction found by the browser (WCAG 3.1.2).
    const written = { lang: capLanguage(info), dir: 'auto' };
    const name = (code) => countryName(this.countries.get(code) || { iso3: code });
    const impact = alert.impact || {};
    const routing = (alert.routing || []).map((entry) => this.routingItem(entry, alert.received, name));
    const areas = (info.area || []).map((area) => el('li', written, area.areaDesc || ''));
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
      this.referencesPart(alert.msgType, alert.references || [], earlier),
      dl([
        [t('panel.sender'), info.senderName || alert.sender],
        [t('panel.sent'), when(alert.sent)],
        [t('panel.effective'), when(info.effective)],
        [t('panel.onset'), when(info.onset)],
        [t('panel.expires'), when(info.expires || alert.expires)],
        [t('panel.event'), listOf((info.category || []).map((c) => term('category', c)))],
        [t('panel.responseType'), listOf((info.responseType || []).map((r) => term('responseType', r)))],
      ]),
      info.description ? section('panel.description', el('p', { class: 'prose', ...written }, info.description)) : null,
      info.instruction ? section('panel.instruction', el('p', { class: 'prose instruction', ...written }, info.instruction)) : null,
      section(
        'panel.areas',
        areas.length ? el('ul', {}, areas) : el('p', {}, t('panel.none')),
        alert.geometry ? el('button', { type: 'button', class: 'link', onclick: () => this.onShow(alert.id, alert.geometry) }, t('list.showOnMap')) : el('p', { class: 'banner', role: 'note' }, t('list.notMapped')),
        alert.geometry && this.onNetwork
          ? el('button', { type: 'button', class: 'link', 'data-key': 'network-before', 'data-at': onset(alert, earlier), onclick: () => this.onNetwork(alert.geometry, onset(alert, earlier)) }, t('panel.networkBefore'))
          : null,
      ),
      section('panel.impact', impactPart(impact, alert, name)),
      section('panel.routing', alert.unrouted ? el('p', {}, t('panel.unrouted')) : null, routing.length ? el('ul', { class: 'routing' }, routing) : el('p', {}, t('panel.none'))),
      requests
        ? section(
            'panel.requests',
            requests.length
              ? el('ul', {}, requests.map((r) => el('li', {}, `${r.title} — ${term('requestState', r.state)}`)))
              : el('p', {}, t('panel.none')),
          )
        : null,
      section('panel.history', el('ol', { class: 'history' }, historySteps(alert, earlier))),
      info.web ? el('p', {}, el('a', { href: safeUrl(info.web), rel: 'noopener noreferrer' }, t('panel.web'))) : null,
      info.contact ? dl([[t('panel.contact'), info.contact]]) : null,
      el('p', {}, el('a', { href: `/api/v1/alerts/${alert.id}/cap` }, t('panel.cap'))),
    ];
    this.root.replaceChildren(...parts.filter(Boolean));
  }

  // One recipient: who (named, its id kept), priority, acknowledged or by when, escalation, why
  // in the reader's language, and whether the facts it was chosen by are verified.
  routingItem(entry, received, country) {
    const deadline = deadlineOf(entry, received);
    const state = entry.acknowledged_at
      ? t('panel.acknowledged', { time: dateTime(entry.acknowledged_at) })
      : [t('panel.notAcknowledged'), deadline ? ` — ${t('panel.deadline', { time: dateTime(deadline) })}` : ''].join('');
    const escalated = [].concat(entry.escalated_to || []);
    const { unverified, total, facts } = unverifiedOf(entry, country);
    const reasons = reasonsByRule(entry, country);
    return el(
      'li',
      { 'data-routing': entry.contact_point || '' },
      el('strong', {}, contactLabel(entry)),
      ` (${term('priority', entry.priority)}): `,
      el('span', { class: 'ack-state' }, state),
      escalated.length ? [' — ', t('panel.escalatedTo'), ' ', ...escalated.flatMap((step, i) => (i ? [', ', contactLabel(step)] : [contactLabel(step)]))] : '',
      unverified
        ? el(
            'div',
            { class: 'unverified', role: 'note' },
            el('p', {}, el('strong', {}, t('panel.unverified')), ' ', t('panel.unverifiedFacts', { count: unverified, total })),
            el('ul', {}, facts.map((fact) => el('li', {}, fact))),
          )
        : null,
      reasons.length
        ? el(
            'ul',
            { class: 'reasons' },
            reasons.map(({ rule, reasons: said }) =>
              el('li', {}, rule ? [t('panel.rule'), ' ', el('code', { dir: 'ltr' }, rule), t('panel.separator')] : '', said.flatMap((r, i) => (i ? [t('panel.reasonSeparator'), r] : [r]))),
            ),
          )
        : null,
    );
  }

  // CAP 1.2 §3.2.1 <references>: the messages this one updates, cancels or answers, each a way
  // to open it when the service holds it and this reader may see it.
  referencesPart(msgType, references, earlier) {
    if (!references.length) return null;
    const items = references.map((ref) => {
      const label = `${ref.identifier} (${dateTime(ref.sent)})`;
      if (ref.alert_id === null || ref.alert_id === undefined) return el('li', {}, label, ' — ', t('panel.referenceUnknown'));
      const held = earlier.find((m) => m.id === ref.alert_id);
      const headline = held ? (bestInfo(held.alert?.info) || {}).headline : null;
      return el(
        'li',
        {},
        el('button', { type: 'button', class: 'link', 'data-reference': String(ref.alert_id), onclick: (e) => this.open(ref.alert_id, e.currentTarget) }, headline ? `${headline} — ${label}` : label),
      );
    });
    return el('section', { class: 'part references' }, el('h3', {}, t(REFERENCE_TITLES[msgType] || 'panel.refersTo')), el('ul', {}, items));
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

// What a message's references name: the messages it updates or cancels (CAP 1.2 §3.2.1).
const REFERENCE_TITLES = { Update: 'panel.updates', Cancel: 'panel.cancels' };

// The messages an alert follows from (its references, theirs...), oldest first, as far as the
// service holds them and this reader may see them; nothing when offline.
async function earlierMessages(alert) {
  const found = [];
  const seen = new Set([alert.id]);
  let next = (alert.references || []).map((r) => r.alert_id).filter((id) => id !== null && id !== undefined);
  while (next.length && found.length < EARLIER_MAX) {
    const id = next.shift();
    if (seen.has(id)) continue;
    seen.add(id);
    try {
      const response = await fetch(`/api/v1/alerts/${id}`, { credentials: 'same-origin' });
      if (!response.ok) continue;
      const message = await response.json();
      found.push(message);
      next = next.concat((message.references || []).map((r) => r.alert_id).filter((i) => i !== null && i !== undefined));
    } catch {
      break;
    }
  }
  return found.sort((a, b) => new Date(a.sent) - new Date(b.sent));
}

// The history of the whole story: the earlier messages' steps (each saying which message),
// then this one's, in time order.
function historySteps(alert, earlier) {
  const steps = [
    ...earlier.flatMap((message) => (message.history || []).map((step) => ({ step, message }))),
    ...(alert.history || []).map((step) => ({ step, message: null })),
  ].sort((a, b) => new Date(a.step.at) - new Date(b.step.at));
  return steps.map(({ step, message }) => {
    const said = historyText(step);
    return el(
      'li',
      message ? { 'data-earlier': String(message.id) } : {},
      el('time', { datetime: step.at }, dateTime(step.at)),
      ' — ',
      term('action', step.action),
      message ? ` (${t('panel.earlierMessage', { identifier: message.identifier })})` : '',
      said ? [t('panel.separator'), said] : '',
    );
  });
}

// When the alert's story began: the CAP <onset> of its first message (an Update's history
// starts with the alert it updates), else that message's sent time; the earliest of these
// over the messages known.
function onset(alert, earlier = []) {
  const starts = [alert, ...earlier].map((message) => {
    const info = bestInfo(message.alert?.info) || {};
    return info.onset || message.sent;
  });
  return starts.filter(Boolean).reduce((a, b) => (new Date(b) < new Date(a) ? b : a));
}

// The alert's impact: territory (countries, regions, the UN groups among them), people, cell
// sites, measured performance before and after, submarine cable landings.
function impactPart(impact, alert, name) {
  const groups = impact.groups || {};
  const grouped = ['ldc', 'lldc', 'sids']
    .filter((g) => (groups[g] || []).length || impact[g] === true)
    .map((g) => `${term('group', g)}${(groups[g] || []).length ? `: ${listOf((groups[g] || []).map(name))}` : ''}`);
  const sites = impact.sites;
  const performance = impact.performance || {};
  const speed = (p) => (p && p.download_mbps !== null && p.download_mbps !== undefined ? t('panel.speed', { download: number(p.download_mbps), upload: number(p.upload_mbps ?? 0), period: p.period || '' }) : null);
  const before = speed(performance.baseline);
  const after = speed(performance.latest);
  const change = performance.download_change_pct;
  const landings = impact.landing_points || [];
  const pairs = [
    [t('panel.countries'), listOf((impact.countries || alert.countries || []).map(name))],
    [t('panel.regions'), listOf((impact.regions || alert.regions || []).map((r) => term('region', r)))],
    [t('panel.groups'), grouped.join('; ')],
    [t('panel.population'), impact.population === null || impact.population === undefined ? null : number(impact.population)],
    [t('panel.performanceBefore'), before],
    [t('panel.performanceAfter'), after],
    [t('panel.downloadChange'), change === null || change === undefined ? null : t('panel.change', { change: new Intl.NumberFormat(currentLanguage(), { signDisplay: 'exceptZero', maximumFractionDigits: 1 }).format(change) })],
    [t('panel.landings'), landings.length ? listOf(landings.map((p) => [p.name || p.id, p.country ? ` (${p.country})` : ''].join(''))) : null],
  ];
  return [
    el(
      'dl',
      {},
      pairs.filter(([, v]) => v !== null && v !== undefined && v !== '').flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]),
    ),
    sites && sites.total
      ? el('p', {}, t('panel.sites', { total: number(sites.total), down: number(sites.down || 0), degraded: number(sites.degraded || 0) }))
      : el('p', {}, t('panel.noSites')),
  ];
}
