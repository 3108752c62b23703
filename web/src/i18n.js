// The interface and the CAP vocabulary in six languages, from data files (src/i18n/*.json);
// numbers, dates and plurals by the browser's Intl for the page's language.

export const LANGUAGES = ['ar', 'zh', 'en', 'fr', 'ru', 'es'];
// Each language named in itself, for the language switcher.
export const NATIVE_NAMES = { ar: 'العربية', zh: '中文', en: 'English', fr: 'Français', ru: 'Русский', es: 'Español' };

const files = import.meta.glob('./i18n/*.json', { import: 'default' });
let language = 'en';
let strings = {};
let fallback = {};

export async function loadLanguage(lang) {
  language = LANGUAGES.includes(lang) ? lang : 'en';
  fallback = language === 'en' ? {} : await files['./i18n/en.json']();
  strings = await files[`./i18n/${language}.json`]();
  return language;
}

export function currentLanguage() {
  return language;
}

function lookup(table, key) {
  return key.split('.').reduce((node, part) => (node && typeof node === 'object' ? node[part] : undefined), table);
}

// t('list.sent', {time}) -> the string, with {name} filled and ICU-style plurals
// ({count, plural, one {# alert} other {# alerts}}) chosen by Intl.PluralRules.
export function t(key, values = {}) {
  const text = lookup(strings, key) ?? lookup(fallback, key) ?? key;
  return format(String(text), values);
}

export function has(key) {
  return lookup(strings, key) !== undefined || lookup(fallback, key) !== undefined;
}

function format(text, values) {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const open = text.indexOf('{', i);
    if (open < 0) {
      out += text.slice(i);
      break;
    }
    out += text.slice(i, open);
    const close = matching(text, open);
    const inner = text.slice(open + 1, close);
    const [name, kind] = inner.split(',').map((s) => s.trim());
    if (kind === 'plural') {
      out += plural(inner.slice(inner.indexOf('plural') + 6).replace(/^\s*,/, ''), Number(values[name]));
    } else {
      const value = values[name];
      out += value === undefined ? `{${inner}}` : typeof value === 'number' ? number(value) : String(value);
    }
    i = close + 1;
  }
  return out;
}

function matching(text, open) {
  let depth = 0;
  for (let j = open; j < text.length; j += 1) {
    if (text[j] === '{') depth += 1;
    else if (text[j] === '}' && (depth -= 1) === 0) return j;
  }
  return text.length - 1;
}

function plural(cases, count) {
  const options = {};
  const pattern = /\s*(=\d+|zero|one|two|few|many|other)\s*\{/g;
  let match;
  while ((match = pattern.exec(cases))) {
    const start = match.index + match[0].length - 1;
    const end = matching(cases, start);
    options[match[1]] = cases.slice(start + 1, end);
    pattern.lastIndex = end + 1;
  }
  const chosen = options[`=${count}`] ?? options[new Intl.PluralRules(language).select(count)] ?? options.other ?? '';
  return chosen.replaceAll('#', number(count));
}

// CAP vocabulary (severity, urgency, certainty, status, msgType, category...): the value in
// the page's language; a value outside the vocabulary is shown as the issuer wrote it.
export function term(kind, value) {
  if (value === null || value === undefined || value === '') return '';
  // Looked up whole: values may hold dots themselves (event types: "request.created").
  const found = lookup(strings, `vocab.${kind}`)?.[value] ?? lookup(fallback, `vocab.${kind}`)?.[value];
  return found ?? String(value);
}

// A list of words as the page's language writes one: "Kenya and Tanzania", "كينيا وتنزانيا",
// "肯尼亚和坦桑尼亚" (Intl.ListFormat), never joined with an English comma.
export function listOf(items, type = 'conjunction') {
  const words = items.filter((item) => item !== null && item !== undefined && item !== '').map(String);
  return new Intl.ListFormat(language, { style: 'long', type }).format(words);
}

// WCAG 2.2 SC 3.1.2 (language of parts): the language CAP text is written in, from its <info>'s
// <language> (CAP 1.2 §3.2.2: "en-US" when the block names none), for a `lang` attribute.
export function capLanguage(info) {
  return (info && info.language) || 'en-US';
}

export function number(value) {
  return new Intl.NumberFormat(language).format(value);
}

export function dateTime(value) {
  if (!value) return '';
  return new Intl.DateTimeFormat(language, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(value));
}

export function clock(value) {
  return new Intl.DateTimeFormat(language, { timeStyle: 'medium' }).format(new Date(value));
}

const UNITS = [
  ['day', 86400],
  ['hour', 3600],
  ['minute', 60],
  ['second', 1],
];

// "5 minutes ago", "in 2 hours", by Intl.RelativeTimeFormat.
export function age(value, now = Date.now()) {
  const seconds = Math.round((new Date(value).getTime() - now) / 1000);
  const format = new Intl.RelativeTimeFormat(language, { numeric: 'auto' });
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size || unit === 'second') return format.format(Math.trunc(seconds / size), unit);
  }
  return '';
}

// A country's name in the page's language from its ISO 3166-1 alpha-2 code (Intl.DisplayNames),
// else the name the service gave.
export function countryName(country) {
  if (!country) return '';
  if (country.iso2) {
    try {
      const name = new Intl.DisplayNames([language], { type: 'region' }).of(country.iso2);
      if (name && name !== country.iso2) return name;
    } catch {
      // an alpha-2 code Intl does not know: the service's name
    }
  }
  return country.name || country.iso3;
}

export function languageName(tag) {
  try {
    return new Intl.DisplayNames([language], { type: 'language' }).of(tag) || tag;
  } catch {
    return tag;
  }
}

// CAP 1.2 §3.2.2 <language> (RFC 3066): the best <info> for the page's language, as RFC 4647
// lookup would pick it: the same language (any region), else English, else the first.
export function bestInfo(infos) {
  if (!infos || infos.length === 0) return null;
  const primary = (tag) => String(tag || 'en-US').toLowerCase().split('-')[0];
  return (
    infos.find((info) => primary(info.language) === language) ||
    infos.find((info) => primary(info.language) === 'en') ||
    infos[0]
  );
}

// Every [data-t] element gets its string.
export function translateDocument(root = document) {
  for (const element of root.querySelectorAll('[data-t]')) element.textContent = t(element.dataset.t);
}
