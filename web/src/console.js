// The office console, in the same page after signing in: a token is exchanged once for a
// session cookie (HttpOnly: script never sees it again; never in a URL), writes carry the
// X-Requested-With header the service asks of cookie-authenticated writes (CSRF). The inbox
// holds the alerts routed to this office with their deadlines and an acknowledge button, and
// the assistance requests, worked through their states; escalations appear as they happen.

import { age, countryName, dateTime, listOf, t, term } from './i18n.js';
import { el, headlineOf, severityBadge } from './list.js';
import { problemText } from './panel.js';
import { contactName, contactOf, deadlineOf, loadContacts } from './routing.js';

const WRITE_HEADERS = { 'Content-Type': 'application/json', 'X-Requested-With': 'tampere-web' };
// Request moves a recipient may make, from which states (contact_points/requests.py MOVES).
const RECIPIENT_MOVES = {
  'in-progress': ['open', 'acknowledged'],
  fulfilled: ['acknowledged', 'in-progress'],
  closed: ['fulfilled'],
};
const REQUESTER_MOVES = { closed: ['fulfilled'], cancelled: ['open', 'acknowledged', 'in-progress'] };
// The service's companion of the HttpOnly session cookie (service/auth.py SIGNED_IN_COOKIE): it
// says a session may exist, so a page without one does not ask (a 401 the browser logs).
const SIGNED_IN = 'tampere_signed_in=1';
const LOGGED = /^(alert\.(escalated|acknowledged|cancelled|updated|received)|request\.)/;

export class OfficeConsole {
  constructor({ root, onSession, onOpen, onAcknowledged, countries = new Map() }) {
    this.root = root;
    this.onSession = onSession;
    this.onOpen = onOpen;
    this.onAcknowledged = onAcknowledged; // (alert id) => whoever shows that alert reads it again
    this.countries = countries;
    this.session = null;
    this.alerts = [];
    this.requests = [];
    this.log = [];
    this.message = '';
    this.streamOpen = false;
    this.notes = new Map();
  }

  async start() {
    this.session = null;
    if (document.cookie.split('; ').includes(SIGNED_IN)) {
      try {
        const response = await fetch('/api/v1/session', { credentials: 'same-origin' });
        this.session = response.ok ? await response.json() : null;
        // The session ended on the service (expired, revoked): the companion goes too.
        if (response.status === 401) forgetSignedIn();
      } catch {
        this.session = null;
      }
    }
    this.onSession(this.session);
    if (this.session) {
      loadContacts().then(() => this.render());
      await this.refresh();
    }
    this.render();
    // Deadlines pass without an event: "acknowledge by" turns "overdue" on its own.
    setInterval(() => {
      if (this.session) this.render();
    }, 30_000);
  }

  async signIn(token) {
    const response = await fetch('/api/v1/session', {
      method: 'POST',
      credentials: 'same-origin',
      headers: WRITE_HEADERS,
      body: JSON.stringify({ token }),
    });
    if (!response.ok) {
      this.message = t('console.signInFailed', { message: await problemText(response) });
      this.render();
      return;
    }
    this.session = await response.json();
    this.message = '';
    this.onSession(this.session);
    loadContacts().then(() => this.render());
    await this.refresh();
    this.render();
    this.root.querySelector('h3')?.focus();
  }

  async signOut() {
    await fetch('/api/v1/session', { method: 'DELETE', credentials: 'same-origin', headers: WRITE_HEADERS }).catch(() => {});
    this.ended();
  }

  ended() {
    forgetSignedIn();
    this.session = null;
    this.alerts = [];
    this.requests = [];
    this.onSession(null);
    this.render();
  }

  // The contact point ids whose routing entries are this principal's.
  mine(entry) {
    const s = this.session;
    if (!s) return false;
    if (s.role === 'operator') return true;
    if (s.role === 'bdt') return contactOf(entry) === 'bdt';
    if (s.role === 'office') return contactOf(entry) === s.office;
    return false;
  }

  async refresh() {
    await Promise.all([this.refreshAlerts(), this.refreshRequests()]);
  }

  async refreshAlerts() {
    if (!this.session) return;
    const response = await fetch('/api/v1/alerts?limit=5000&status=Actual&status=Exercise&status=Test', { credentials: 'same-origin' }).catch(() => null);
    if (!response || !response.ok) return;
    const { features } = await response.json();
    this.alerts = features.filter((f) => (f.properties.routing || []).some((entry) => this.mine(entry)));
    this.render();
  }

  async refreshRequests() {
    if (!this.session) return;
    const response = await fetch('/api/v1/requests?limit=200', { credentials: 'same-origin' }).catch(() => null);
    if (!response) return;
    if (response.status === 401) return this.ended();
    if (!response.ok) {
      this.requests = [];
      return;
    }
    this.requests = (await response.json()).requests;
    this.render();
  }

  event(event) {
    if (LOGGED.test(event.type || '')) {
      this.log.unshift({ at: new Date(), type: event.type, event });
      this.log.length = Math.min(this.log.length, 50);
    }
    if ((event.type || '').startsWith('request.')) this.refreshRequests();
    else if ((event.type || '').startsWith('alert.')) this.refreshAlerts();
    this.render();
  }

  setStream(open) {
    this.streamOpen = open;
    const status = this.root.querySelector('.stream');
    if (status) status.textContent = t('console.stream', { state: t(open ? 'console.streamOpen' : 'console.streamClosed') });
  }

  async acknowledgeAlert(id) {
    const response = await fetch(`/api/v1/alerts/${id}/ack`, { method: 'POST', credentials: 'same-origin', headers: WRITE_HEADERS, body: '{}' });
    if (response.ok) {
      this.message = '';
      this.onAcknowledged?.(id);
      await this.refreshAlerts();
    } else if (response.status === 404 || response.status === 405) {
      // The route itself is missing (an older server): say so rather than "not found".
      const text = await problemText(response);
      this.message = /route|method/i.test(text) ? t('console.ackUnavailable', { id, status: response.status }) : t('console.ackFailed', { message: text });
    } else {
      this.message = t('console.ackFailed', { message: await problemText(response) });
    }
    this.render();
  }

  async acknowledgeRequest(id) {
    const response = await fetch(`/api/v1/requests/${id}/ack`, { method: 'POST', credentials: 'same-origin', headers: WRITE_HEADERS, body: '{}' });
    this.message = response.ok ? '' : t('console.ackFailed', { message: await problemText(response) });
    await this.refreshRequests();
    this.render();
  }

  async move(id, state, note) {
    // Every move says why (contact_points/requests.py parse_status): the note goes in the
    // request's history for the requester and the other recipients.
    if (!note) {
      this.message = t('console.noteNeeded');
      this.render();
      this.root.querySelector(`#note-${id}`)?.focus();
      return;
    }
    const response = await fetch(`/api/v1/requests/${id}/status`, {
      method: 'POST',
      credentials: 'same-origin',
      headers: WRITE_HEADERS,
      body: JSON.stringify({ state, note }),
    });
    this.message = response.ok ? '' : t('console.moveFailed', { message: await problemText(response) });
    if (response.ok) this.notes.delete(id);
    await this.refreshRequests();
    this.render();
  }

  render() {
    const focused = document.activeElement && this.root.contains(document.activeElement) ? document.activeElement.dataset.key : null;
    const message = this.message ? el('p', { class: 'message', role: 'alert' }, this.message) : null;
    if (!this.session) {
      const input = el('input', { id: 'console-token', name: 'token', type: 'password', autocomplete: 'off', required: true, spellcheck: 'false' });
      const form = el(
        'form',
        {
          class: 'sign-in',
          onsubmit: (event) => {
            event.preventDefault();
            const token = input.value.trim();
            input.value = '';
            if (token) this.signIn(token);
          },
        },
        el('label', { for: 'console-token' }, t('console.token')),
        input,
        el('button', { type: 'submit', 'data-key': 'sign-in' }, t('console.signIn')),
      );
      this.root.replaceChildren(...[el('p', {}, t('console.intro')), message, form].filter(Boolean));
      return;
    }
    const s = this.session;
    const who = this.who(s);
    this.root.replaceChildren(
      ...[
      el('p', { class: 'who', title: s.principal || null, 'data-principal': s.principal || null }, t('console.signedIn', { who }), ' ', el('button', { type: 'button', 'data-key': 'sign-out', onclick: () => this.signOut() }, t('console.signOut'))),
      el('p', { class: 'stream' }, t('console.stream', { state: t(this.streamOpen ? 'console.streamOpen' : 'console.streamClosed') })),
      message,
      el('h3', { tabindex: '-1' }, t('console.inbox')),
      this.alerts.length ? el('ul', { class: 'inbox' }, this.alerts.map((f) => this.alertItem(f))) : el('p', {}, t('console.inboxEmpty')),
      el('h3', {}, t('console.requests')),
      this.requests.length ? el('ul', { class: 'inbox' }, this.requests.map((r) => this.requestItem(r))) : el('p', {}, t('console.requestsEmpty')),
      el('h3', {}, t('console.escalations')),
      this.log.length
        ? el('ol', { class: 'log' }, this.log.map((entry) => el('li', {}, el('time', { datetime: entry.at.toISOString() }, dateTime(entry.at)), ' — ', term('event', entry.type), describe(entry.event))))
        : el('p', {}, t('console.escalationsEmpty')),
      ].filter(Boolean),
    );
    if (focused) this.root.querySelector(`[data-key="${focused}"]`)?.focus();
  }

  // Who is signed in, in the reader's words: the office by name, the administration by its
  // country, else the role; the principal's id (office:ro-addis-ababa) kept in its title.
  who(s) {
    const whom = s.office ? contactName(s.office) : s.country ? t('console.administrationOf', { country: this.countryName(s.country) }) : term('role', s.role);
    return whom;
  }

  countryName(iso3) {
    return countryName(this.countries.get(iso3) || { iso3 });
  }

  alertItem(feature) {
    const p = feature.properties;
    const entries = (p.routing || []).filter((entry) => this.mine(entry));
    const states = entries.map((entry) => {
      if (entry.acknowledged_at) return t('console.acknowledged', { time: dateTime(entry.acknowledged_at) });
      const deadline = deadlineOf(entry, p.received);
      if (!deadline) return term('priority', entry.priority);
      const text = deadline.getTime() < Date.now() ? t('console.overdue', { time: dateTime(deadline) }) : t('console.deadline', { time: dateTime(deadline), age: age(deadline) });
      return `${term('priority', entry.priority)}: ${text}${entry.escalated_to ? ` → ${listOf([].concat(entry.escalated_to).map(contactName))}` : ''}`;
    });
    const pending = entries.some((entry) => !entry.acknowledged_at && entry.ack_within_seconds);
    return el(
      'li',
      { 'data-inbox-alert': String(p.id) },
      el('p', {}, severityBadge(p), ' ', el('strong', {}, headlineOf(p))),
      el('p', {}, states.join('; ')),
      el(
        'p',
        { class: 'actions' },
        el('button', { type: 'button', class: 'link', 'data-key': `open-${p.id}`, onclick: (e) => this.onOpen(p.id, e.currentTarget) }, t('list.open')),
        pending ? el('button', { type: 'button', 'data-key': `ack-${p.id}`, onclick: () => this.acknowledgeAlert(p.id) }, t('console.acknowledge')) : null,
      ),
    );
  }

  // A note per request, kept across re-renders (the list is redrawn when events arrive).
  noteField(id) {
    const input = el('input', { type: 'text', id: `note-${id}`, 'data-key': `note-${id}`, maxlength: '500', autocomplete: 'off' });
    input.value = this.notes.get(id) || '';
    input.addEventListener('input', () => this.notes.set(id, input.value));
    return el('p', { class: 'field' }, el('label', { for: `note-${id}` }, t('console.note')), input);
  }

  requestItem(request) {
    const s = this.session;
    const mine = (request.routing?.recipients || []).filter((r) => s.role === 'operator' || (s.role === 'bdt' && r.contact.id === 'bdt') || r.contact.id === s.office);
    const requester = s.role === 'administration' && s.country === request.country;
    const unacknowledged = mine.some((r) => r.ack_required && !r.acknowledged);
    const finished = ['closed', 'cancelled'].includes(request.state);
    const moves = Object.entries(mine.length ? RECIPIENT_MOVES : requester ? REQUESTER_MOVES : {}).filter(([, from]) => from.includes(request.state));
    const deadline = request.routing?.ack_deadline;
    return el(
      'li',
      { 'data-request': String(request.id) },
      el('p', {}, el('strong', {}, request.title), ` — ${term('requestKind', request.kind)}, `, el('span', { title: request.country }, this.countryName(request.country))),
      el(
        'p',
        {},
        `${t('console.state')}: ${term('requestState', request.state)} · ${t('console.urgency')}: ${term('requestUrgency', request.urgency)}`,
        deadline && unacknowledged ? ` · ${t('console.deadline', { time: dateTime(deadline), age: age(deadline) })}` : '',
      ),
      el(
        'p',
        { class: 'actions' },
        unacknowledged && !finished ? el('button', { type: 'button', 'data-key': `rack-${request.id}`, onclick: () => this.acknowledgeRequest(request.id) }, t('console.acknowledge')) : null,
        moves.map(([state]) =>
          el(
            'button',
            { type: 'button', 'data-key': `move-${request.id}-${state}`, onclick: () => this.move(request.id, state, this.notes.get(request.id)?.trim()) },
            t('console.moveTo', { state: term('requestState', state) }),
          ),
        ),
      ),
      moves.length ? this.noteField(request.id) : null,
    );
  }
}

function forgetSignedIn() {
  document.cookie = 'tampere_signed_in=; Path=/; Max-Age=0; SameSite=Strict';
}

function describe(event) {
  const bits = [event.identifier, event.title, event.state, event.alert_id ? `#${event.alert_id}` : null, event.request_id ? `#${event.request_id}` : null].filter(Boolean);
  // An escalation says who did not acknowledge and who is asked now (the step's contact point,
  // or which of its people: service/alerts/recipients.py, service/assistance/store.py).
  const escalated = /\.escalated$/.test(event.type || '') && event.to ? ` — ${t('console.escalatedTo', { from: event.from || '?', to: event.to })}` : '';
  return `${bits.length ? ` (${bits.join(', ')})` : ''}${escalated}`;
}
