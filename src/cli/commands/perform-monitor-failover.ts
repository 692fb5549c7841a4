/**
 * `pg_autoctl perform monitor-failover` (issue 13, docs/architecture.md
 * "Monitor high availability", design point 6), run on a standby monitor
 * with its --pgdata: this monitor becomes the primary monitor.
 *
 * - The primary monitor answers: a clean switchover. Ask it
 *   (request_monitor_switchover); its service stops deciding, stops its
 *   Postgres fast (the WAL senders send everything first) and rejoins as
 *   our standby once we are promoted. We wait until it is down or
 *   read-only, wait until our replay reaches what we received, promote,
 *   and wait until we accept writes at a new epoch.
 * - It does not answer: refuse, unless --force, which says the operator
 *   fenced the old host; then promote.
 * - Never a member out of the sync set, with or without --force.
 * Every wait is bounded by --wait (60 s by default).
 */
import type pg from 'pg';
import { AutoctlError, badArgs, badState, messageOf } from '../../common/errors.js';
import { sleep } from '../../common/service.js';
import { isMonitorConfig, monitorPeersOf, type MonitorConfig } from '../../config/index.js';
import {
  currentMonitorEpoch, monitorSwitchoverStatus, requestMonitorSwitchover, type MonitorEpoch,
} from '../../monitor-api/index.js';
import { readPeerEpochs, type PeerEpoch } from '../../monitor/epoch-peers.js';
import { HANDOVER_PROMOTION_WAIT_MS } from '../../monitor/ha/handover.js';
import { memberUri } from '../../monitor/ha/members-loop.js';
import { checkPromotable, promoteMonitor } from '../../monitor/ha/promote.js';
import {
  connectLocal, currentSetting, findPgBinaries, formatLsn, isInRecovery, parseConnInfo, parseLsnOrZero, scrubPasswords, walReceiverStatus, withClient,
} from '../../postgres/index.js';
import { data, type CommandResult } from '../command.js';
import type { CommandContext } from '../context.js';
import type { MonitorFailoverReport } from '../render/monitor-failover.js';
import { loadConfig, resolvePgdata } from '../target.js';

export interface MonitorFailoverFlags {
  pgdata?: string;
  force?: boolean;
  wait?: string;
}

export const DEFAULT_MONITOR_FAILOVER_TIMEOUT_S = 60;
/**
 * How long the primary has to accept the request. Its service only sees
 * requests younger than 20 s (pending_monitor_switchover): past this, it
 * can no longer accept, and giving up changes nothing.
 */
const REQUEST_ACCEPT_MS = 25_000;

export function parseTimeout(given: string | undefined): number {
  if (given === undefined) return DEFAULT_MONITOR_FAILOVER_TIMEOUT_S;
  const text = given.trim();
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text)) || Number(text) <= 0) {
    throw badArgs(`--wait argument is not a valid number of seconds: "${given}"`);
  }
  return Number(text);
}

/** The URIs where the primary monitor may be: ha.peers, and our upstream (primary_conninfo). */
export function primaryCandidates(config: MonitorConfig, primaryConninfo: string): string[] {
  const uris = [...monitorPeersOf(config.ha.peers)];
  if (primaryConninfo.trim() !== '') {
    try {
      const host = parseConnInfo(primaryConninfo).hosts[0];
      if (host !== undefined && !host.host.startsWith('/')) {
        const uri = memberUri({ hostname: host.host, port: host.port ?? 5432 }, config.ssl.sslmode);
        const known = uris.some((u) => {
          const h = parseConnInfo(u).hosts[0];
          return h?.host === host.host && (h.port ?? 5432) === (host.port ?? 5432);
        });
        if (!known) uris.push(uri);
      }
    } catch {
      // An unreadable primary_conninfo adds nothing.
    }
  }
  return uris;
}

const hostPortOf = (uri: string): { host: string; port: number } => {
  const h = parseConnInfo(uri).hosts[0];
  return { host: h?.host ?? '', port: h?.port ?? 5432 };
};

interface Deadline {
  left(): number;
  passed(): boolean;
}

function deadlineIn(ms: number): Deadline {
  const end = performance.now() + ms;
  return { left: () => Math.max(0, end - performance.now()), passed: () => performance.now() >= end };
}

/** Waits until the old primary is down or read-only, after it accepted the request (read on our replica). */
async function waitOldPrimaryGone(ctx: CommandContext, local: pg.ClientBase, primaryUri: string, requestId: number,
  deadline: Deadline): Promise<'down' | 'read-only'> {
  let accepted = false;
  const acceptBy = deadlineIn(REQUEST_ACCEPT_MS);
  for (;;) {
    const status = await monitorSwitchoverStatus(local, requestId);
    if (status?.status === 'refused' || status?.status === 'cancelled') {
      throw badState(`the primary monitor ${status.status} the switchover: ${status.message ?? 'no reason given'}; nothing changed`);
    }
    if (status?.status === 'accepted' && !accepted) {
      accepted = true;
      ctx.log.info(`The primary monitor accepted the switchover: ${status.message ?? ''}`);
    }
    if (accepted) {
      const [answer] = await readPeerEpochs([primaryUri], ctx.env, 1000);
      if (answer?.epoch === undefined) return 'down';
      if (!answer.epoch.writable) return 'read-only';
    }
    if (!accepted && acceptBy.passed()) {
      throw new AutoctlError('INTERNAL', `the primary monitor did not accept the switchover request within ${REQUEST_ACCEPT_MS / 1000} s `
        + '(is its pg_autoctl service running?); nothing changed, and the request expires');
    }
    if (deadline.passed()) {
      throw new AutoctlError('INTERNAL', accepted
        ? 'the primary monitor accepted the switchover but is still writable at the deadline (see --wait); nothing was promoted'
        : 'the primary monitor did not answer the switchover request before the deadline (see --wait); nothing changed');
    }
    await sleep(100);
  }
}

/**
 * Waits until our WAL receiver stopped streaming from the old primary: its
 * WAL sender ends only once all the WAL of the shutdown, the shutdown
 * checkpoint included, was sent and flushed here. Promoting before that
 * would fork our timeline before the old primary's last record, and it
 * could not follow us without a rewind.
 */
async function waitStreamEnd(ctx: CommandContext, local: pg.ClientBase, deadline: Deadline): Promise<void> {
  for (;;) {
    const receiver = await walReceiverStatus(local);
    if (receiver?.status !== 'streaming') return;
    if (deadline.passed()) {
      throw new AutoctlError('INTERNAL', 'this monitor still streams from the old primary monitor at the deadline (see --wait); nothing was promoted');
    }
    await sleep(50);
  }
}

/** Waits until our replay reaches the end of what we received. */
async function waitReplayed(ctx: CommandContext, local: pg.ClientBase, deadline: Deadline): Promise<string> {
  for (;;) {
    const { rows } = await local.query<{ received: string | null; replayed: string | null }>(
      'SELECT pg_last_wal_receive_lsn()::text AS received, pg_last_wal_replay_lsn()::text AS replayed');
    const received = parseLsnOrZero(rows[0]?.received);
    const replayed = parseLsnOrZero(rows[0]?.replayed);
    if (replayed >= received) {
      ctx.log.info(`This monitor replayed all it received (${formatLsn(replayed)})`);
      return formatLsn(replayed);
    }
    if (deadline.passed()) {
      throw new AutoctlError('INTERNAL', `this monitor still replays WAL at the deadline (received ${formatLsn(received)}, replayed ${formatLsn(replayed)}); nothing was promoted`);
    }
    await sleep(50);
  }
}

/** Waits until the local monitor is writable at an epoch above `before`. */
async function waitNewEpoch(local: pg.ClientBase, before: number, deadline: Deadline): Promise<MonitorEpoch> {
  for (;;) {
    const epoch = await currentMonitorEpoch(local);
    if (epoch.writable && epoch.epoch > before) return epoch;
    if (deadline.passed()) throw new AutoctlError('INTERNAL', `this monitor was promoted but its epoch is still ${epoch.epoch} at the deadline`);
    await sleep(100);
  }
}

export async function performMonitorFailover(flags: MonitorFailoverFlags, ctx: CommandContext): Promise<CommandResult<MonitorFailoverReport>> {
  const started = performance.now();
  const timeoutS = parseTimeout(flags.wait);
  const pgdata = resolvePgdata(ctx, flags.pgdata);
  const { config } = await loadConfig(ctx, pgdata);
  if (!isMonitorConfig(config)) {
    throw badArgs(`perform monitor-failover runs on a standby monitor: "${pgdata}" belongs to a keeper node`);
  }
  if (config.ha.etcd !== '') {
    // etcd decides who leads (ha/leadership.ts): a promotion outside it would be stopped again.
    throw new AutoctlError('BAD_STATE', 'this monitor fails over through etcd (ha.etcd is set): stop the primary monitor\'s service '
      + 'to hand over to the synchronous standby, instead of perform monitor-failover');
  }
  const deadline = deadlineIn(timeoutS * 1000);
  const address = { hostname: config.pg_autoctl.hostname, port: config.postgresql.port };
  let local: pg.Client;
  try {
    local = await connectLocal(config.postgresql.pgdata, 'pg_auto_failover', { applicationName: 'pg_autoctl perform monitor-failover', env: ctx.env });
  } catch (error) {
    throw badState(`cannot connect to this monitor's Postgres at "${pgdata}": ${messageOf(error)}`);
  }
  try {
    if (!(await isInRecovery(local))) {
      throw badState(`this monitor (${address.hostname}:${address.port}) already accepts writes: it is the primary monitor`);
    }
    // Never a member out of the sync set: checked before anything changes.
    const member = await checkPromotable(local, address);
    const before = await currentMonitorEpoch(local);
    const candidates = primaryCandidates(config, await currentSetting(local, 'primary_conninfo'));
    const answers: PeerEpoch[] = candidates.length === 0 ? [] : await readPeerEpochs(candidates, ctx.env, 2000);
    const primary = answers.find((a) => a.epoch?.writable === true);
    let mode: MonitorFailoverReport['mode'];
    let oldPrimary: { host: string; port: number } | null = null;
    let oldPrimaryWas: MonitorFailoverReport['oldPrimaryWas'];
    let requestId: number | null = null;
    if (primary !== undefined) {
      mode = 'switchover';
      oldPrimary = hostPortOf(primary.peer);
      if (flags.force) ctx.log.info('The primary monitor answers: doing a clean switchover (--force is not needed)');
      ctx.log.info(`Asking the primary monitor at ${oldPrimary.host}:${oldPrimary.port} (epoch ${primary.epoch?.epoch}) to hand over to monitor member ${member.memberId}`);
      const request = await withClient(primary.peer, { connectTimeoutMs: 2000, applicationName: 'pg_autoctl perform monitor-failover', env: ctx.env },
        (client) => requestMonitorSwitchover(client, member.memberId));
      requestId = request.requestId;
      // Never promote once the old primary may have given up waiting and started again.
      const switchDeadline = deadlineIn(Math.min(deadline.left(), HANDOVER_PROMOTION_WAIT_MS - 20_000));
      oldPrimaryWas = await waitOldPrimaryGone(ctx, local, primary.peer, request.requestId, switchDeadline);
      ctx.log.info(`The old primary monitor is ${oldPrimaryWas}`);
      await waitStreamEnd(ctx, local, switchDeadline);
      await waitReplayed(ctx, local, switchDeadline);
    } else {
      const tried = answers.map((a) => `${scrubPasswords(a.peer)}: ${a.error ?? (a.epoch?.writable === false ? 'read-only' : 'no answer')}`).join('; ');
      if (!flags.force) {
        throw badState(`the primary monitor does not answer (${tried || 'no peer known'}): fence the old primary monitor's host, then run again with --force to promote this standby`);
      }
      mode = 'forced';
      oldPrimaryWas = 'unreachable';
      const [first] = candidates;
      if (first !== undefined) oldPrimary = hostPortOf(first);
      ctx.log.warn(`The primary monitor does not answer (${tried || 'no peer known'}): promoting this standby as asked (--force)`);
      await waitReplayed(ctx, local, deadline);
    }
    const bin = await findPgBinaries({ pgctl: config.postgresql.pg_ctl, env: ctx.env });
    const promoted = await promoteMonitor({
      client: local, bin, pgdata: config.postgresql.pgdata, address, log: ctx.log, env: ctx.env, timeoutMs: Math.max(5000, deadline.left()),
    });
    const epoch = promoted.epoch.epoch > before.epoch ? promoted.epoch : await waitNewEpoch(local, before.epoch, deadlineIn(Math.max(5000, deadline.left())));
    const elapsedMs = Math.round(performance.now() - started);
    ctx.log.info(`Monitor member ${member.memberId} is the primary monitor at epoch ${epoch.epoch}, ${elapsedMs} ms after the command started`);
    return data({
      mode,
      memberId: member.memberId,
      host: address.hostname,
      port: address.port,
      oldPrimary,
      oldPrimaryWas,
      requestId,
      previousEpoch: before.epoch,
      epoch: epoch.epoch,
      timeline: epoch.timeline,
      promoteMs: promoted.promoteMs,
      elapsedMs,
    });
  } finally {
    await local.end().catch(() => undefined);
  }
}
