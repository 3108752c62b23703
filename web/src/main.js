// Tampere's page: the list of active alerts first (usable before the map), then the map, the
// alert panel and, after signing in, the office console. Live through the event stream (the
// public one when not signed in), through a short poll only while no stream can open; offline,
// the last known alerts marked stale.

import './style.css';
import { AlertStore } from './alerts.js';
import { chooseAlert } from './chooser.js';
import { OfficeConsole } from './console.js';
import { LANGUAGES, NATIVE_NAMES, age, clock, dateTime, loadLanguage, t, translateDocument } from './i18n.js';
import { AlertList, el } from './list.js';
import { EventStream, PUBLIC } from './live.js';
import { AlertPanel } from './panel.js';
import { RequestsLayer } from './requests_layer.js';

const $ = (id) => document.getElementById(id);
// An operator's or administration's outage report (service/events/log.py NETWORK_STATUS): on
// both streams, for whoever may see it (a Public report: everyone).
const NETWORK_STATUS = 'network.status';

async function main() {
  const html = document.documentElement;
  // The service wrote <html lang dir> for this URL (service/webapp/page.py); a page opened
  // offline from the service worker's copy may be another language's, so the URL decides.
  const asked = new URLSearchParams(location.search).get('lang');
  const language = await loadLanguage(LANGUAGES.includes(asked) ? asked : html.lang);
  html.lang = language;
  html.dir = language === 'ar' ? 'rtl' : 'ltr';
  document.title = `Tampere — ${t('app.title')}`;
  translateDocument();
  languageSwitcher(language);

  const countries = new Map();
  const store = new AlertStore();
  let map = null;
  let session = null;
  let requestsLayer = null;
  // The requests' layer exists once someone is signed in (a signed-out page draws none and
  // spends nothing on it); signing out empties it.
  const showRequests = () => {
    if (!map) return;
    if (!session) {
      requestsLayer?.clear();
      return;
    }
    requestsLayer ??= new RequestsLayer(map.map, { legend: $('legend') });
    // Enter at the cross says the requests there too.
    map.requests = requestsLayer;
    requestsLayer.refresh();
  };

  const panel = new AlertPanel({
    root: $('panel'),
    countries,
    session: () => session,
    onClose: () => map?.show(null),
    onShow: (id, geometry) => map?.show(geometry),
    onNetwork: (geometry, at) => map?.networkBefore(geometry, at),
  });
  const open = (id, opener) => panel.open(id, opener);
  const list = new AlertList({
    list: $('alert-list'),
    count: $('alerts-count'),
    form: $('filters'),
    countries,
    onOpen: open,
    onShow: async (id) => {
      const feature = store.byId(id);
      map?.show(feature?.geometry || null);
      $('map-region').scrollIntoView({ behavior: matchMedia('(prefers-reduced-motion: reduce)').matches ? 'auto' : 'smooth', block: 'nearest' });
    },
    onExercises: (on) => store.setExercises(on),
  });
  list.onFilter = () => map?.setAlerts(list.visible());

  const status = () => {
    const state = $('status-state');
    $('status').dataset.live = String(store.live);
    let stateText;
    let timeText = '';
    if (store.live) {
      stateText = t(store.streamOpen ? 'status.live' : 'status.polling');
      timeText = t('status.lastUpdated', { time: clock(store.updatedAt), age: age(store.updatedAt) });
    } else if (store.updatedAt) {
      stateText = t('status.stale');
      timeText = t('status.staleAge', { time: clock(store.updatedAt), age: age(store.updatedAt) });
    } else if (store.error) {
      stateText = store.features.length ? t('status.error', { message: store.error }) : t('status.staleNever');
    } else {
      stateText = t('status.loading');
    }
    // The state is a live region: written only when it changes, so the ticking clock beside
    // it is not read out every second.
    if (state.textContent !== stateText) state.textContent = stateText;
    $('status-time').textContent = timeText;
    // The map's attribution says it too: never "live" for a kept copy.
    if (store.live) map?.setAlertsState?.(t('map.alertsLive'));
    else if (store.updatedAt) map?.setAlertsState?.(t('map.alertsStale', { time: dateTime(store.updatedAt) }));
    else if (store.error) map?.setAlertsState?.(t('map.alertsNone'));
  };

  store.subscribe((_store, reason) => {
    if (reason === 'alerts') {
      list.update(store.features);
      panel.refresh();
      // For bench/web.py: when the list was first usable.
      if (!performance.getEntriesByName('tampere:list').length) performance.mark('tampere:list');
      map?.setAlerts(list.visible());
    }
    status();
  });
  setInterval(status, 1000);
  status();

  await store.refresh();
  store.startPolling();
  // A link in a delivery's e-mail (service/deliveries/email.py) names an alert: /?alert=ID opens
  // its panel, where a recipient signed in acknowledges it.
  const linked = Number(new URLSearchParams(location.search).get('alert'));
  if (Number.isSafeInteger(linked) && linked > 0) open(linked, null);
  countryIndex(countries).then(() => list.update(store.features));

  // The map after the list: MapLibre is most of the page's bytes.
  $('map').append(el('p', { class: 'map-loading' }, t('map.loading')));
  import('./map.js')
    .then(async ({ startMap }) => {
      $('map').replaceChildren();
      map = await startMap({
        container: $('map'),
        legend: $('legend'),
        help: $('map-help'),
        // Several alerts under the point: the reader chooses which (src/chooser.js).
        onOpen: (ids) => {
          const opener = document.activeElement;
          const alerts = ids.map((id) => store.byId(id)).filter(Boolean);
          if (alerts.length > 1) chooseAlert({ alerts, opener, onChoose: open });
          else open(ids[0], opener);
        },
        onZoom: (zoom) => store.setZoom(zoom),
        detailUrl: (options) => store.url(options),
      });
      map.setAlerts(list.visible());
      showRequests();
      status();
    })
    .catch((error) => {
      $('map').replaceChildren(el('p', { class: 'banner' }, t('map.failed', { message: error.message })));
    })
    .finally(() => keepForOffline(store));

  // While a stream is open the list is current: it is read again on each alert event, on each
  // (re)connection (what happened while the socket was down), and every 30 s as a backstop.
  const streamState = (open) => {
    store.streaming(open);
    if (open) store.refresh();
    status();
  };
  const stream = new EventStream({
    onEvent: (event) => {
      if ((event.type || '').startsWith('alert.')) store.refresh();
      panel.changed(event.alert_id);
      if ((event.type || '').startsWith('request.')) requestsLayer?.refresh();
      if (event.type === NETWORK_STATUS) map?.layers?.networkChanged();
      office.event(event);
    },
    onState: (open) => {
      office.setStream(open);
      streamState(open);
    },
    onUnauthorized: () => office.ended(),
    onAlive: () => store.confirm(),
  });
  const publicStream = new EventStream({
    path: PUBLIC,
    onEvent: (event) => {
      if ((event.type || '').startsWith('alert.')) store.refresh();
      if (event.type === NETWORK_STATUS) map?.layers?.networkChanged();
      panel.changed(event.alert_id);
    },
    onState: streamState,
    onAlive: () => store.confirm(),
  });
  const office = new OfficeConsole({
    root: $('console-body'),
    countries,
    onOpen: open,
    onAcknowledged: (id) => panel.changed(id),
    onSession: (value) => {
      session = value;
      // Signed in: the principal's stream wakes the page; signed out: the public one does.
      if (value) {
        publicStream.stop();
        stream.start();
      } else {
        stream.stop();
        publicStream.start();
      }
      showRequests();
      status();
    },
  });
  office.start();

}

// After the map's code has arrived: the worker then keeps the shell from the browser's HTTP
// cache instead of downloading MapLibre a second time. Once it controls the page, the list and
// what the map draws on are read through it once, so it keeps them: a page on the event stream
// may not ask for the list again for a while, and the next visit may be offline.
function keepForOffline(store) {
  if (!('serviceWorker' in navigator)) return;
  navigator.serviceWorker.addEventListener(
    'controllerchange',
    () => {
      store.refresh();
      fetch('/api/v1/basemap', { credentials: 'same-origin' }).catch(() => {});
    },
    { once: true },
  );
  navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(() => {});
}

function languageSwitcher(current) {
  const here = new URL(location.href);
  $('languages').replaceChildren(
    ...LANGUAGES.map((code) => {
      here.searchParams.set('lang', code);
      return el(
        'li',
        {},
        el('a', { href: `${here.pathname}${here.search}`, lang: code, hreflang: code, 'aria-current': code === current ? 'true' : null }, NATIVE_NAMES[code]),
      );
    }),
  );
}

async function countryIndex(countries) {
  try {
    const response = await fetch('/api/v1/countries');
    if (!response.ok) return;
    for (const row of (await response.json()).countries) countries.set(row.iso3, row);
  } catch {
    // offline without a copy: countries are shown by code
  }
}

main();
