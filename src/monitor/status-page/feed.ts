/**
 * The status page's one view of the monitor database, shared by every
 * browser: a single poll loop (every `intervalMs`, only while someone
 * watches) reads a snapshot and pushes it to the subscribers when it
 * changed; the JSON endpoint gets the latest snapshot, re-read at most once
 * per interval whatever the number of requests. So the load on the monitor
 * does not grow with the number of clients.
 */
import { messageOf } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import type { StatusFormationRow } from '../../monitor-api/status.js';

/** One event of the latest events, newest first. */
export interface StatusEvent {
  id: string;
  timeMs: number;
  formationId: string;
  groupId: number;
  nodeId: number;
  name: string;
  host: string;
  port: number;
  reportedState: string;
  goalState: string;
  description: string | null;
}

/** What one read of the monitor database gives. */
export interface StatusData {
  /** The monitor's clock at the read (epoch ms). */
  nowMs: number;
  leaseTimeoutMs: number;
  formations: StatusFormationRow[];
  events: StatusEvent[];
}

/** What the page and /api/state get. */
export interface StatusSnapshot {
  /** Increases with every change pushed. */
  version: number;
  /** The last successful read, null before the first one. */
  data: StatusData | null;
  /** Why the last read failed (the data is then the last known one), null when it worked. */
  error: string | null;
}

export interface StatusFeedOptions {
  read: () => Promise<StatusData>;
  intervalMs: number;
  log: Logger;
  signal: AbortSignal;
  /** Called when nobody watched for a while: the reader may close its connection. */
  idle?: () => void;
  idleAfterMs?: number;
}

/** The part of a read that makes a change: everything but the clock. */
function changeKey(data: StatusData | null, error: string | null): string {
  return JSON.stringify([data === null ? null : { ...data, nowMs: 0 }, error]);
}

export class StatusFeed {
  private snapshot: StatusSnapshot = { version: 0, data: null, error: null };
  private key = changeKey(null, null);
  private readAt = Number.NEGATIVE_INFINITY;
  private inFlight: Promise<StatusSnapshot> | null = null;
  private readonly subscribers = new Set<(snapshot: StatusSnapshot) => void>();
  private timer: NodeJS.Timeout | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private lastLoggedError: string | null = null;

  constructor(private readonly options: StatusFeedOptions) {
    options.signal.addEventListener('abort', () => {
      this.subscribers.clear();
      if (this.timer !== null) clearTimeout(this.timer);
      if (this.idleTimer !== null) clearTimeout(this.idleTimer);
      this.timer = null;
      options.idle?.();
    }, { once: true });
  }

  get watchers(): number {
    return this.subscribers.size;
  }

  /** The latest snapshot, read again when older than the poll interval (reads are shared). */
  async current(): Promise<StatusSnapshot> {
    if (performance.now() - this.readAt < this.options.intervalMs && this.snapshot.version > 0) return this.snapshot;
    return this.refresh();
  }

  /** Calls `fn` with the current snapshot (when there is one) and on every change; returns the unsubscribe. */
  subscribe(fn: (snapshot: StatusSnapshot) => void): () => void {
    this.subscribers.add(fn);
    if (this.snapshot.version > 0) fn(this.snapshot);
    if (this.idleTimer !== null) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
    this.schedule(0);
    return () => {
      this.subscribers.delete(fn);
      if (this.subscribers.size === 0) this.goIdle();
    };
  }

  /** No watcher: stop polling, and let the reader close its connection if nobody comes back soon. */
  private goIdle(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    if (this.options.signal.aborted) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.subscribers.size === 0) this.options.idle?.();
    }, this.options.idleAfterMs ?? 30_000);
    this.idleTimer.unref();
  }

  private schedule(delayMs: number): void {
    if (this.timer !== null || this.options.signal.aborted || this.subscribers.size === 0) return;
    this.timer = setTimeout(() => {
      this.refresh().finally(() => {
        this.timer = null;
        this.schedule(this.options.intervalMs);
      }).catch(() => undefined);
    }, delayMs);
  }

  /** One read (shared with any read already running); pushes the snapshot when it changed. */
  refresh(): Promise<StatusSnapshot> {
    if (this.inFlight !== null) return this.inFlight;
    this.inFlight = (async () => {
      let data = this.snapshot.data;
      let error: string | null = null;
      try {
        data = await this.options.read();
        this.lastLoggedError = null;
      } catch (e) {
        error = messageOf(e);
        if (error !== this.lastLoggedError) {
          this.options.log.warn(`Status page: failed to read the monitor database: ${error}`);
          this.lastLoggedError = error;
        }
      }
      this.readAt = performance.now();
      const key = changeKey(data, error);
      if (key !== this.key || this.snapshot.version === 0) {
        this.key = key;
        this.snapshot = { version: this.snapshot.version + 1, data, error };
        for (const fn of [...this.subscribers]) {
          try {
            fn(this.snapshot);
          } catch (e) {
            this.options.log.debug(`Status page subscriber failed: ${messageOf(e)}`);
          }
        }
      } else if (data !== null) {
        // Same content: keep the fresher clock for /api/state without a push.
        this.snapshot = { ...this.snapshot, data };
      }
      return this.snapshot;
    })().finally(() => {
      this.inFlight = null;
      // A read for /api/state alone: close the connection later unless read again.
      if (this.subscribers.size === 0) this.goIdle();
    });
    return this.inFlight;
  }
}
