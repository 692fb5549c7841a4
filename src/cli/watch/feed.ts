/**
 * The data behind `pg_autoctl watch`: one connection to the monitor that
 * LISTENs on the `state` channel, re-reading the nodes, the formation's
 * number_sync_standbys and the latest events every `intervalMs` and as
 * soon as a state notification arrives. A failed connection or query is
 * reported through `onDown` and retried, for as long as the feed runs: the
 * dashboard outlives monitor restarts.
 */
import type pg from 'pg';
import { messageOf } from '../../common/errors.js';
import { CHANNELS, getFormation, lastEventsShown, watchNodes } from '../../monitor-api/index.js';
import { destroyClient } from '../../keeper/monitor-link.js';
import type { WatchSnapshot } from './layout.js';

/** How many events are kept (the screen shows those that fit, the keys scroll through the rest). */
export const EVENTS_KEPT = 80;

/** Reads what the dashboard shows. */
export async function readSnapshot(client: pg.Client, formation: string, groupId: number | undefined): Promise<WatchSnapshot> {
  const nodes = await watchNodes(client, formation, groupId);
  const row = await getFormation(client, formation);
  const events = await lastEventsShown(client, groupId === undefined
    ? { formation, count: EVENTS_KEPT }
    : { formation, groupId, count: EVENTS_KEPT });
  // By id: events written in one transaction share a time, and a
  // transaction that started earlier may commit its event later.
  events.sort((a, b) => (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0));
  return { numberSyncStandbys: row ? row.numberSyncStandbys : null, nodes, events };
}

export interface FeedOptions {
  connect: () => Promise<pg.Client>;
  read: (client: pg.Client) => Promise<WatchSnapshot>;
  onSnapshot: (snapshot: WatchSnapshot) => void;
  onDown: (error: string) => void;
  intervalMs?: number;
  /** A read that takes longer is abandoned and the connection dropped. */
  readTimeoutMs?: number;
}

export class MonitorFeed {
  private client: pg.Client | null = null;
  private stopped = false;
  private poked = false;
  private wakeUp: (() => void) | null = null;
  private loop: Promise<void> | null = null;

  constructor(private readonly options: FeedOptions) {}

  start(): void {
    this.loop ??= this.run();
  }

  /** Re-read now (a state notification arrived). */
  poke(): void {
    this.poked = true;
    this.wakeUp?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeUp?.();
    await this.loop;
    this.drop();
  }

  private drop(): void {
    if (this.client) destroyClient(this.client);
    this.client = null;
  }

  private async open(): Promise<pg.Client> {
    const client = await this.options.connect();
    if (this.stopped) {
      destroyClient(client);
      throw new Error('stopped');
    }
    client.on('error', () => {
      if (this.client === client) this.drop();
    });
    client.on('end', () => {
      if (this.client === client) this.client = null;
    });
    client.on('notification', (message) => {
      if (message.channel === CHANNELS.state) this.poke();
    });
    this.client = client;
    await client.query(`LISTEN ${CHANNELS.state}`);
    return client;
  }

  private async readOnce(): Promise<void> {
    const client = this.client ?? await this.open();
    const timeoutMs = this.options.readTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the monitor did not answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const snapshot = await Promise.race([this.options.read(client), deadline]);
      if (!this.stopped) this.options.onSnapshot(snapshot);
    } finally {
      clearTimeout(timer);
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.poked || this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
  }

  private async run(): Promise<void> {
    const interval = this.options.intervalMs ?? 500;
    while (!this.stopped) {
      this.poked = false;
      try {
        await this.readOnce();
      } catch (error) {
        this.drop();
        if (this.stopped) break;
        this.options.onDown(messageOf(error));
      }
      await this.sleep(interval);
      this.wakeUp = null;
    }
  }
}
