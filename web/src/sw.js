// The service worker: after one visit the app opens without a network and shows the last
// alerts it saw, marked as not live. The shell (the page and every built asset, listed at build
// time by vite.config.js) is kept at install; the alert list, the base map and the connectivity
// layers' views are answered from the network when there is one, from the last copy when not. A
// copy carries X-Tampere-Stored-At, the time it was kept: the page says how old it is.
//
// Only answers the service marked X-Tampere-Audience: public are kept (service/audience.py):
// those to requests without a session, which anyone may see. An office's signed-in answers
// (restricted alerts among them) are never written to the browser's storage, where whoever
// opens the page offline on that computer later would be shown them.

const VERSION = self.__VERSION__;
const SHELL = self.__SHELL__;
const SHELL_CACHE = `tampere-shell-${VERSION}`;
// v2: v1 kept answers whatever their audience (signed-in lists too); it is deleted on activation.
const DATA_CACHE = 'tampere-data-v2';
const STAMP_CACHE = 'tampere-stamps-v2';
const VIEW_CACHE = 'tampere-views-v1';
const KEPT_CACHES = [DATA_CACHE, STAMP_CACHE, VIEW_CACHE];
const STORED_AT = 'X-Tampere-Stored-At';
const AUDIENCE = 'X-Tampere-Audience';
// What is kept for offline use besides the shell: the alert list, the country index, what the
// map draws on, the base map and the layer catalogue (each URL once; a new answer replaces the
// old). Imported PMTiles archives are read in byte ranges and not kept.
const KEPT = [/^\/api\/v1\/alerts$/, /^\/api\/v1\/countries$/, /^\/api\/v1\/basemap$/, /^\/api\/v1\/basemap\/countries$/, /^\/api\/v1\/layers$/];
// Views of the connectivity layers (a box at a zoom: the layer code snaps both, so a view seen
// again asks the same URL): the last MAX_VIEWS seen are kept, the oldest dropped first.
const VIEWS = [/^\/api\/v1\/layers\/[a-z-]+$/, /^\/api\/v1\/network-status$/];
const MAX_VIEWS = 60;

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(SHELL_CACHE)
      // The browser's HTTP cache first: the page has just loaded most of these (hashed names
      // never change meaning), so the worker keeps them without downloading them again.
      .then((cache) => cache.addAll(SHELL))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith('tampere-') && n !== SHELL_CACHE && !KEPT_CACHES.includes(n)).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === 'navigate') {
    event.respondWith(page(request));
  } else if (url.pathname.startsWith('/assets/')) {
    event.respondWith(caches.match(request).then((hit) => hit || fetch(request)));
  } else if (KEPT.some((pattern) => pattern.test(url.pathname)) && !url.searchParams.has('bbox')) {
    // Views of one box (the map close in) are not kept: offline, the whole list is drawn.
    event.respondWith(networkThenCopy(request, DATA_CACHE));
  } else if (VIEWS.some((pattern) => pattern.test(url.pathname))) {
    event.respondWith(networkThenCopy(request, VIEW_CACHE, MAX_VIEWS));
  }
});

// The page: from the network (it says the language and may be a new build), else the copy.
async function page(request) {
  try {
    const response = await fetch(request);
    if (response.ok) {
      const cache = await caches.open(SHELL_CACHE);
      await cache.put(request, response.clone());
    }
    return response;
  } catch (error) {
    const cache = await caches.open(SHELL_CACHE);
    return (await cache.match(request)) || (await cache.match('/', { ignoreSearch: true })) || Response.error();
  }
}

// The list is asked for every second or so: its body is written again only when its ETag
// changed; when it was last confirmed is a small entry of its own. `most`: the cache holds at
// most that many answers (the oldest kept is dropped).
const keptTags = new Map();

async function networkThenCopy(request, name, most = 0) {
  const cache = await caches.open(name);
  const stamps = await caches.open(STAMP_CACHE);
  const key = request.url;
  try {
    const response = await fetch(request);
    if (response.ok && response.headers.get(AUDIENCE) === 'public') {
      const tag = response.headers.get('etag');
      if (!tag || keptTags.get(key) !== tag) {
        await cache.put(key, response.clone());
        keptTags.set(key, tag);
        if (most) await trim(cache, stamps, most);
      }
      await stamps.put(key, new Response(new Date().toISOString()));
    }
    return response;
  } catch (error) {
    const kept = await cache.match(key);
    if (!kept) throw error;
    const storedAt = await stamps.match(key);
    const headers = new Headers(kept.headers);
    headers.set(STORED_AT, storedAt ? await storedAt.text() : new Date(0).toISOString());
    return new Response(await kept.arrayBuffer(), { status: 200, headers });
  }
}

// Drop the oldest answers past `most` (a cache lists its requests in the order they were put).
async function trim(cache, stamps, most) {
  const keys = await cache.keys();
  for (const old of keys.slice(0, Math.max(0, keys.length - most))) {
    await cache.delete(old);
    await stamps.delete(old.url);
    keptTags.delete(old.url);
  }
}
