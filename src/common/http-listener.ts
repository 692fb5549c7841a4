/**
 * A small HTTP listener with a route table, used by the keeper
 * (`create postgres --http-port`, config `http.port`: the failsafe's
 * keeper-to-keeper channel, load-balancer health checks, metrics) and by
 * the monitor service (`create monitor --http-port`: metrics, status page).
 *
 * Hostile clients get clean 4xx answers and cannot hold the keeper: small
 * bodies only (413 beyond), unknown routes 404, other methods 405 with
 * `Allow`, and short header/request/idle timeouts so a slow client never
 * keeps a socket for long. Handlers run on the keeper's event loop and must
 * answer quickly.
 *
 * A handler may also answer with a stream (server-sent events): the head
 * is written, the reply stays open and the route writes to it until it or
 * the client ends it. Streams are capped (503 beyond `maxStreams`), and a
 * client that does not read its stream is dropped once too much is
 * buffered for it, so it never makes the process hold memory.
 *
 * Options for the monitor's status page: TLS (`tls`: certificate, key and,
 * to require client certificates, a CA) and an `authorize` check run
 * before any route (401 with a Basic challenge when it refuses).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { messageOf } from '../common/errors.js';
import type { Logger } from '../common/log.js';

/** Largest request body accepted (bytes). */
export const MAX_BODY_BYTES = 16 * 1024;
const HEADERS_TIMEOUT_MS = 2000;
const REQUEST_TIMEOUT_MS = 3000;
const KEEP_ALIVE_TIMEOUT_MS = 2000;
const MAX_HEADER_BYTES = 8 * 1024;
/** Open streams allowed by default. */
export const MAX_STREAMS = 32;
/** A stream whose client left this much unread is closed. */
export const MAX_STREAM_BUFFER_BYTES = 1024 * 1024;
const TIMEOUT_CHECK_INTERVAL_MS = 250;

export type HttpMethod = 'GET' | 'HEAD' | 'OPTIONS' | 'POST';

export interface HttpRequest {
  readonly method: HttpMethod;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
}

export interface HttpReply {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
}

/** The open side of a streamed reply. */
export interface HttpStream {
  /** Writes a chunk; a client with more than MAX_STREAM_BUFFER_BYTES unread is disconnected instead. */
  write(chunk: string): void;
  end(): void;
  readonly closed: boolean;
  /** Called once when the stream ends, by either side. */
  onClose(fn: () => void): void;
}

/** A reply that stays open: `stream` is called with it once the head is sent. */
export interface HttpStreamReply {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly stream: (stream: HttpStream) => void;
}

export type HttpHandler = (request: HttpRequest) => Promise<HttpReply | HttpStreamReply> | HttpReply | HttpStreamReply;

export interface HttpRoute {
  readonly path: string;
  readonly methods: readonly HttpMethod[];
  readonly handler: HttpHandler;
}

export function jsonReply(status: number, value: unknown, headers: Readonly<Record<string, string>> = {}): HttpReply {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: `${JSON.stringify(value)}\n` };
}

function send(res: ServerResponse, reply: HttpReply, head: boolean): void {
  if (res.headersSent) return;
  const body = reply.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(reply.body) ? reply.body : Buffer.from(reply.body);
  res.writeHead(reply.status, { ...reply.headers, 'content-length': String(body.length), 'cache-control': 'no-store' });
  res.end(head ? undefined : body);
}

const error = (status: number, message: string, headers: Readonly<Record<string, string>> = {}): HttpReply =>
  jsonReply(status, { error: message }, headers);

/** Reads the body up to `limit` bytes; null when it is larger. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      resolve(null);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        resolve(null);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!done) {
        done = true;
        resolve(Buffer.concat(chunks));
      }
    });
    req.on('error', (e) => {
      if (!done) {
        done = true;
        reject(e);
      }
    });
  });
}

export interface HttpListenerOptions {
  /** Serve HTTPS; with `ca`, clients must present a certificate it signed. */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer; readonly ca?: string | Buffer };
  /** Checked before any route; false answers 401 with a Basic challenge. */
  readonly authorize?: (headers: IncomingMessage['headers']) => boolean;
  /** Open streams allowed (MAX_STREAMS by default). */
  readonly maxStreams?: number;
}

export class HttpListener {
  private readonly routes = new Map<string, HttpRoute>();
  private server: Server | null = null;
  private readonly streams = new Set<ServerResponse>();

  constructor(private readonly log: Logger, private readonly options: HttpListenerOptions = {}) {}

  /** Streams open now. */
  get openStreams(): number {
    return this.streams.size;
  }

  route(route: HttpRoute): void {
    this.routes.set(route.path, route);
  }

  /** Starts listening; rejects when the address is taken or invalid. */
  async listen(port: number, host: string | undefined): Promise<AddressInfo> {
    const limits = {
      maxHeaderSize: MAX_HEADER_BYTES,
      headersTimeout: HEADERS_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      // How often the two timeouts above are enforced (30 s by default, which
      // let a client that sends nothing, or a header byte now and then, hold
      // one of maxConnections for that long).
      connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
    };
    const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
      this.handle(req, res).catch((e: unknown) => {
        this.log.debug(`HTTP ${req.method ?? '?'} ${req.url ?? '?'} failed: ${messageOf(e)}`);
        send(res, error(500, 'internal error'), false);
      });
    };
    const tls = this.options.tls;
    const server: Server = tls === undefined
      ? createServer(limits, onRequest)
      : createTlsServer({
        ...limits,
        cert: tls.cert,
        key: tls.key,
        ...(tls.ca === undefined ? {} : { ca: tls.ca, requestCert: true, rejectUnauthorized: true }),
        handshakeTimeout: HEADERS_TIMEOUT_MS,
      }, onRequest);
    server.on('clientError', (e: NodeJS.ErrnoException, socket) => {
      // Destroyed once the answer is written: a client that never closes
      // its side must not keep the socket (the server allows half-open ones).
      const status = e.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large'
        : e.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
      if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`, () => socket.destroy());
      else socket.destroy();
    });
    server.maxConnections = 256;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, ...(host === undefined ? {} : { host }) }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (e) => this.log.warn(`The HTTP listener failed: ${messageOf(e)}`));
    this.server = server;
    return server.address() as AddressInfo;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://listener.invalid');
    const method = (req.method ?? '').toUpperCase();
    const route = this.routes.get(url.pathname);
    const head = method === 'HEAD';
    if (this.options.authorize !== undefined && !this.options.authorize(req.headers)) {
      req.resume();
      send(res, error(401, 'authentication required', { 'www-authenticate': 'Basic realm="pg_auto_failover", charset="UTF-8"' }), head);
      return;
    }
    if (route === undefined) {
      req.resume();
      send(res, error(404, `no route ${url.pathname}`), head);
      return;
    }
    const allowed: readonly string[] = route.methods;
    if (!allowed.includes(method)) {
      req.resume();
      send(res, error(405, `method ${method} is not allowed on ${url.pathname}`, { allow: route.methods.join(', ') }), head);
      return;
    }
    const body = await readBody(req, MAX_BODY_BYTES);
    if (body === null) {
      send(res, error(413, `request body larger than ${MAX_BODY_BYTES} bytes`, { connection: 'close' }), head);
      req.destroy();
      return;
    }
    const reply = await route.handler({ method: method as HttpMethod, path: url.pathname, query: url.searchParams, headers: req.headers, body });
    if ('stream' in reply) this.openStream(res, reply, head);
    else send(res, reply, head);
  }

  private openStream(res: ServerResponse, reply: HttpStreamReply, head: boolean): void {
    // A client gone while the handler ran: nothing to open (its close event has passed).
    if (res.headersSent || res.destroyed || res.socket === null || res.socket.destroyed) return;
    if (this.streams.size >= (this.options.maxStreams ?? MAX_STREAMS)) {
      send(res, error(503, 'too many open streams', { 'retry-after': '5' }), head);
      return;
    }
    res.writeHead(reply.status, { ...reply.headers, 'cache-control': 'no-store' });
    if (head) {
      res.end();
      return;
    }
    this.streams.add(res);
    res.socket?.setKeepAlive(true, 10_000);
    const listeners: (() => void)[] = [];
    let closed = false;
    const finish = (): void => {
      if (closed) return;
      closed = true;
      this.streams.delete(res);
      for (const fn of listeners.splice(0)) {
        try { fn(); } catch (e) { this.log.debug(`HTTP stream close handler failed: ${messageOf(e)}`); }
      }
    };
    res.on('close', finish);
    const stream: HttpStream = {
      write: (chunk) => {
        if (closed) return;
        if (res.writableLength > MAX_STREAM_BUFFER_BYTES) {
          res.destroy();
          finish();
          return;
        }
        res.write(chunk);
      },
      end: () => {
        if (!closed) res.end();
        finish();
      },
      get closed() { return closed; },
      onClose: (fn) => {
        if (closed) fn();
        else listeners.push(fn);
      },
    };
    reply.stream(stream);
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server === null) return;
    for (const res of [...this.streams]) res.destroy();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}
