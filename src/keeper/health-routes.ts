/**
 * Load-balancer health endpoints on the keeper's HTTP listener, with
 * Patroni's paths and semantics, so that an HAProxy configuration written
 * for Patroni (`option httpchk OPTIONS /master`, `http-check expect status
 * 200`) works unchanged (docs/integrations.md, docs/examples/haproxy.cfg).
 *
 * Every check answers 200 or 503 with the same JSON status document (GET,
 * HEAD and OPTIONS alike); `GET /status` (and `/patroni`) always answers
 * 200 with that document.
 *
 * - `/primary` (`/master`, `/leader`, `/read-write`): this node may take
 *   writes now. Its current state is writable (fsm/states.ts), its assigned
 *   state too (a primary being demoted or sent to maintenance drops out at
 *   once), it holds a valid write lease (checked at request time, so an
 *   old primary never answers 200 once its lease ran out; not required
 *   when the monitor is disabled, as for the fence), its Postgres runs and
 *   it has not been fenced.
 * - `/replica`: a streaming standby. Current and assigned states are
 *   `secondary` or `catchingup` (not in maintenance, not in an election),
 *   Postgres runs in recovery and pg_stat_wal_receiver says `streaming`
 *   from the primary the monitor knows. `?lag=<bytes>` (`16MB`, `1GB`, plain
 *   bytes) also requires lag <= the bound, where lag is the primary's LSN
 *   as last reported to the monitor (get_other_nodes, refreshed each round)
 *   minus this node's replay LSN, 0 when negative; an unknown lag fails.
 * - `/read-only`: `/primary` or `/replica` (with the same `lag`).
 * - `/health`: Postgres runs.
 * - `/sync`, `/async`: `/replica`, and this node is (`/sync`) or is not
 *   (`/async`) listed in the group's synchronous_standby_names as the
 *   monitor computed it; unknown (monitor not reachable) fails both.
 *
 * Handlers use the facts of the last round (rt.lastFacts), in-memory state
 * and live checks that cost no I/O (lease, postmaster.pid). The standby's
 * streaming status and the sync names come from short caches with bounded
 * reads (health-probe.ts): no request waits more than a few hundred ms.
 */
import { jsonReply, type HttpListener, type HttpReply, type HttpRequest, type HttpRoute } from '../common/http-listener.js';
import { formatLsn, type Lsn } from '../common/lsn.js';
import { isMonitorDisabled } from '../config/index.js';
import { isWritableState, type NodeState } from '../fsm/states.js';
import { slotNameFor } from '../postgres/index.js';
import { healthProbes, type StandbyReading, type SyncNamesReading } from './health-probe.js';
import type { PgReport } from './local-pg.js';
import { assignedState, currentState, type KeeperRuntime } from './runtime.js';

/** Everything a check looks at, taken at request time. */
export interface HealthSnapshot {
  nodeId: number;
  name: string;
  formation: string;
  group: number;
  current: NodeState;
  assigned: NodeState;
  monitorDisabled: boolean;
  monitorUnreachable: boolean;
  /** Unix seconds of the last successful node_active (0: never). */
  lastMonitorContact: number;
  lease: { valid: boolean; remainingMs: number };
  /** Live: a postmaster runs on PGDATA and accepts connections. */
  pgRunning: boolean;
  fenced: boolean;
  /** Facts of the keeper's last round. */
  facts: PgReport;
  systemIdentifier: bigint;
  /** The group's writable node as the monitor last told (get_other_nodes), when another node. */
  primary: { nodeId: number; host: string; port: number; lsn: Lsn } | null;
}

/** Where the routes get their inputs; the keeper's is built from its runtime. */
export interface HealthSource {
  snapshot(): HealthSnapshot;
  /** The standby reading (bounded wait), null when unknown. */
  standby(): Promise<StandbyReading | null>;
  /** The group's synchronous_standby_names (bounded wait), null when unknown. */
  syncNames(): Promise<SyncNamesReading | null>;
}

export interface Verdict {
  ok: boolean;
  reason: string;
}

const yes = (reason: string): Verdict => ({ ok: true, reason });
const no = (reason: string): Verdict => ({ ok: false, reason });

/** States of a standby that serves reads: streaming, not in maintenance nor in an election. */
const REPLICA_STATES: ReadonlySet<NodeState> = new Set<NodeState>(['secondary', 'catchingup']);

export function primaryVerdict(s: HealthSnapshot): Verdict {
  if (!isWritableState(s.current)) return no(`current state is "${s.current}"`);
  if (!isWritableState(s.assigned)) return no(`assigned state is "${s.assigned}"`);
  if (!s.monitorDisabled && !s.lease.valid) return no('no valid write lease');
  if (s.fenced) return no('PostgreSQL was fenced (write lease ran out)');
  if (!s.pgRunning) return no('PostgreSQL is not running');
  return yes(s.monitorDisabled ? `writable state "${s.current}" (monitor disabled)` : `writable state "${s.current}" with a write lease`);
}

/** Bytes the standby's replay is behind the primary's last reported LSN; null when unknown. */
export function replicationLag(s: HealthSnapshot, reading: StandbyReading | null): bigint | null {
  if (s.primary === null || reading === null || reading.replayLsn === null) return null;
  const lag = s.primary.lsn - reading.replayLsn;
  return lag > 0n ? lag : 0n;
}

export function replicaVerdict(s: HealthSnapshot, reading: StandbyReading | null, maxLag: bigint | undefined): Verdict {
  if (!REPLICA_STATES.has(s.current)) return no(`current state is "${s.current}"`);
  if (!REPLICA_STATES.has(s.assigned)) return no(`assigned state is "${s.assigned}"`);
  if (!s.pgRunning) return no('PostgreSQL is not running');
  if (reading === null) return no('the streaming status is unknown');
  if (reading.error !== undefined) return no(`the streaming status could not be read: ${reading.error}`);
  if (reading.inRecovery !== true) return no('PostgreSQL is not in recovery');
  if (reading.receiverStatus !== 'streaming') return no(`the WAL receiver is ${reading.receiverStatus === null ? 'not running' : `"${reading.receiverStatus}"`}`);
  const p = s.primary;
  if (p !== null && reading.senderPort !== null && reading.senderHost !== null
    && (reading.senderPort !== p.port || reading.senderHost.toLowerCase() !== p.host.toLowerCase())) {
    return no(`streams from ${reading.senderHost}:${reading.senderPort}, not from the primary ${p.host}:${p.port}`);
  }
  if (maxLag !== undefined) {
    const lag = replicationLag(s, reading);
    if (lag === null) return no('the replication lag is unknown');
    if (lag > maxLag) return no(`replication lag ${lag} bytes is more than ${maxLag}`);
  }
  return yes('streaming standby');
}

const UNITS: Readonly<Record<string, bigint>> = { b: 1n, kb: 1024n, mb: 1024n ** 2n, gb: 1024n ** 3n, tb: 1024n ** 4n };

/** Patroni's `lag` value: bytes, or a number with B, kB, MB, GB or TB (any case). undefined when malformed. */
export function parseLag(text: string): bigint | undefined {
  const m = /^\s*(\d{1,15})\s*([kmgt]?b)?\s*$/i.exec(text);
  if (m === null || m[1] === undefined) return undefined;
  const unit = UNITS[(m[2] ?? 'b').toLowerCase()];
  return unit === undefined ? undefined : BigInt(m[1]) * unit;
}

/** A byte count as a JSON number (LSNs stay far below 2^53 in practice). */
const num = (value: bigint | null): number | null => (value === null ? null : Number(value));

export type SyncRole = 'sync' | 'async';

/** Whether this standby is listed in synchronous_standby_names; null when unknown. */
export function syncRole(nodeId: number, names: SyncNamesReading | null): SyncRole | null {
  if (names === null || names.names === null) return null;
  return names.names.includes(slotNameFor(nodeId)) ? 'sync' : 'async';
}

/** The status document (Patroni's fields where they map, then this node's own). */
export function statusDocument(s: HealthSnapshot, reading: StandbyReading | null, names: SyncNamesReading | null,
  verdicts: { primary: Verdict; replica: Verdict }): Record<string, unknown> {
  const running = s.pgRunning;
  const primaryRole = isWritableState(s.current) || (s.facts.running && !s.facts.inRecovery && reading?.inRecovery !== true);
  const lag = replicationLag(s, reading);
  const xlog = primaryRole
    ? { location: num(s.facts.lsn) }
    : {
      received_location: num(reading?.receiveLsn ?? null),
      replayed_location: num(reading?.replayLsn ?? null),
      paused: reading?.replayPaused ?? null,
    };
  return {
    state: running ? 'running' : 'stopped',
    role: primaryRole ? 'primary' : 'replica',
    timeline: s.facts.timeline === 0 ? null : s.facts.timeline,
    xlog,
    database_system_identifier: s.systemIdentifier === 0n ? null : s.systemIdentifier.toString(),
    dcs_last_seen: s.lastMonitorContact === 0 ? null : s.lastMonitorContact,
    pg_auto_failover: {
      node_id: s.nodeId,
      name: s.name,
      formation: s.formation,
      group: s.group,
      current_state: s.current,
      assigned_state: s.assigned,
      postgres_running: running,
      fenced: s.fenced,
      lsn: formatLsn(s.facts.lsn),
      timeline: s.facts.timeline,
      primary: s.primary === null ? null : { node_id: s.primary.nodeId, host: s.primary.host, port: s.primary.port, lsn: formatLsn(s.primary.lsn) },
      streaming: reading === null || reading.error !== undefined ? null : reading.receiverStatus === 'streaming',
      receiver_status: reading?.receiverStatus ?? null,
      replay_lsn: reading === null || reading.replayLsn === null ? null : formatLsn(reading.replayLsn),
      lag_bytes: num(lag),
      sync_state: primaryRole ? (s.facts.syncState || null) : syncRole(s.nodeId, names),
      lease: { valid: s.lease.valid, remaining_ms: Math.round(s.lease.remainingMs), required: !s.monitorDisabled },
      monitor: { reachable: !s.monitorDisabled && !s.monitorUnreachable, disabled: s.monitorDisabled, last_contact: s.lastMonitorContact },
      primary_check: verdicts.primary,
      replica_check: verdicts.replica,
    },
  };
}

const CHECK_METHODS = ['GET', 'HEAD', 'OPTIONS'] as const;

export const PRIMARY_PATHS = ['/primary', '/master', '/leader', '/read-write'] as const;

type Check = 'primary' | 'replica' | 'read-only' | 'health' | 'sync' | 'async';

/** Whether a check needs the standby reading (only standbys pay for it). */
function needsStandby(check: Check, s: HealthSnapshot): boolean {
  return check !== 'primary' && check !== 'health' && REPLICA_STATES.has(s.current);
}

/** The routes, on any source (the keeper's, or a test's). */
export function healthRouteTable(source: HealthSource): HttpRoute[] {
  const answer = async (check: Check, req: HttpRequest): Promise<HttpReply> => {
    const lagText = req.query.get('lag');
    let maxLag: bigint | undefined;
    if (lagText !== null) {
      maxLag = parseLag(lagText);
      if (maxLag === undefined) return jsonReply(400, { error: `bad lag value "${lagText.slice(0, 64)}": bytes, or a number with B, kB, MB, GB or TB` });
    }
    const reading = needsStandby(check, source.snapshot()) ? await source.standby() : null;
    const names = check === 'sync' || check === 'async' ? await source.syncNames() : null;
    // Taken after the awaits: the lease and the states are read at answer time.
    const s = source.snapshot();
    const primary = primaryVerdict(s);
    const replica = replicaVerdict(s, reading, maxLag);
    let verdict: Verdict;
    switch (check) {
      case 'primary': verdict = primary; break;
      case 'replica': verdict = replica; break;
      case 'read-only': verdict = primary.ok ? primary : replica; break;
      case 'health': verdict = s.pgRunning ? yes('PostgreSQL is running') : no('PostgreSQL is not running'); break;
      case 'sync':
      case 'async': {
        const role = syncRole(s.nodeId, names);
        verdict = !replica.ok ? replica
          : role === null ? no(`the synchronous standby names are unknown${names?.error ? `: ${names.error}` : ''}`)
            : role === check ? yes(`${role} standby`) : no(`this node is an ${role === 'sync' ? 'synchronous' : 'asynchronous'} standby`);
        break;
      }
    }
    const doc = statusDocument(s, reading, names, { primary, replica });
    return jsonReply(verdict.ok ? 200 : 503, { ...doc, check: { path: req.path, ok: verdict.ok, reason: verdict.reason } });
  };
  const checkRoute = (path: string, check: Check): HttpRoute => ({ path, methods: CHECK_METHODS, handler: (req) => answer(check, req) });
  const status = async (): Promise<HttpReply> => {
    const standby = REPLICA_STATES.has(source.snapshot().current);
    const reading = isWritableState(source.snapshot().current) ? null : await source.standby();
    const names = standby ? await source.syncNames() : null;
    const s = source.snapshot();
    return jsonReply(200, statusDocument(s, reading, names, { primary: primaryVerdict(s), replica: replicaVerdict(s, reading, undefined) }));
  };
  return [
    ...PRIMARY_PATHS.map((p) => checkRoute(p, 'primary')),
    checkRoute('/replica', 'replica'),
    checkRoute('/read-only', 'read-only'),
    checkRoute('/health', 'health'),
    checkRoute('/sync', 'sync'),
    checkRoute('/synchronous', 'sync'),
    checkRoute('/async', 'async'),
    checkRoute('/asynchronous', 'async'),
    { path: '/status', methods: ['GET', 'HEAD'], handler: status },
    { path: '/patroni', methods: ['GET', 'HEAD'], handler: status },
  ];
}

/** The keeper's snapshot: in-memory state and live checks only, no I/O beyond postmaster.pid. */
export function runtimeSnapshot(rt: KeeperRuntime): HealthSnapshot {
  const primary = rt.otherNodes.find((n) => n.isPrimary);
  return {
    nodeId: rt.state.currentNodeId,
    name: rt.config.pg_autoctl.name,
    formation: rt.config.pg_autoctl.formation,
    group: rt.state.currentGroup,
    current: currentState(rt),
    assigned: assignedState(rt),
    monitorDisabled: isMonitorDisabled(rt.config),
    monitorUnreachable: rt.monitorUnreachable,
    lastMonitorContact: rt.state.lastMonitorContact,
    lease: { valid: rt.lease.valid(), remainingMs: rt.lease.remainingMs() },
    pgRunning: rt.local.isReady(),
    fenced: rt.fencedAt !== null,
    facts: rt.lastFacts,
    systemIdentifier: rt.state.systemIdentifier,
    primary: primary === undefined ? null : { nodeId: primary.nodeId, host: primary.host, port: primary.port, lsn: primary.lsn },
  };
}

export function registerHealthRoutes(rt: KeeperRuntime, listener: HttpListener): void {
  const probes = healthProbes(rt, rt.log);
  rt.signal.addEventListener('abort', () => probes.close(), { once: true });
  const source: HealthSource = {
    snapshot: () => runtimeSnapshot(rt),
    standby: async () => (await probes.standby.get())?.value ?? null,
    syncNames: async () => (await probes.syncNames.get())?.value ?? null,
  };
  for (const route of healthRouteTable(source)) listener.route(route);
}
