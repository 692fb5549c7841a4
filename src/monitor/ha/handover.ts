/**
 * The primary monitor's side of a monitor switchover, and the stale
 * monitor's way back (docs/architecture.md "Monitor high availability",
 * design points 5 and 6).
 *
 * - A clean switchover: `pg_autoctl perform monitor-failover` on a standby
 *   records a request (request_monitor_switchover). The primary's service
 *   polls for it, checks that the target is a member in the sync set that
 *   streams as a synchronous standby right now, answers (accepted or
 *   refused with why), then leaves its session (no more decisions), stops
 *   Postgres fast (the WAL senders send everything first), waits until the
 *   target is promoted (writable at a higher epoch), and rejoins as its
 *   standby. When the target is not promoted in time, it starts again as
 *   the primary: nothing was lost, and the epochs settle any late
 *   promotion (a newer writable peer makes this monitor rejoin).
 * - A stale monitor: when a peer of the same Postgres system is writable
 *   at a higher epoch (a forced failover while this one was down or cut
 *   off), this monitor, which decides nothing meanwhile, rejoins as a
 *   standby of that peer.
 *
 * The session only decides that one of these happens (it returns a
 * {@link HandoverPlan}); the service runs it once the session's
 * connections are closed, then starts a new session (standby mode).
 */
import type pg from 'pg';
import { messageOf } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { sleep, type PostgresControl } from '../../common/service.js';
import { monitorPeersOf, type MonitorConfig } from '../../config/index.js';
import {
  answerMonitorSwitchover, currentMonitorEpoch, monitorMembers, monitorMemberSync, pendingMonitorSwitchover,
  type MonitorEpoch, type MonitorMember, type PendingMonitorSwitchover,
} from '../../monitor-api/index.js';
import {
  findPgBinaries, parseConnInfo, scrubPasswords, withClient, type SslMode,
} from '../../postgres/index.js';
import { newerWritablePeer, readPeerEpochs, type PeerEpoch } from '../epoch-peers.js';
import { memberUri } from './members-loop.js';
import { rejoinAsStandby, type RejoinOutcome } from './rejoin.js';

/** How often the primary's service looks for a switchover request. */
export const SWITCHOVER_POLL_MS = 500;
/** How long a primary that handed over waits for the target's promotion before it starts again as the primary. */
export const HANDOVER_PROMOTION_WAIT_MS = 120_000;

export interface HandoverPlan {
  kind: 'switchover' | 'stale';
  /** Our member id (slot and application_name on the new primary). */
  memberId: number;
  upstream: { host: string; port: number };
  /** The epoch the new primary must be above. */
  epoch: number;
  requestId?: number;
}

/** Why the primary refuses a switchover request, or undefined to accept it. */
export function switchoverRefusal(request: PendingMonitorSwitchover, own: { hostname: string; port: number }): string | undefined {
  if (request.hostname === own.hostname && request.port === own.port) {
    return `monitor member ${request.targetMember} is this primary monitor itself`;
  }
  if (!request.sync) return `monitor member ${request.targetMember} (${request.hostname}:${request.port}) is not a synchronous standby`;
  if (!request.streamingSync) {
    return `monitor member ${request.targetMember} (${request.hostname}:${request.port}) does not stream as a synchronous standby right now`;
  }
  return undefined;
}

const ownAddress = (config: MonitorConfig): { hostname: string; port: number } =>
  ({ hostname: config.pg_autoctl.hostname, port: config.postgresql.port });

/**
 * One poll of the primary's service: the pending request of this epoch,
 * answered. Returns the plan to run when it was accepted.
 */
export async function takeSwitchoverRequest(client: pg.ClientBase, config: MonitorConfig, log: Logger): Promise<HandoverPlan | undefined> {
  const request = await pendingMonitorSwitchover(client);
  if (request === undefined) return undefined;
  const own = ownAddress(config);
  const self = await monitorMemberSync(client, own.hostname, own.port);
  const refusal = self === undefined
    ? `this monitor (${own.hostname}:${own.port}) has no member row`
    : switchoverRefusal(request, own);
  if (refusal !== undefined || self === undefined) {
    log.warn(`Refusing the monitor switchover request ${request.requestId}: ${refusal ?? 'no member row'}`);
    await answerMonitorSwitchover(client, request.requestId, false, refusal ?? 'no member row');
    return undefined;
  }
  await answerMonitorSwitchover(client, request.requestId, true,
    `monitor member ${self.memberId} hands over to monitor member ${request.targetMember}`);
  log.info(`Monitor switchover request ${request.requestId}: this monitor (member ${self.memberId}) stops deciding and hands over `
    + `to monitor member ${request.targetMember} at ${request.hostname}:${request.port}`);
  return {
    kind: 'switchover', memberId: self.memberId, upstream: { host: request.hostname, port: request.port },
    epoch: request.epoch, requestId: request.requestId,
  };
}

/**
 * A stale monitor (a writable peer at a higher epoch): the plan to rejoin
 * it, when it is the same Postgres system and it lists this monitor among
 * its members (it keeps our slot and HBA rules; the member id is its).
 * A monitor the newer one does not know (removed by the operator after a
 * forced failover) stays as it is: it decides nothing, and keepers never
 * obey it (epochs). `warned` keeps each reason from being logged twice.
 */
export async function staleRejoinPlan(config: MonitorConfig, own: MonitorEpoch, newer: PeerEpoch, log: Logger,
  env: NodeJS.ProcessEnv, warned: Set<string> = new Set()): Promise<HandoverPlan | undefined> {
  const warnOnce = (message: string): undefined => {
    if (!warned.has(message)) log.warn(message);
    warned.add(message);
    return undefined;
  };
  const peer = newer.epoch;
  if (peer === undefined) return undefined;
  const label = scrubPasswords(newer.peer);
  if (peer.systemIdentifier !== null && own.systemIdentifier !== null && peer.systemIdentifier !== own.systemIdentifier) {
    return warnOnce(`Monitor peer "${label}" is another Postgres system (${peer.systemIdentifier}, this one is ${own.systemIdentifier}): not rejoining it`);
  }
  const host = parseConnInfo(newer.peer).hosts[0];
  if (host === undefined || host.host.startsWith('/')) return undefined;
  const address = ownAddress(config);
  let self: MonitorMember | undefined;
  try {
    const members = await withClient(newer.peer, { connectTimeoutMs: 2000, applicationName: 'pg_auto_failover peer check', env },
      (client) => monitorMembers(client));
    self = members.find((m) => m.hostname === address.hostname && m.port === address.port);
  } catch (error) {
    return warnOnce(`Failed to read the members of monitor peer "${label}": ${messageOf(error)}`);
  }
  if (self === undefined) {
    return warnOnce(`Monitor peer "${label}" does not list this monitor (${address.hostname}:${address.port}) as a member: `
      + 'not rejoining it as a standby (this monitor decides nothing meanwhile)');
  }
  log.info(`This monitor (member ${self.memberId}, epoch ${own.epoch}) rejoins monitor peer "${label}" (epoch ${peer.epoch}) as a standby`);
  return { kind: 'stale', memberId: self.memberId, upstream: { host: host.host, port: host.port ?? 5432 }, epoch: own.epoch };
}

/**
 * At the start of a session on a writable database, before anything is
 * written (a monitor back after a forced failover still names its old
 * synchronous standby: its first commit would wait forever): the plan to
 * rejoin a writable peer (`ha.peers`, the other members) at a higher
 * epoch, if there is one. Reads only; a schema too old to answer is not
 * stale.
 */
export async function staleAtStart(client: pg.ClientBase, config: MonitorConfig, log: Logger,
  env: NodeJS.ProcessEnv): Promise<HandoverPlan | undefined> {
  let own: MonitorEpoch;
  let peers: string[];
  try {
    own = await currentMonitorEpoch(client);
    const members = await monitorMembers(client);
    const self = ownAddress(config);
    peers = [...new Set([...monitorPeersOf(config.ha.peers),
      ...members.filter((m) => m.hostname !== self.hostname || m.port !== self.port).map((m) => memberUri(m, config.ssl.sslmode))])];
  } catch {
    return undefined;
  }
  if (peers.length === 0) return undefined;
  const newer = newerWritablePeer(own.epoch, await readPeerEpochs(peers, env));
  if (newer === undefined) return undefined;
  log.warn(`Monitor peer "${scrubPasswords(newer.peer)}" is writable at epoch ${newer.epoch?.epoch}, higher than this monitor's epoch ${own.epoch}: `
    + 'this monitor is stale and stops deciding');
  return staleRejoinPlan(config, own, newer, log, env);
}

/** The upstream's epoch when it is writable above `epoch`, else undefined (unreachable, read-only, or not yet). */
export async function promotedAbove(upstream: { host: string; port: number }, epoch: number, sslMode: string,
  env: NodeJS.ProcessEnv): Promise<MonitorEpoch | undefined> {
  try {
    const current = await withClient(memberUri({ hostname: upstream.host, port: upstream.port }, sslMode),
      { connectTimeoutMs: 2000, applicationName: 'pg_auto_failover monitor handover', env }, (client) => currentMonitorEpoch(client));
    return current.writable && current.epoch > epoch ? current : undefined;
  } catch {
    return undefined;
  }
}

export interface RunHandoverDeps {
  config: MonitorConfig;
  postgres: PostgresControl;
  log: Logger;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
  waitMs?: number;
}

/**
 * Runs a plan once the session's connections are closed: stop Postgres,
 * (switchover) wait for the target's promotion, rejoin. Returns undefined when
 * the monitor started again as the primary instead.
 */
export async function runHandover(plan: HandoverPlan, deps: RunHandoverDeps): Promise<RejoinOutcome | undefined> {
  const { config, log, postgres } = deps;
  const sslMode = config.ssl.sslmode as SslMode;
  const label = `${plan.upstream.host}:${plan.upstream.port}`;
  const started = performance.now();
  postgres.setExpected('stopped');
  await postgres.ensure();
  postgres.setExpected('unknown');
  log.info(`Stopped this monitor's Postgres (fast) ${plan.kind === 'switchover' ? 'to hand over to' : 'to follow'} ${label}`);
  if (plan.kind === 'switchover') {
    const deadline = started + (deps.waitMs ?? HANDOVER_PROMOTION_WAIT_MS);
    let promoted: MonitorEpoch | undefined;
    while (promoted === undefined && !deps.signal.aborted && performance.now() < deadline) {
      promoted = await promotedAbove(plan.upstream, plan.epoch, sslMode, deps.env);
      if (promoted === undefined) await sleep(200, deps.signal);
    }
    if (promoted === undefined) {
      if (!deps.signal.aborted) {
        log.warn(`The monitor at ${label} was not promoted within ${Math.round((deps.waitMs ?? HANDOVER_PROMOTION_WAIT_MS) / 1000)} s: `
          + 'this monitor starts again as the primary');
      }
      postgres.setExpected('running');
      if (!deps.signal.aborted) await postgres.ensure();
      return undefined;
    }
    log.info(`The monitor at ${label} is writable at epoch ${promoted.epoch}`);
  }
  const bin = await findPgBinaries({ pgctl: config.postgresql.pg_ctl, env: deps.env });
  try {
    return await rejoinAsStandby({
      bin, pgdata: config.postgresql.pgdata, port: config.postgresql.port, upstream: plan.upstream, memberId: plan.memberId,
      sslMode, sslRootCert: config.ssl.ca_file || undefined, sslCrl: config.ssl.crl_file || undefined, password: config.replication.password,
      postgres, log, env: deps.env,
    });
  } catch (error) {
    log.error(`Failed to rejoin the monitor at ${label} as a standby: ${messageOf(error)}`);
    throw error;
  }
}
