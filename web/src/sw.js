// The service worker: after one visit the app opens without a network and shows the last
// alerts it saw, marked as not live. The shell (the page and every built asset, listed at build
// time by vite.config.js) is kept at install; the alert list and the base map are answered
// from the network when there is one, from the last copy when not. A list answered from the
// copy carries X-Tampere-Stored-At, the time it was kept: the page says how old it is.

const VERSION = self.__VERSION__;
const SHELL = self.__SHELL__;
const SHELL_CACHE = `tampere-shell-${VERSION}`;
const DATA_CACHE = 'tampere-data-v1';
const STAMP_CACHE = 'tampere-stamps-v1';
const STORED_AT = 'X-Tampere-Stored-At';
// What is kept for offline use besides the shell: the alert list, the country index, what the
// map draws on and the base map (each URL once; a new answer replaces the old). Imported PMTiles
// archives are read in byte ranges and not kept.
const KEPT = [/^\/api\/v1\/alerts$/, /^\/api\/v1\/countries$/, /^\/api\/v1\/basemap$/, /^\/api\/v1\/basemap\/countries$/];

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
      .then((names) => Promise.all(names.filter((n) => n.startsWith('tampere-shell-') && n !== SHELL_CACHE).map((n) => caches.delete(n))))
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
    event.respondWith(networkThenCopy(request));
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
// changed; when it was last confirmed is a small entry of its own.
const keptTags = new Map();

async function networkThenCopy(request) {
  const cache = await caches.open(DATA_CACHE);
  const stamps = await caches.open(STAMP_CACHE);
  const key = request.url;
  try {
    const response = await fetch(request);
    if (response.ok) {
      const tag = response.headers.get('etag');
      if (!tag || keptTags.get(key) !== tag) {
        await cache.put(key, response.clone());
        keptTags.set(key, tag);
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
