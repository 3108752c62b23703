// The event streams: WS /api/v1/events for a signed-in page, with the session cookie (same
// origin; the page never holds a token), and WS /api/v1/events/public for everyone else (what
// anyone may see: Public alerts). Both resume with ?since=<last id> after a drop, so no event is
// missed or seen twice; every message, heartbeats too, says the stream is alive (`onAlive`).

const CLOSE_UNAUTHORIZED = 4401;
const MAX_BACKOFF_MS = 15000;
export const SIGNED_IN = '/api/v1/events';
export const PUBLIC = '/api/v1/events/public';

export class EventStream {
  constructor({ path = SIGNED_IN, onEvent, onState, onUnauthorized = () => {}, onAlive = () => {} }) {
    this.path = path;
    this.onEvent = onEvent;
    this.onState = onState;
    this.onUnauthorized = onUnauthorized;
    this.onAlive = onAlive;
    this.lastId = null;
    this.socket = null;
    this.stopped = true;
    this.backoff = 500;
    this.timer = null;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.socket) this.socket.close(1000);
    this.socket = null;
  }

  connect() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const since = this.lastId === null ? '' : `?since=${this.lastId}`;
    const socket = new WebSocket(`${scheme}//${location.host}${this.path}${since}`);
    this.socket = socket;
    socket.addEventListener('open', () => {
      this.backoff = 500;
      this.onState(true);
    });
    socket.addEventListener('message', (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      this.onAlive();
      if (event.type === 'heartbeat') {
        if (this.lastId === null && event.last_id !== undefined) this.lastId = event.last_id;
        return;
      }
      if (typeof event.id === 'number') this.lastId = event.id;
      this.onEvent(event);
    });
    socket.addEventListener('close', (close) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.onState(false);
      if (this.stopped) return;
      if (close.code === CLOSE_UNAUTHORIZED) {
        this.stopped = true;
        this.onUnauthorized();
        return;
      }
      // Dropped (network, restart, 4408 too slow): again, from the last id seen.
      this.timer = setTimeout(() => this.connect(), this.backoff);
      this.backoff = Math.min(MAX_BACKOFF_MS, this.backoff * 2);
    });
  }
}
