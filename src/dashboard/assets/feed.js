// The live feed over a WebSocket: filter in the URL and by message, resume after a drop with
// `since=<last id>`, and a watchdog that notices a silent connection by its missing heartbeats.

const BACKLOG = 200;
const MAX_RETRY_MS = 15_000;
const BUSY_RETRY_MS = 5_000;
const DEFAULT_HEARTBEAT_MS = 15_000;
/** Heartbeats that may go missing before the connection counts as dead. */
const MISSED_HEARTBEATS = 2.5;

const CLOSE_TOO_SLOW = 4008;
/** The sign-in the socket hung on ended: signed out elsewhere, expired, or the token removed. */
const CLOSE_ACCESS_ENDED = 4001;
const CLOSE_TOO_MANY = 1013;
const CLOSE_POLICY = 1008;

/** Does `event` pass `filter` (lists of accepted values, empty = any), as src/feed/feed-filter.ts judges it? */
export function matches(event, filter) {
  const accepts = (list, value) => list === undefined || list.length === 0 || (value !== null && value !== undefined && list.includes(value));
  return (
    accepts(filter.app, event.app?.id) &&
    accepts(filter.action, event.action) &&
    accepts(filter.kind, event.kind) &&
    accepts(filter.group, event.group) &&
    accepts(filter.owner_country, event.owner?.country) &&
    accepts(filter.attribution, event.attribution) &&
    (filter.hosting_country === undefined ||
      filter.hosting_country.length === 0 ||
      (event.hosting ?? []).some((host) => filter.hosting_country.includes(host.country))) &&
    accepts(filter.client, event.client)
  );
}

/** Queries `event` stands for: more than 1 when a device's identical repeats were folded into it. */
export function queryCount(event) {
  return Number.isSafeInteger(event.count) && event.count > 1 ? event.count : 1;
}

/** Only the non-empty lists: an empty list means "any". */
function filterParams(filter) {
  const params = {};
  for (const [key, values] of Object.entries(filter)) if (values.length > 0) params[key] = values;
  return params;
}

/**
 * handlers: onEvent(event, backlog) with backlog true for events from before this page
 * connected, onGap(missed), onState(state, text) with state one of
 * 'connecting' | 'live' | 'offline', onRejected(message) for a refused filter, onUnauthorized().
 */
export class FeedConnection {
  constructor(handlers) {
    this.handlers = handlers;
    this.socket = null;
    this.filter = {};
    /** A filter sent but not yet acknowledged: events still in flight were chosen by the old one. */
    this.unconfirmed = null;
    /** The filter the server applies, to fall back on when it refuses a new one. */
    this.confirmed = {};
    this.lastId = null;
    this.shownThrough = null;
    /** Newest id when the first connection opened: what came up to it is backlog. */
    this.liveFrom = null;
    this.attempts = 0;
    this.retryTimer = 0;
    this.watchdog = 0;
    this.heartbeatMs = DEFAULT_HEARTBEAT_MS;
    this.running = false;
  }

  /** `shownThrough`: the newest id already shown (from the history); the feed's backlog up to it is skipped. */
  start(filter, shownThrough = null) {
    this.filter = filter;
    this.shownThrough = shownThrough;
    this.running = true;
    this.lastId = null;
    this.liveFrom = null;
    this.attempts = 0;
    this.open();
  }

  stop() {
    this.running = false;
    clearTimeout(this.retryTimer);
    this.discard();
  }

  setFilter(filter) {
    this.filter = filter;
    if (this.socket !== null && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify({ type: 'filter', ...filterParams(filter) }));
      this.unconfirmed = filter;
    }
  }

  url() {
    const url = new URL('/feed', location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    if (this.lastId === null) url.searchParams.set('backlog', String(BACKLOG));
    else url.searchParams.set('since', String(this.lastId));
    for (const [key, values] of Object.entries(filterParams(this.filter))) url.searchParams.set(key, values.join(','));
    return url;
  }

  open() {
    this.handlers.onState('connecting', this.attempts === 0 ? 'Connecting to the live feed…' : 'Reconnecting to the live feed…');
    let socket;
    try {
      socket = new WebSocket(this.url());
    } catch {
      this.retry('Could not open the live feed');
      return;
    }
    this.socket = socket;
    // The new URL carries the filter: nothing left to confirm.
    this.unconfirmed = null;
    this.confirmed = this.filter;
    let greeted = false;
    socket.onmessage = (message) => {
      this.arm();
      let data;
      try {
        data = JSON.parse(message.data);
      } catch {
        return;
      }
      if (data.type === 'hello') greeted = true;
      this.receive(data);
    };
    socket.onclose = (event) => {
      this.discard();
      if (this.running) this.closed(event.code, greeted);
    };
    this.arm();
  }

  receive(message) {
    switch (message.type) {
      case 'hello': {
        this.attempts = 0;
        if (typeof message.heartbeat_ms === 'number' && message.heartbeat_ms > 0) this.heartbeatMs = message.heartbeat_ms;
        // A server that lost its ids (restart without history) starts lower: take its numbering.
        if (typeof message.last_id === 'number') {
          if (this.liveFrom === null) this.liveFrom = message.last_id;
          if (this.lastId !== null && message.last_id < this.lastId) this.lastId = this.liveFrom = message.last_id;
        }
        this.arm();
        this.health(message.degraded);
        break;
      }
      case 'status':
        this.health(message.degraded);
        break;
      case 'event': {
        const event = message.event;
        if (event === null || typeof event !== 'object' || typeof event.id !== 'number') return;
        // A resume may repeat the event it resumed from.
        if (this.lastId !== null && event.id <= this.lastId) return;
        this.lastId = event.id;
        if (this.shownThrough !== null && event.id <= this.shownThrough) return;
        if (this.unconfirmed !== null && !matches(event, this.unconfirmed)) return;
        this.handlers.onEvent(event, this.liveFrom !== null && event.id <= this.liveFrom);
        break;
      }
      case 'filter':
        if (this.unconfirmed !== null) this.confirmed = this.unconfirmed;
        this.unconfirmed = null;
        break;
      case 'gap':
        if (typeof message.missed === 'number' && message.missed > 0) this.handlers.onGap(message.missed);
        break;
      case 'heartbeat':
        // Everything up to last_id was considered for this view: resume after it, not earlier.
        if (typeof message.last_id === 'number' && (this.lastId === null || message.last_id > this.lastId)) this.lastId = message.last_id;
        break;
      case 'error':
        if (message.code === 'bad_filter') {
          // Reconnecting with a refused filter in the URL would be refused again.
          this.filter = this.confirmed;
          this.unconfirmed = null;
          this.handlers.onRejected(String(message.message));
        } else {
          this.handlers.onState('offline', `Feed error: ${String(message.message ?? message.code ?? 'unknown')}`);
        }
        break;
    }
  }

  /** Live, or live but incomplete (e.g. other instances' events held up while Redis is away). */
  health(degraded) {
    if (Array.isArray(degraded) && degraded.length > 0) this.handlers.onState('degraded', `Live, may be incomplete: ${degraded.map(String).join('; ')}`);
    else this.handlers.onState('live', 'Live');
  }

  /** (Re)starts the watchdog: any message proves the connection alive. */
  arm() {
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => {
      this.discard();
      this.retry('The live feed went silent');
    }, this.heartbeatMs * MISSED_HEARTBEATS);
  }

  /** Forgets the current socket without waiting for its close handshake. */
  discard() {
    clearTimeout(this.watchdog);
    const socket = this.socket;
    this.socket = null;
    if (socket === null) return;
    socket.onmessage = null;
    socket.onclose = null;
    if (socket.readyState === WebSocket.CONNECTING || socket.readyState === WebSocket.OPEN) socket.close();
  }

  async closed(code, greeted) {
    if (code === CLOSE_TOO_SLOW) {
      this.retry('This view fell behind the feed; resuming', 0);
      return;
    }
    if (code === CLOSE_TOO_MANY) {
      this.retry('The server has too many viewers', BUSY_RETRY_MS);
      return;
    }
    // A refused upgrade (no session) shows up only as a close before any hello.
    if (code === CLOSE_POLICY || code === CLOSE_ACCESS_ENDED || !greeted) {
      const signedIn = await sessionValid();
      // Stopped, or stopped and started again, while asking: the answer concerns no one.
      if (!this.running || this.socket !== null) return;
      if (signedIn === false) {
        this.running = false;
        this.handlers.onUnauthorized();
        return;
      }
    }
    this.retry('Lost the live feed');
  }

  retry(reason, minimumMs = 500) {
    if (!this.running) return;
    clearTimeout(this.retryTimer);
    const backoff = Math.min(MAX_RETRY_MS, 500 * 2 ** this.attempts);
    // Jitter, so many dashboards do not return in lockstep after a server restart.
    const delay = Math.max(minimumMs, Math.round(backoff * (0.5 + Math.random() / 2)));
    this.attempts++;
    this.handlers.onState('offline', `${reason}; retrying in ${Math.ceil(delay / 1000)} s`);
    this.retryTimer = setTimeout(() => this.open(), delay);
  }
}

/** True or false when the server says, null when it cannot be reached. */
async function sessionValid() {
  try {
    const response = await fetch('/api/session', { headers: { accept: 'application/json' } });
    if (response.ok) return true;
    return response.status === 401 ? false : null;
  } catch {
    return null;
  }
}
