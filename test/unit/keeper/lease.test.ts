import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { silentLogger } from '../../../src/common/log.js';
import type { ExpectedPgStatus, PostgresControl } from '../../../src/common/service.js';
import { MONITOR_DISABLED, initialKeeperState } from '../../../src/config/index.js';
import { enforceLease, guardedLeaseEnd } from '../../../src/keeper/ensure-state.js';
import { childrenOf, killPostgresNow, waitPostgresGone } from '../../../src/keeper/fence.js';
import { WriteLease, keeperLeaseMs } from '../../../src/keeper/lease.js';
import { isWritableState } from '../../../src/fsm/states.js';
import { loadLeaseEnd, storeLeaseEnd } from '../../../src/keeper/lease-file.js';
import { NOT_RUNNING, type LocalPg } from '../../../src/keeper/local-pg.js';
import type { KeeperRuntime } from '../../../src/keeper/runtime.js';

const dir = mkdtempSync(join(tmpdir(), 'pgaf-lease-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('write lease', () => {
  it('is shorter than the monitor\'s by 5 %, at least 100 ms', () => {
    assert.equal(keeperLeaseMs(20_000), 19_000);
    assert.equal(keeperLeaseMs(3000), 2850);
    assert.equal(keeperLeaseMs(1000), 900);
  });

  it('runs from the send time of the granting call', () => {
    let now = 1000;
    const lease = new WriteLease(() => now, 3000);
    assert.equal(lease.valid(), false, 'no lease before any grant');
    lease.grant(900);
    assert.equal(lease.expiresAt(), 900 + 2850);
    now = 3700;
    assert.equal(lease.valid(), true);
    now = 3750;
    assert.equal(lease.valid(), false, 'expired at send time + length, whenever the answer came');
  });

  it('never moves back when answers arrive out of order', () => {
    const lease = new WriteLease(() => 0, 3000);
    lease.grant(5000);
    lease.grant(4000);
    assert.equal(lease.expiresAt(), 5000 + 2850);
  });

  it('uses a new length only for later grants', () => {
    const lease = new WriteLease(() => 0, 20_000);
    lease.grant(0);
    lease.setMonitorLeaseMs(3000);
    assert.equal(lease.expiresAt(), 19_000);
    lease.grant(1000);
    assert.equal(lease.expiresAt(), 19_000);
  });

  it('is needed in the writable states only', () => {
    for (const s of ['single', 'wait_primary', 'primary', 'join_primary', 'apply_settings'] as const) assert.ok(isWritableState(s), s);
    for (const s of ['stop_replication', 'secondary', 'demote_timeout', 'draining', 'catchingup', 'maintenance'] as const) assert.ok(!isWritableState(s), s);
  });

  it('survives a restart of pg_autoctl on the same boot, through the lease file', () => {
    const file = join(dir, 'lease');
    storeLeaseEnd(file, performance.now() + 5000);
    const end = loadLeaseEnd(file);
    assert.ok(end !== null);
    assert.ok(Math.abs(end - (performance.now() + 5000)) < 100);
    storeLeaseEnd(file, performance.now() - 1);
    assert.equal(loadLeaseEnd(file), null, 'an expired lease is not carried over');
    storeLeaseEnd(file, null);
    assert.equal(loadLeaseEnd(file), null);
  });
});

/** A stand-in postmaster: a shell with two children, its pid in $PGDATA/postmaster.pid. */
function fakePostmaster(pgdata: string): number {
  const sh = spawn('/bin/sh', ['-c', 'sleep 600 & sleep 600 & wait'], { stdio: 'ignore', detached: true });
  if (sh.pid === undefined) throw new Error('spawn failed');
  sh.unref();
  writeFileSync(join(pgdata, 'postmaster.pid'), `${sh.pid}\n${pgdata}\n0\n5432\n/tmp\n*\n0 0\nready   \n`);
  return sh.pid;
}

async function waitChildren(pid: number, n: number): Promise<number[]> {
  for (let i = 0; i < 100; i += 1) {
    const children = childrenOf(pid);
    if (children.length >= n) return children;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('children did not start');
}

/** Alive and not a zombie (an orphan may wait for a reaper in containers). */
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] !== 'Z';
  } catch {
    return false;
  }
};

describe('fencing', () => {
  it('kills the postmaster and every child at once', async () => {
    const pgdata = mkdtempSync(join(dir, 'pgdata-'));
    const pid = fakePostmaster(pgdata);
    const children = await waitChildren(pid, 2);
    assert.equal(killPostgresNow(pgdata, silentLogger()), pid);
    assert.ok(await waitPostgresGone(pid, 2000));
    for (const child of children) {
      for (let i = 0; i < 50 && alive(child); i += 1) await new Promise((r) => setTimeout(r, 20));
      assert.equal(alive(child), false, `child ${child} is gone`);
    }
  });

  function runtime(pgdata: string, state: string, lease: WriteLease, monitor = 'postgres://autoctl_node@127.0.0.1:5432/pg_auto_failover'):
  { rt: KeeperRuntime; expected: () => ExpectedPgStatus } {
    let expected: ExpectedPgStatus = 'running';
    const postgres: PostgresControl = {
      setExpected: (s) => { expected = s; },
      expected: () => expected,
      ensure: () => Promise.resolve(null),
      pid: () => null,
      reload: () => undefined,
    };
    const local: LocalPg = {
      pgdata,
      withClient: () => Promise.reject(new Error('no SQL in this test')),
      withAdminClient: () => Promise.reject(new Error('no SQL in this test')),
      isReady: () => true,
      runningPid: () => {
        try {
          const pid = Number(readFirstLine(join(pgdata, 'postmaster.pid')));
          return alive(pid) ? pid : null;
        } catch {
          return null;
        }
      },
    };
    const rt = {
      paths: { state: join(pgdata, 'state.json') },
      config: { pg_autoctl: { monitor }, postgresql: { pgdata } },
      log: silentLogger(),
      postgres,
      lease,
      local,
      state: initialKeeperState({ currentRole: state, assignedRole: state }),
      lastFacts: NOT_RUNNING,
      fencedAt: null,
      monitorUnreachable: true,
      transitionGoal: null,
      stateWrites: Promise.resolve(),
    } as unknown as KeeperRuntime;
    return { rt, expected: () => expected };
  }

  it('leaves a primary with a valid lease alone', () => {
    const pgdata = mkdtempSync(join(dir, 'pgdata-'));
    const pid = fakePostmaster(pgdata);
    const lease = new WriteLease(() => performance.now(), 3000);
    lease.grant(performance.now());
    const { rt, expected } = runtime(pgdata, 'primary', lease);
    assert.equal(enforceLease(rt), false);
    assert.equal(expected(), 'running');
    assert.ok(alive(pid));
    killPostgresNow(pgdata, silentLogger());
  });

  it('kills Postgres of a primary whose lease ran out and records demote_timeout', async () => {
    const pgdata = mkdtempSync(join(dir, 'pgdata-'));
    const pid = fakePostmaster(pgdata);
    const lease = new WriteLease(() => performance.now(), 3000);
    lease.grant(performance.now() - 10_000);
    const { rt, expected } = runtime(pgdata, 'primary', lease);
    assert.equal(enforceLease(rt), true);
    assert.equal(expected(), 'stopped', 'the controller keeps it stopped');
    assert.ok(await waitPostgresGone(pid, 2000));
    assert.equal(rt.state.currentRole, 'demote_timeout');
    await rt.stateWrites;
  });

  it('kills Postgres during a transition towards a writable goal without a lease', async () => {
    const pgdata = mkdtempSync(join(dir, 'pgdata-'));
    const pid = fakePostmaster(pgdata);
    const { rt } = runtime(pgdata, 'stop_replication', new WriteLease(() => performance.now(), 3000));
    rt.transitionGoal = 'wait_primary';
    assert.equal(enforceLease(rt), true);
    assert.ok(await waitPostgresGone(pid, 2000));
    assert.equal(rt.state.currentRole, 'stop_replication', 'a non-writable current state is kept');
  });

  it('never fences a primary whose monitor is disabled, and arms no guard for it', () => {
    const pgdata = mkdtempSync(join(dir, 'pgdata-'));
    const pid = fakePostmaster(pgdata);
    const lease = new WriteLease(() => performance.now(), 3000);
    lease.grant(performance.now() - 10_000);
    const { rt, expected } = runtime(pgdata, 'primary', lease, MONITOR_DISABLED);
    assert.equal(enforceLease(rt), false);
    assert.equal(guardedLeaseEnd(rt), null);
    assert.equal(expected(), 'running');
    assert.equal(rt.state.currentRole, 'primary');
    assert.ok(alive(pid));
    killPostgresNow(pgdata, silentLogger());
  });

  it('does not touch a standby', () => {
    const pgdata = mkdtempSync(join(dir, 'pgdata-'));
    const pid = fakePostmaster(pgdata);
    const { rt } = runtime(pgdata, 'secondary', new WriteLease(() => performance.now(), 3000));
    assert.equal(enforceLease(rt), false);
    assert.ok(alive(pid));
    killPostgresNow(pgdata, silentLogger());
  });
});

function readFirstLine(path: string): string {
  return readFileSync(path, 'utf8').split('\n')[0] ?? '';
}
