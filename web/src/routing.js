// An alert's routing entries, read in both shapes the service has written: the contract's
// {"contact_point", "acknowledged_at", "escalated_to", "reasons"} and the earlier
// {"contact": {"id", ...}, "reason", "escalate_to"} (alerts stored before acknowledgement).
// Their reasons are told in the page's language from `grounds` (the same reasons as data:
// contact_points/rules.py Reason), the English text only for a kind this page does not know.

import { currentLanguage, dateTime, has, listOf, number, t, term } from './i18n.js';
import { el } from './list.js';

export function contactOf(entry) {
  return entry.contact_point ?? entry.contact?.id ?? '';
}

// Contact points' names: from the registry (GET /api/v1/contact-points, asked once by a
// signed-in page: it needs a principal), and from the routing entries an alert carries (each
// names its contact point), so that a signed-out reader sees names too.
const names = new Map();
let registry = null;

export function loadContacts() {
  registry ??= fetch('/api/v1/contact-points', { credentials: 'same-origin' })
    .then((response) => (response.ok ? response.json() : []))
    .then((rows) => {
      for (const row of Array.isArray(rows) ? rows : []) if (row.id && row.name) names.set(row.id, row.name);
    })
    .catch(() => {
      registry = null; // offline: asked again next time
    });
  return registry;
}

export function learnNames(routing) {
  for (const entry of routing || []) {
    const id = contactOf(entry);
    const name = entry.name || entry.contact?.name;
    if (id && name && !names.has(id)) names.set(id, name);
  }
}

// A chain step is a contact point, or people there ("ro-bangkok#deputies").
export function contactName(idOrEntry) {
  const step = typeof idOrEntry === 'string' ? idOrEntry : contactOf(idOrEntry);
  const [id, who] = step.split('#');
  const name = names.get(id) || (typeof idOrEntry === 'object' && (idOrEntry.name || idOrEntry.contact?.name)) || id;
  return who ? t('routing.people', { contact: name, who: term('people', who) }) : name;
}

// The name shown, the id kept beside it for who needs it (hover, copy, tests).
export function contactLabel(idOrEntry) {
  const step = typeof idOrEntry === 'string' ? idOrEntry : contactOf(idOrEntry);
  return el('bdi', { class: 'contact', 'data-contact-point': step, title: step }, contactName(idOrEntry));
}

export function reasonsOf(entry) {
  if (Array.isArray(entry.reasons)) return entry.reasons;
  return entry.reason ? [entry.reason] : [];
}

// The contact points an acknowledgement is still owed by, when the deadline falls.
export function deadlineOf(entry, received) {
  if (!entry.ack_within_seconds || !received) return null;
  return new Date(new Date(received).getTime() + entry.ack_within_seconds * 1000);
}

const percent = (value) => new Intl.NumberFormat(currentLanguage(), { style: 'percent', maximumFractionDigits: 0 }).format(value);

// One reason in the page's language, or null for a kind this page does not know.
export function groundText(ground, country) {
  const countries = (codes) => listOf((codes || []).map(country));
  const priority = (p) => term('priority', p);
  const say = {
    cap: (g) => t('routing.reason.cap', { element: t(`routing.element.${g.element}`), value: term(g.element, g.value), allowed: listOf((g.allowed || []).map((v) => term(g.element, v))) }),
    category: (g) => t('routing.reason.category', { categories: listOf((g.categories || []).map((c) => term('category', c))) }),
    event: (g) => t('routing.reason.event', { event: g.event, words: listOf(g.words || []) }),
    member_states: (g) => t('routing.reason.memberStates', { countries: countries(g.countries) }),
    no_member_state: (g) => t(g.mapped === false ? 'routing.reason.notPlaced' : 'routing.reason.noMemberState'),
    countries: (g) => t('routing.reason.countries', { countries: countries(g.countries) }),
    regions: (g) => t('routing.reason.regions', { regions: listOf((g.regions || []).map((r) => term('region', r))) }),
    groups: (g) => t('routing.reason.groups', { members: listOf((g.members || []).map((m) => `${country(m.country)} (${term('group', m.group)})`)) }),
    sites_down_share: (g) => t('routing.reason.sitesDownShare', { down: number(g.down), total: number(g.total), share: percent(g.share), atLeast: percent(g.at_least) }),
    sites_down: (g) => t('routing.reason.sitesDown', { down: number(g.down), atLeast: number(g.at_least) }),
    population: (g) => t('routing.reason.population', { population: number(Math.round(g.population)), atLeast: number(g.at_least) }),
    cable_landings: (g) => t('routing.reason.cableLandings', { count: g.count, names: listOf(g.landing_points || []) }),
    signature: (g) => t(g.verified ? 'routing.reason.signed' : 'routing.reason.unsigned'),
    area_office: (g) =>
      g.coverage && g.coverage !== 'complete'
        ? t('routing.reason.areaOfficePartial', { country: country(g.country), coverage: term('coverage', g.coverage) })
        : t('routing.reason.areaOffice', { country: country(g.country) }),
    regional_office: (g) => t('routing.reason.regionalOffice', { region: term('region', g.region) }),
    national_contact: (g) => t('routing.reason.nationalContact', { country: country(g.country) }),
    bdt: () => t('routing.reason.bdt'),
    named: (g) => t('routing.reason.named', { contact: contactName(g.contact_point) }),
    priority_set: (g) => t('routing.reason.prioritySet', { priority: priority(g.priority) }),
    priority_cap: (g) =>
      g.raised_from
        ? t('routing.reason.priorityRaised', { priority: priority(g.priority), from: priority(g.raised_from), severity: term('severity', g.severity), urgency: term('urgency', g.urgency) })
        : t('routing.reason.priorityCap', { priority: priority(g.priority), severity: term('severity', g.severity), urgency: term('urgency', g.urgency) }),
    escalation: (g) => t('routing.reason.escalation', { from: contactName(g.from), due: dateTime(g.due), to: contactName(g.to) }),
  }[ground?.kind];
  return say ? say(ground) : null;
}

// An entry's reasons grouped by the rule that gave them: [{rule, reasons: [text or element]}].
// A reason whose kind is unknown (or an entry stored before `grounds`) is the service's English
// text, marked so (lang="en") for screen readers and translation tools.
export function reasonsByRule(entry, country) {
  const texts = reasonsOf(entry);
  const grounds = Array.isArray(entry.grounds) && entry.grounds.length === texts.length ? entry.grounds : texts.map(() => null);
  const rules = new Map();
  texts.forEach((text, i) => {
    const ground = grounds[i];
    const [prefix, ...rest] = String(text).split(': ');
    const rule = ground?.rule ?? (rest.length ? prefix : entry.rule || '');
    const english = rest.length && rule === prefix ? rest.join(': ') : String(text);
    const said = ground ? groundText(ground, country) : null;
    if (!rules.has(rule)) rules.set(rule, []);
    rules.get(rule).push(said ?? el('span', { lang: 'en' }, english));
  });
  return [...rules].map(([rule, reasons]) => ({ rule, reasons }));
}

// The facts an entry rests on that come from unverified sources (provenance): how many of how
// many, and each said in the page's language from its `about` (else its English text, so marked).
export function unverifiedOf(entry, country) {
  const facts = Array.isArray(entry.provenance) ? entry.provenance : [];
  const unverified = facts.filter((fact) => fact && fact.verified === false);
  const said = new Map();
  for (const fact of unverified) {
    const text = factText(fact.about, country);
    const key = text ?? fact.fact;
    if (!said.has(key)) said.set(key, text ?? el('span', { lang: 'en' }, String(fact.fact)));
  }
  return { unverified: unverified.length, total: facts.length, facts: [...said.values()] };
}

function factText(about, country) {
  const say = {
    cap: (a) => t('routing.fact.cap', { element: has(`routing.element.${a.element}`) ? t(`routing.element.${a.element}`) : a.element }),
    member_state: (a) => t('routing.fact.member_state', { country: country(a.country) }),
    group: (a) => t('routing.fact.group', { country: country(a.country), group: term('group', a.group) }),
    office: (a) => t('routing.fact.office', { contact: contactName(a.contact_point) }),
    escalation_chain: (a) => t('routing.fact.escalation_chain', { contact: contactName(a.contact_point) }),
    placement: () => t('routing.fact.placement'),
    impact: (a) => (['sites', 'population', 'landings'].includes(a.layer) ? t(`routing.fact.${a.layer}`) : null),
  }[about?.kind];
  return say ? say(about) : null;
}

// A history step in the page's language: its action, and what its details say (who did not
// answer by when, who acknowledged); a note without details is the service's English text.
export function historyText(step) {
  const d = step.details || {};
  const names = (ids) => listOf((ids || []).map(contactName));
  switch (step.action) {
    case 'escalated':
      if (d.from && d.to) return t('history.escalated', { from: contactName(d.from), due: d.due ? dateTime(d.due) : '', to: contactName(d.to) });
      break;
    case 'routing.acknowledged':
      if (d.contact_points?.length) return t('history.acknowledgedBy', { contacts: names(d.contact_points) });
      break;
    case 'routing.added':
      if (d.contact_points?.length) return t('history.added', { contacts: names(d.contact_points) });
      break;
    case 'reference-refused':
      return d.by_msgType ? t('history.refused', { type: term('msgType', d.by_msgType) }) : t('history.refusedUnknown');
    default:
      break;
  }
  return step.note ? el('span', { lang: 'en' }, step.note) : null;
}
