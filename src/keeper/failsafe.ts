/**
 * The failsafe on the keeper's side (the rules are in src/fsm/failsafe.ts):
 *
 * - every keeper fetches, after each successful node_active, the other
 *   nodes of its group with their HTTP ports and the group's secret
 *   (failsafe_peers), publishes its own HTTP port, and keeps that material
 *   in a file so that a keeper restarted during a monitor outage still has
 *   it;
 * - a primary whose node_active fails runs a *vouch round*: a signed
 *   question to every other node of its group; when every answer is a
 *   signed yes carrying the question's nonce, its lease is extended;
 * - a standby answers the question on `POST /failsafe/vouch`, and when it
 *   says yes it records a promise (also kept in a file) that holds off its
 *   own promotion until the promise ends.
 *
 * Authentication: HMAC-SHA256 over the exact body bytes, keyed by the
 * group's secret, which only the monitor hands out (to keepers of the
 * group, over the monitor connection and its TLS when configured). A
 * question carries a fresh random nonce; an answer is accepted only for the
 * nonce of the question it answers (a replayed answer fails), and a
 * question whose nonce was already seen is refused (a replayed question
 * cannot renew a promise). Clocks never cross hosts: each side counts on
 * its own monotonic clock.
 */
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { messageOf } from '../common/errors.js';
import { sleep } from '../common/service.js';
import { isMonitorDisabled } from '../config/index.js';
import {
  heldByPromise, isWritableState, roundSucceeded, vouchedLeaseEnd, vouchPromiseEnd, vouchVerdict, type NodeState,
} from '../fsm/index.js';
import type { FailsafePeer } from '../monitor-api/index.js';
import { walReceiverStatus } from '../postgres/sql.js';
import { SIGNATURE_HEADER, VOUCH_PATH, checkAnswer, sign, verify, questionSchema, type VouchAnswer, type VouchQuestion } from './failsafe-messages.js';
import { failsafeFiles, storeMaterial, storePromise, type FailsafeMaterial, type FailsafeState } from './failsafe-state.js';
import { jsonReply, type HttpListener, type HttpReply, type HttpRequest } from '../common/http-listener.js';
import { storeLeaseEnd } from './lease-file.js';
import { assignedState, currentState, type KeeperRuntime } from './runtime.js';

/** Nonces of questions already answered, remembered this long. */
const NONCE_MEMORY_MS = 15 * 60 * 1000;
const MAX_NONCES = 100_000;

// ---------------------------------------------------------------------------
// The voucher (standby) side

function rememberNonce(state: FailsafeState, nonce: string, now: number): boolean {
  if (state.nonces.has(nonce)) return false;
  if (state.nonces.size >= MAX_NONCES) {
    for (const [n, at] of state.nonces) {
      if (now - at < NONCE_MEMORY_MS && state.nonces.size < MAX_NONCES) break;
      state.nonces.delete(n);
    }
  }
  state.nonces.set(nonce, now);
  return true;
}

/** Where this node's walreceiver streams from, null when it does not stream (or Postgres is down). */
async function streamingFrom(rt: KeeperRuntime): Promise<{ host: string; port: number } | null> {
  if (!rt.local.isReady()) return null;
  const status = await rt.local.withClient((client) => walReceiverStatus(client));
  if (status === undefined || status.status !== 'streaming' || status.senderHost === undefined || status.senderPort === undefined) return null;
  return { host: status.senderHost, port: status.senderPort };
}

/** POST /failsafe/vouch. */
export async function answerQuestion(rt: KeeperRuntime, req: HttpRequest): Promise<HttpReply> {
  const state = rt.failsafe;
  const material = state.material;
  if (material === null || material.secret === '') return jsonReply(503, { error: 'this node has no failsafe material from the monitor yet' });
  const signature = req.headers[SIGNATURE_HEADER];
  if (!verify(material.secret, req.body, typeof signature === 'string' ? signature : undefined)) {
    rt.log.warn('Refused a vouch question that is not signed with the group secret');
    return jsonReply(401, { error: 'bad signature' });
  }
  let question: VouchQuestion;
  try {
    const parsed = questionSchema.safeParse(JSON.parse(req.body.toString('utf8')));
    if (!parsed.success) return jsonReply(400, { error: 'malformed question' });
    question = parsed.data;
  } catch {
    return jsonReply(400, { error: 'the question is not JSON' });
  }
  if (question.to !== material.nodeId) return jsonReply(400, { error: `this is node ${material.nodeId}, not node ${question.to}` });
  if (!rememberNonce(state, question.nonce, performance.now())) {
    rt.log.warn(`Refused a replayed vouch question from node ${question.from}`);
    return jsonReply(409, { error: 'this question was already answered' });
  }
  const requester = material.peers.find((p) => p.nodeId === question.from);
  let verdict: { yes: boolean; reason: string };
  if (requester === undefined) {
    verdict = { yes: false, reason: `node ${question.from} is not in this node's group` };
  } else {
    let from: { host: string; port: number } | null = null;
    try {
      from = await streamingFrom(rt);
    } catch (error) {
      rt.log.debug(`Failed to read pg_stat_wal_receiver: ${messageOf(error)}`);
    }
    // The goal is read after the await: a goal received meanwhile counts.
    const goal: NodeState = assignedState(rt);
    const primary = rt.otherNodes.find((n) => n.isPrimary);
    const v = vouchVerdict({
      goal,
      knownPrimaryNodeId: primary?.nodeId ?? null,
      streamingFrom: from,
      sameGroup: question.formation === material.formation && question.group === material.groupId,
    }, requester);
    verdict = v.yes ? { yes: true, reason: 'streaming from this primary' } : { yes: false, reason: v.reason };
  }
  if (verdict.yes) notePromise(rt, vouchPromiseEnd(performance.now(), question.leaseMs), question.leaseMs);
  noteAnswer(rt, question.from, verdict.yes, verdict.reason);
  const answer: VouchAnswer = {
    v: 1, kind: 'vouch-answer', from: material.nodeId, to: question.from, nonce: question.nonce, yes: verdict.yes, reason: verdict.reason,
  };
  const body = JSON.stringify(answer);
  return { status: 200, headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: sign(material.secret, body) }, body };
}

/** Records a promise (memory and file) before the yes leaves this node. */
function notePromise(rt: KeeperRuntime, end: number, leaseMs: number): void {
  const state = rt.failsafe;
  if (state.promiseEnd === null || end > state.promiseEnd) state.promiseEnd = end;
  storePromise(failsafeFiles(rt.leaseFile).promise, state.promiseEnd, leaseMs);
}

function noteAnswer(rt: KeeperRuntime, primaryId: number, yes: boolean, reason: string): void {
  const state = rt.failsafe;
  if (state.vouched === null) {
    state.vouched = { since: performance.now(), yes: 0, no: 0, primaryId };
    rt.log.info(yes ? `Vouching for the write lease of node ${primaryId}, which cannot reach the monitor`
      : `Not vouching for the write lease of node ${primaryId}: ${reason}`);
  } else if (!yes && state.vouched.no === 0) {
    rt.log.info(`No longer vouching for the write lease of node ${primaryId}: ${reason}`);
  }
  if (yes) state.vouched.yes += 1;
  else state.vouched.no += 1;
}

/**
 * Whether the transition to `goal` must wait for this node's promise, and
 * for how long (ms); 0 when it may run now.
 */
export function promiseHoldMs(rt: KeeperRuntime, goal: NodeState, now = performance.now()): number {
  const end = rt.failsafe.promiseEnd;
  if (end === null || now >= end || !heldByPromise(goal)) return 0;
  return end - now;
}

export function registerFailsafeRoutes(rt: KeeperRuntime, listener: HttpListener): void {
  listener.route({ path: VOUCH_PATH, methods: ['POST'], handler: (req) => answerQuestion(rt, req) });
}

// ---------------------------------------------------------------------------
// The primary side

function post(host: string, port: number, body: string, signature: string, timeoutMs: number): Promise<{ status: number; body: string; signature: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host, port, method: 'POST', path: VOUCH_PATH, timeout: timeoutMs,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), [SIGNATURE_HEADER]: signature },
    }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > 16 * 1024) {
          req.destroy(new Error('answer too large'));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => {
        const sig = res.headers[SIGNATURE_HEADER];
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), signature: typeof sig === 'string' ? sig : undefined });
      });
      res.on('error', reject);
    });
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('close', () => clearTimeout(timer));
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

export interface RoundResult {
  /** Every asked node said yes: the lease now ends at `leaseEnd`. */
  readonly extended: boolean;
  readonly leaseEnd: number | null;
  readonly yes: readonly number[];
  readonly refusals: readonly string[];
}

/** Asks one peer; a yes only when the answer is authentic and answers this question. */
async function ask(material: FailsafeMaterial, peer: FailsafePeer, leaseMs: number, timeoutMs: number): Promise<{ yes: boolean; why: string }> {
  if (peer.httpPort === null) return { yes: false, why: `node ${peer.nodeId} "${peer.name}" has no HTTP listener` };
  const question: VouchQuestion = {
    v: 1, kind: 'vouch-question', formation: material.formation, group: material.groupId,
    from: material.nodeId, to: peer.nodeId, leaseMs, nonce: randomBytes(16).toString('hex'),
  };
  const body = JSON.stringify(question);
  try {
    const res = await post(peer.host, peer.httpPort, body, sign(material.secret, body), timeoutMs);
    if (res.status !== 200) return { yes: false, why: `node ${peer.nodeId} "${peer.name}" answered HTTP ${res.status}` };
    const checked = checkAnswer(material.secret, question, res.body, res.signature);
    if (!checked.ok) return { yes: false, why: `node ${peer.nodeId} "${peer.name}": ${checked.reason}` };
    return checked.answer.yes ? { yes: true, why: '' } : { yes: false, why: `node ${peer.nodeId} "${peer.name}" does not vouch: ${checked.answer.reason}` };
  } catch (error) {
    return { yes: false, why: `node ${peer.nodeId} "${peer.name}" (${peer.host}:${peer.httpPort}) is unreachable: ${messageOf(error)}` };
  }
}

/**
 * One vouch round of a primary that cannot reach the monitor. The lease is
 * extended only when the material is fresh for the current lease and every
 * other node of the group said yes.
 */
export async function vouchRound(rt: KeeperRuntime, monitorLeaseMs: number): Promise<RoundResult> {
  const material = rt.failsafe.material;
  if (material === null) {
    return { extended: false, leaseEnd: null, yes: [], refusals: ['this node never got the list of its group\'s nodes from the monitor'] };
  }
  const sentAt = performance.now();
  // Alone in its group (a `single`), as in 2.0 the node keeps serving: no
  // other node can be promoted without it (a new standby waits for this
  // node's report, rules R4-R6); dropping it meanwhile is the operator's
  // call (docs/architecture.md, "The failsafe").
  if (material.peers.length === 0) return { extended: true, leaseEnd: vouchedLeaseEnd(sentAt, monitorLeaseMs), yes: [], refusals: [] };
  if (material.secret === '') {
    return { extended: false, leaseEnd: null, yes: [], refusals: ['no group secret from the monitor'] };
  }
  const timeoutMs = Math.max(200, Math.min(1000, Math.floor(monitorLeaseMs / 10)));
  const answers = await Promise.all(material.peers.map(async (peer) => ({ peer, ...(await ask(material, peer, monitorLeaseMs, timeoutMs)) })));
  const yes = answers.filter((a) => a.yes).map((a) => a.peer.nodeId);
  const refusals = answers.filter((a) => !a.yes).map((a) => a.why);
  if (!roundSucceeded(material.peers.map((p) => p.nodeId), new Set(yes))) return { extended: false, leaseEnd: null, yes, refusals };
  const end = vouchedLeaseEnd(sentAt, monitorLeaseMs);
  return { extended: true, leaseEnd: end, yes, refusals };
}

// ---------------------------------------------------------------------------
// Bookkeeping in the keeper loop

function setMaterial(rt: KeeperRuntime, material: FailsafeMaterial | null): void {
  rt.failsafe.material = material;
  storeMaterial(failsafeFiles(rt.leaseFile).material, material);
}

/**
 * node_active answered, with the group's nodes and secret fetched in the
 * same statement: the material is fresh for whatever lease that answer
 * granted.
 */
export function noteMaterial(rt: KeeperRuntime, fetched: { peers: readonly FailsafePeer[]; secret: string }, answeredAt = performance.now()): void {
  const state = rt.failsafe;
  state.lastGrantAnsweredAt = answeredAt;
  const material: FailsafeMaterial = {
    nodeId: rt.state.currentNodeId,
    formation: rt.config.pg_autoctl.formation,
    groupId: rt.state.currentGroup,
    peers: fetched.peers,
    secret: fetched.secret,
  };
  if (JSON.stringify(material) !== JSON.stringify(state.material)) setMaterial(rt, material);
}

/** Publishes this node's HTTP port on the monitor when it is not known there yet. */
export async function publishHttpPort(rt: KeeperRuntime, publish: (port: number | null) => Promise<void>): Promise<void> {
  const state = rt.failsafe;
  if (state.publishedHttpPort === rt.httpPort) return;
  try {
    await publish(rt.httpPort);
    state.publishedHttpPort = rt.httpPort;
  } catch (error) {
    rt.log.warn(`Failed to publish the HTTP port of this node on the monitor: ${messageOf(error)}`);
  }
}

/** node_active failed on a primary: one vouch round, and the lease extended when every peer said yes. */
export async function runVouchRound(rt: KeeperRuntime): Promise<void> {
  const state = rt.failsafe;
  const now = performance.now();
  state.outage ??= { since: now, rounds: 0, extended: 0, vouchers: new Set(), lastRefusal: null };
  const outage = state.outage;
  outage.rounds += 1;
  const result = await vouchRound(rt, rt.lease.monitorLeaseMs);
  if (result.extended && result.leaseEnd !== null && rt.lease.valid()) {
    rt.lease.extendTo(result.leaseEnd);
    storeLeaseEnd(rt.leaseFile, rt.lease.expiresAt());
    if (outage.extended === 0) {
      rt.log.warn(result.yes.length === 0
        ? 'The monitor is unreachable: this node is alone in its group and keeps serving (failsafe)'
        : `The monitor is unreachable: nodes ${result.yes.join(', ')} vouched for this primary, write lease extended by the failsafe`);
    }
    outage.extended += 1;
    for (const id of result.yes) outage.vouchers.add(id);
    outage.lastRefusal = null;
    return;
  }
  const why = result.refusals.join('; ');
  if (why !== outage.lastRefusal) {
    rt.log.warn(`The failsafe cannot extend the write lease of this node (${Math.round(rt.lease.remainingMs())} ms left): ${why}`);
    outage.lastRefusal = why;
  }
}

/**
 * How long after the last lease grant a primary starts vouch rounds, and
 * the pause between two rounds: the keeper reports every second, so a
 * grant older than that means node_active is failing or hanging (a call
 * to an unreachable host can take seconds to fail: the rounds do not wait
 * for it).
 */
export function vouchTiming(monitorLeaseMs: number): { afterMs: number; everyMs: number } {
  // Late enough that a healthy keeper (a grant every second or so) never
  // starts a round: a round makes promises that would hold a switchover.
  const afterMs = Math.min(Math.max(1500, Math.floor(monitorLeaseMs / 3)), Math.floor(monitorLeaseMs / 2));
  return { afterMs, everyMs: Math.min(1000, Math.max(200, Math.floor(monitorLeaseMs / 6))) };
}

/** A primary whose last grant is too old runs vouch rounds, on its own timer (see vouchTiming). */
export async function runFailsafeLoop(rt: KeeperRuntime, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    const { afterMs, everyMs } = vouchTiming(rt.lease.monitorLeaseMs);
    await sleep(everyMs, signal);
    if (signal.aborted) return;
    const lastGrant = rt.failsafe.lastGrantAnsweredAt;
    const stale = lastGrant === null || performance.now() - lastGrant >= afterMs;
    if (!stale || !isWritableState(currentState(rt)) || !rt.lease.valid() || isMonitorDisabled(rt.config)) continue;
    try {
      await runVouchRound(rt);
    } catch (error) {
      rt.log.warn(`The failsafe round failed: ${messageOf(error)}`);
    }
  }
}

/** The monitor answers again: tells it (as an event) what the failsafe did meanwhile. */
export async function endOutage(rt: KeeperRuntime, record: (description: string) => Promise<void>): Promise<void> {
  const state = rt.failsafe;
  const outage = state.outage;
  const vouched = state.vouched;
  state.outage = null;
  state.vouched = null;
  const lines: string[] = [];
  if (outage !== null && outage.rounds > 0) {
    const seconds = Math.round((performance.now() - outage.since) / 1000);
    lines.push(outage.extended > 0
      ? (outage.vouchers.size === 0
        ? `kept its write lease for ${seconds} s without the monitor, alone in its group`
        : `kept its write lease for ${seconds} s without the monitor on the vouches of node${outage.vouchers.size > 1 ? 's' : ''} ${[...outage.vouchers].join(', ')} (${outage.extended} of ${outage.rounds} rounds)`)
      : `could not renew its write lease for ${seconds} s without the monitor: ${outage.lastRefusal ?? 'no vouch'}`);
  }
  if (vouched !== null) {
    lines.push(`answered ${vouched.yes + vouched.no} vouch questions of node ${vouched.primaryId ?? '?'} while it could not reach the monitor (${vouched.yes} yes, ${vouched.no} no)`);
  }
  for (const line of lines) {
    rt.log.info(`Failsafe: ${line}`);
    try {
      await record(line);
    } catch (error) {
      rt.log.debug(`Failed to record the failsafe event: ${messageOf(error)}`);
    }
  }
}
