/**
 * Monitor epochs on the service's side (docs/architecture.md "Monitor
 * high availability"): the monitor starts a new epoch after each promotion
 * (advance_monitor_epoch), and stops deciding while one of its peers (the
 * config's `ha.peers`) is writable with a higher epoch: a monitor that
 * finds a newer one is the stale side of a split and must not drive the
 * nodes. The peers are read in the background, never holding up the
 * decision loop; a peer that cannot be reached blocks nothing.
 */
import { messageOf } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { sleep } from '../common/service.js';
import { currentMonitorEpoch, type MonitorEpoch } from '../monitor-api/index.js';
import { scrubPasswords, withClient } from '../postgres/index.js';

/** What one peer said (or why it did not). */
export interface PeerEpoch {
  peer: string;
  epoch?: MonitorEpoch;
  error?: string;
}

/** How often the peers are read. */
export const PEER_CHECK_MS = 2000;
/** Connection deadline for a peer. */
export const PEER_CONNECT_TIMEOUT_MS = 2000;

/** The first writable peer with an epoch higher than ours: this monitor must stop deciding. */
export function newerWritablePeer(ownEpoch: number, peers: readonly PeerEpoch[]): PeerEpoch | undefined {
  return peers.find((p) => p.epoch !== undefined && p.epoch.writable && p.epoch.epoch > ownEpoch);
}

/** Reads every peer's epoch at once. */
export async function readPeerEpochs(peers: readonly string[], env: NodeJS.ProcessEnv,
  timeoutMs = PEER_CONNECT_TIMEOUT_MS): Promise<PeerEpoch[]> {
  return Promise.all(peers.map(async (peer): Promise<PeerEpoch> => {
    try {
      const epoch = await withClient(peer, { connectTimeoutMs: timeoutMs, applicationName: 'pg_auto_failover peer check', env },
        (client) => currentMonitorEpoch(client));
      return { peer, epoch };
    } catch (error) {
      return { peer, error: messageOf(error) };
    }
  }));
}

export interface PeerWatchDeps {
  peers: readonly string[];
  /** More peers, read before each check (the other monitor members); duplicates of `peers` are read once. */
  morePeers?: () => readonly string[];
  log: Pick<Logger, 'info' | 'warn'>;
  /** Our current epoch. */
  ownEpoch: () => number;
  read?: (peers: readonly string[]) => Promise<PeerEpoch[]>;
  env?: NodeJS.ProcessEnv;
  periodMs?: number;
}

export interface PeerWatch {
  /** The newer writable peer that stops this monitor, if any (as of the last check). */
  readonly blockedBy: PeerEpoch | undefined;
  /** One check now (the background loop calls it every period). */
  check(): Promise<void>;
  /** Runs the checks until `signal` aborts; `onChange` when blocking starts or ends. */
  run(signal: AbortSignal, onChange: () => void): Promise<void>;
}

export function createPeerWatch(deps: PeerWatchDeps): PeerWatch {
  const read = deps.read ?? ((peers) => readPeerEpochs(peers, deps.env ?? process.env));
  let blockedBy: PeerEpoch | undefined;
  const unreachable = new Set<string>();
  const watch: PeerWatch = {
    get blockedBy() {
      return blockedBy;
    },
    async check() {
      const all = [...new Set([...deps.peers, ...(deps.morePeers?.() ?? [])])];
      if (all.length === 0) return;
      const answers = await read(all);
      for (const a of answers) {
        if (a.error !== undefined && !unreachable.has(a.peer)) {
          unreachable.add(a.peer);
          deps.log.warn(`Failed to read the epoch of monitor peer "${scrubPasswords(a.peer)}": ${a.error}`);
        } else if (a.error === undefined) {
          unreachable.delete(a.peer);
        }
      }
      const own = deps.ownEpoch();
      const newer = newerWritablePeer(own, answers);
      if (newer !== undefined && blockedBy === undefined) {
        deps.log.warn(`Monitor peer "${scrubPasswords(newer.peer)}" is writable at epoch ${newer.epoch?.epoch}, higher than this monitor's epoch ${own}: `
          + 'this monitor is stale and stops deciding');
      } else if (newer === undefined && blockedBy !== undefined) {
        deps.log.info(`No monitor peer is writable at an epoch higher than ${own} any more: this monitor decides again`);
      }
      blockedBy = newer;
    },
    async run(signal, onChange) {
      const period = deps.periodMs ?? PEER_CHECK_MS;
      while (!signal.aborted) {
        const before = blockedBy !== undefined;
        await watch.check().catch((error: unknown) => deps.log.warn(`Failed to check the monitor peers: ${messageOf(error)}`));
        if ((blockedBy !== undefined) !== before) onChange();
        await sleep(period, signal);
      }
    },
  };
  return watch;
}
