/**
 * The monitor's live status page (issue 12 part 4), served by the monitor
 * service's HTTP listener (`create monitor --http-port`, config
 * `http.port`):
 *
 *   GET /             the page (formations, groups, nodes, latest events)
 *   GET /status.css   its style, /status.js its script, /favicon.svg its icon
 *   GET /api/state    the same data as JSON
 *   GET /api/stream   server-sent events: `state` with the data, on change
 *
 * One poll of the monitor database (its own limited connection, see
 * status-page/reader.ts) serves every client (status-page/feed.ts). The
 * page is read-only and its content is built from text nodes only; the
 * answers carry a strict Content-Security-Policy (no inline script, no
 * other origin).
 */
import type { HttpReply, HttpRoute, HttpStream, HttpStreamReply } from '../common/http-listener.js';
import { jsonReply } from '../common/http-listener.js';
import type { MonitorHttpDeps } from './http-routes.js';
import { STATUS_PAGE_CSS, STATUS_PAGE_HTML, STATUS_PAGE_ICON, STATUS_PAGE_JS } from './status-page/assets.js';
import { StatusFeed, type StatusSnapshot } from './status-page/feed.js';
import { monitorStatusReader } from './status-page/reader.js';

/** How often the shared poll reads the monitor database while someone watches. */
export const STATUS_POLL_MS = 300;
/** An SSE comment this often keeps idle connections (and proxies) open. */
export const STATUS_HEARTBEAT_MS = 15_000;

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

const asset = (type: string, body: string): HttpReply => ({
  status: 200, headers: { 'content-type': type, ...SECURITY_HEADERS }, body,
});

/** One SSE message: `event: state` and the snapshot as one JSON line. */
export function sseMessage(event: string, snapshot: StatusSnapshot): string {
  return `event: ${event}\nid: ${snapshot.version}\ndata: ${JSON.stringify(snapshot)}\n\n`;
}

/** The routes, given the feed; `statusPageRoutes` wires the monitor database in. */
export function statusRoutesFor(feed: StatusFeed, heartbeatMs = STATUS_HEARTBEAT_MS): HttpRoute[] {
  const page = asset('text/html; charset=utf-8', STATUS_PAGE_HTML);
  const css = asset('text/css; charset=utf-8', STATUS_PAGE_CSS);
  const js = asset('text/javascript; charset=utf-8', STATUS_PAGE_JS);
  const icon = asset('image/svg+xml', STATUS_PAGE_ICON);
  const stream = (): HttpStreamReply => ({
    status: 200,
    headers: { 'content-type': 'text/event-stream; charset=utf-8', 'x-accel-buffering': 'no', ...SECURITY_HEADERS },
    stream: (out: HttpStream) => {
      out.write('retry: 2000\n\n');
      const unsubscribe = feed.subscribe((snapshot) => out.write(sseMessage('state', snapshot)));
      const heartbeat = setInterval(() => out.write(': keep-alive\n\n'), heartbeatMs);
      out.onClose(() => {
        clearInterval(heartbeat);
        unsubscribe();
      });
    },
  });
  return [
    { path: '/', methods: ['GET', 'HEAD'], handler: () => page },
    { path: '/status.css', methods: ['GET', 'HEAD'], handler: () => css },
    { path: '/status.js', methods: ['GET', 'HEAD'], handler: () => js },
    { path: '/favicon.svg', methods: ['GET', 'HEAD'], handler: () => icon },
    {
      path: '/api/state', methods: ['GET', 'HEAD'], handler: async () => {
        const snapshot = await feed.current();
        return jsonReply(snapshot.data === null ? 503 : 200, snapshot, SECURITY_HEADERS);
      },
    },
    { path: '/api/stream', methods: ['GET'], handler: stream },
  ];
}

export function statusPageRoutes(deps: MonitorHttpDeps): HttpRoute[] {
  const reader = monitorStatusReader({ pgdata: deps.config.postgresql.pgdata, log: deps.log, env: deps.env });
  deps.signal.addEventListener('abort', () => reader.close(true), { once: true });
  const feed = new StatusFeed({
    read: () => reader.read(),
    intervalMs: STATUS_POLL_MS,
    log: deps.log,
    signal: deps.signal,
    idle: () => reader.close(),
  });
  return statusRoutesFor(feed);
}
