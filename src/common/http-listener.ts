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
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { messageOf } from '../common/errors.js';
import type { Logger } from '../common/log.js';

/** Largest request body accepted (bytes). */
export const MAX_BODY_BYTES = 16 * 1024;
const HEADERS_TIMEOUT_MS = 2000;
const REQUEST_TIMEOUT_MS = 3000;
const KEEP_ALIVE_TIMEOUT_MS = 2000;
const MAX_HEADER_BYTES = 8 * 1024;
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

export type HttpHandler = (request: HttpRequest) => Promise<HttpReply> | HttpReply;

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

export class HttpListener {
  private readonly routes = new Map<string, HttpRoute>();
  private server: Server | null = null;

  constructor(private readonly log: Logger) {}

  route(route: HttpRoute): void {
    this.routes.set(route.path, route);
  }

  /** Starts listening; rejects when the address is taken or invalid. */
  async listen(port: number, host: string | undefined): Promise<AddressInfo> {
    const server = createServer({
      maxHeaderSize: MAX_HEADER_BYTES,
      headersTimeout: HEADERS_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      // How often the two timeouts above are enforced (30 s by default, which
      // let a client that sends nothing, or a header byte now and then, hold
      // one of maxConnections for that long).
      connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
    }, (req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        this.log.debug(`HTTP ${req.method ?? '?'} ${req.url ?? '?'} failed: ${messageOf(e)}`);
        send(res, error(500, 'internal error'), false);
      });
    });
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
    send(res, reply, head);
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server === null) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}
