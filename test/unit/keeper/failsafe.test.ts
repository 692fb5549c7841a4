/**
 * The failsafe's messages (src/keeper/failsafe.ts): only an answer signed
 * with the group secret and carrying the question's nonce counts; the
 * material file round-trips and is private; the monitor link's back-off
 * never grows from calls it refused without trying.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { checkAnswer, sign, verify, type VouchQuestion } from '../../../src/keeper/failsafe-messages.js';
import { loadMaterial, storeMaterial } from '../../../src/keeper/failsafe-state.js';
import { createServer } from 'node:net';
import { silentLogger } from '../../../src/common/log.js';
import { BackOffError, MonitorLink, backOffMs, MAX_BACK_OFF_MS } from '../../../src/keeper/monitor-link.js';

async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const secret = 'a'.repeat(64);
const question: VouchQuestion = { v: 1, kind: 'vouch-question', formation: 'default', group: 0, from: 1, to: 2, leaseMs: 20_000, nonce: '0'.repeat(32) };
const answer = (over: Record<string, unknown> = {}): string =>
  JSON.stringify({ v: 1, kind: 'vouch-answer', from: 2, to: 1, nonce: question.nonce, yes: true, reason: 'ok', ...over });

describe('failsafe messages', () => {
  it('accepts a signed answer to the question asked', () => {
    const body = answer();
    const checked = checkAnswer(secret, question, body, sign(secret, body));
    assert.equal(checked.ok, true);
  });

  it('refuses forged, tampered and replayed answers', () => {
    const body = answer();
    assert.equal(checkAnswer(secret, question, body, sign('b'.repeat(64), body)).ok, false, 'signed with another key');
    assert.equal(checkAnswer(secret, question, body, undefined).ok, false, 'unsigned');
    assert.equal(checkAnswer(secret, question, body.replace('"yes":true', '"yes":true '), sign(secret, body)).ok, false, 'tampered body');
    const replayed = answer({ nonce: '1'.repeat(32) });
    const r = checkAnswer(secret, question, replayed, sign(secret, replayed));
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.reason, /replayed/);
    const other = answer({ from: 3 });
    assert.equal(checkAnswer(secret, question, other, sign(secret, other)).ok, false, 'an answer from another node');
    assert.equal(verify('', body, sign('', body)), false, 'no secret, no trust');
  });

  it('keeps the material in a private file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgaf-failsafe-'));
    try {
      const path = join(dir, 'pg_autoctl.lease.failsafe');
      const material = {
        nodeId: 1, formation: 'default', groupId: 0, secret,
        peers: [{ nodeId: 2, name: 'node2', host: '127.0.0.1', port: 5433, httpPort: 8009, candidatePriority: 50 }],
      };
      storeMaterial(path, material);
      assert.deepEqual(loadMaterial(path), material);
      assert.equal(statSync(path).mode & 0o777, 0o600);
      storeMaterial(path, null);
      assert.equal(loadMaterial(path), null);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('backs off the monitor connection up to a bound that keeps reconnection under 2 s', () => {
    assert.equal(backOffMs(1), 100);
    assert.equal(backOffMs(2), 200);
    assert.ok(backOffMs(100) <= MAX_BACK_OFF_MS);
    assert.ok(MAX_BACK_OFF_MS + 1000 < 2000, 'back-off plus one loop period stays under 2 s');
  });

  it('does not count calls refused inside the back-off window as failures (no starvation)', async () => {
    const port = await closedPort();
    const link = new MonitorLink({ uri: `postgres://autoctl_node@127.0.0.1:${port}/pg_auto_failover`, log: silentLogger(), connectTimeoutMs: 500 });
    try {
      await assert.rejects(link.call('x', async () => 1));
      assert.equal(link.consecutiveFailures, 1);
      for (let i = 0; i < 20; i += 1) await assert.rejects(link.call('x', async () => 1), BackOffError);
      assert.equal(link.consecutiveFailures, 1, 'refusals without an attempt are not failures');
      await new Promise((r) => setTimeout(r, backOffMs(1) + 20));
      await assert.rejects(link.call('x', async () => 1), (e: unknown) => !(e instanceof BackOffError));
      assert.equal(link.consecutiveFailures, 2);
    } finally {
      await link.close();
    }
  });
});

describe('failsafe promise file', () => {
  it('keeps a promise across a keeper restart, and holds a whole lease after a reboot', async () => {
    const { writeFileSync, existsSync } = await import('node:fs');
    const { restoreFailsafe, failsafeFiles } = await import('../../../src/keeper/failsafe-state.js');
    const dir = mkdtempSync(join(tmpdir(), 'pgaf-promise-'));
    try {
      const lease = join(dir, 'pg_autoctl.lease');
      const files = failsafeFiles(lease);
      // Written by a keeper of another boot: hold a whole lease and margin from now.
      writeFileSync(files.promise, JSON.stringify({ boot_id: 'another-boot', expires_at_ns: '1', lease_ms: 8000 }));
      const before = performance.now();
      const rebooted = restoreFailsafe(lease);
      assert.ok(rebooted.promiseEnd !== null && rebooted.promiseEnd >= before + 8400 - 5, `held ${String(rebooted.promiseEnd)}`);
      // Rebased on this boot: the next restart keeps the same end.
      const again = restoreFailsafe(lease);
      assert.ok(again.promiseEnd !== null && Math.abs(again.promiseEnd - rebooted.promiseEnd) < 50);
      // An expired promise of this boot is dropped with its file.
      writeFileSync(files.promise, JSON.stringify({ boot_id: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(), expires_at_ns: '1', lease_ms: 8000 }));
      assert.equal(restoreFailsafe(lease).promiseEnd, null);
      assert.equal(existsSync(files.promise), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
