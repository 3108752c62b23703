// The active alerts the page shows: fetched from GET /api/v1/alerts?view=map (compact, areas
// generalised for the zoom), kept current by an event stream (the principal's, or the public
// one) or, while no stream is open, a short poll, and marked stale when they come from the
// service worker's copy because the network is gone.

export const POLL_MS = 750; // without a stream, an alert posted anywhere shows within a second
const STREAMING_POLL_MS = 30000; // the stream wakes the page; this only backs it up
// The service worker's header on a list it answered from its cache (src/sw.js).
export const STORED_AT_HEADER = 'x-tampere-stored-at';
// The list holds every active alert, its areas generalised for a world or regional view; from
// DETAIL_ZOOM the map asks for the areas in its view in more detail (src/map.js).
export const MAP_ZOOM_STEPS = [2, 5];
export const DETAIL_ZOOM_STEPS = [7, 9, 11, 13];

export class AlertStore {
  constructor() {
    this.features = [];
    this.listeners = new Set();
    this.live = false; // true: the list came from the service now
    this.streamOpen = false; // true: an event stream tells the page of every change
    this.updatedAt = null; // when the list shown was last read from the service
    this.error = null;
    this.withExercises = false;
    this.zoom = MAP_ZOOM_STEPS[0];
    this.etag = null;
    this.timer = null;
    this.pollMs = POLL_MS;
    this.inFlight = null;
    this.again = false;
  }

  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(reason) {
    for (const listener of this.listeners) listener(this, reason);
  }

  url({ zoom = this.zoom, bbox = null } = {}) {
    const params = new URLSearchParams({ view: 'map', zoom: String(zoom), limit: '5000' });
    if (bbox) params.set('bbox', bbox.join(','));
    params.append('status', 'Actual');
    if (this.withExercises) {
      params.append('status', 'Exercise');
      params.append('status', 'Test');
    }
    return `/api/v1/alerts?${params}`;
  }

  byId(id) {
    return this.features.find((feature) => feature.id === id) || null;
  }

  setZoom(zoom) {
    const step = [...MAP_ZOOM_STEPS].reverse().find((z) => zoom >= z) ?? MAP_ZOOM_STEPS[0];
    if (step !== this.zoom) {
      this.zoom = step;
      this.refresh();
    }
  }

  setExercises(on) {
    this.withExercises = on;
    this.refresh();
  }

  // Ask the service now; concurrent asks fold into one more after the current.
  async refresh() {
    if (this.inFlight) {
      this.again = true;
      return this.inFlight;
    }
    this.inFlight = this.load().finally(() => {
      this.inFlight = null;
      if (this.again) {
        this.again = false;
        this.refresh();
      }
    });
    return this.inFlight;
  }

  async load() {
    let response;
    try {
      // no-cache: the browser revalidates (If-None-Match) and an unchanged list costs a 304.
      response = await fetch(this.url(), { cache: 'no-cache', credentials: 'same-origin' });
    } catch (error) {
      this.markStale(error);
      return;
    }
    if (!response.ok) {
      this.error = `${response.status} ${response.statusText}`;
      this.emit('error');
      return;
    }
    const storedAt = response.headers.get(STORED_AT_HEADER);
    const etag = response.headers.get('etag');
    const wasLive = this.live;
    this.error = null;
    if (storedAt) {
      this.live = false;
      this.updatedAt = new Date(storedAt);
    } else {
      this.live = true;
      this.updatedAt = new Date();
    }
    if (etag && etag === this.etag && wasLive === this.live && this.features.length) {
      this.emit('tick');
      return;
    }
    const body = await response.json();
    this.etag = etag;
    this.features = body.features || [];
    this.emit('alerts');
  }

  markStale(error) {
    this.live = false;
    this.error = error ? String(error.message || error) : null;
    this.emit('stale');
  }

  // Poll every `ms` while the page is visible (and once on return to it).
  startPolling(ms = POLL_MS) {
    this.pollMs = ms;
    clearInterval(this.timer);
    this.timer = setInterval(() => {
      if (document.visibilityState === 'visible') this.refresh();
    }, ms);
  }

  streaming(on) {
    this.streamOpen = on;
    this.startPolling(on ? STREAMING_POLL_MS : POLL_MS);
  }

  // The stream said something (an event or a heartbeat): the list read from the service is
  // still current, so "last updated" is now.
  confirm() {
    if (!this.streamOpen || !this.live || this.inFlight) return;
    this.updatedAt = new Date();
    this.emit('tick');
  }
}
