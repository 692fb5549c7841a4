import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  EpochGuard, STALE_LOG_PERIOD_MS, StaleMonitorError, epochFileOf, epochVerdict, readEpochFile, removeEpochFile,
} from '../../../src/keeper/monitor-epoch.js';

function recorder() {
  const lines: string[] = [];
  return { lines, log: { info: (m: string) => { lines.push(`info ${m}`); }, warn: (m: string) => { lines.push(`warn ${m}`); } } };
}

describe('monitor epochs on the keeper', () => {
  it('compares a monitor epoch with the highest seen', () => {
    assert.equal(epochVerdict(0, 0), 'same');
    assert.equal(epochVerdict(0, 1), 'newer');
    assert.equal(epochVerdict(3, 3), 'same');
    assert.equal(epochVerdict(3, 4), 'newer');
    assert.equal(epochVerdict(3, 2), 'stale');
    assert.equal(epochVerdict(1, 0), 'stale', 'a monitor without epochs after one with epochs is stale');
  });

  it('keeps the highest epoch in a 0600 file beside the state file, and refuses a lower one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'epoch-'));
    const state = join(dir, 'pg_autoctl.state');
    const file = epochFileOf(state);
    assert.equal(file, join(dir, 'pg_autoctl.epoch'));
    assert.equal(readEpochFile(file), 0);
    let now = 0;
    const { lines, log } = recorder();
    const guard = new EpochGuard(file, log, () => now);
    guard.admit(1, 'm1');
    assert.equal(readFileSync(file, 'utf8'), 'epoch 1\n');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    guard.admit(1, 'm1');
    guard.admit(2, 'm2');
    assert.equal(guard.highestSeen, 2);
    assert.equal(readEpochFile(file), 2);
    assert.deepEqual(lines, ['info The monitor at m2 is at epoch 2 (was 1)']);

    // A stale monitor: refused each time, logged once per period.
    assert.throws(() => guard.admit(1, 'm1'), (e: unknown) => e instanceof StaleMonitorError && e.monitorEpoch === 1 && e.highestSeen === 2);
    now += 1000;
    assert.throws(() => guard.admit(1, 'm1'), StaleMonitorError);
    assert.equal(lines.filter((l) => l.startsWith('warn')).length, 1);
    assert.match(lines.at(-1) ?? '', /Refusing the monitor at m1: its epoch 1 is lower than epoch 2/);
    now += STALE_LOG_PERIOD_MS;
    assert.throws(() => guard.admit(1, 'm1'), StaleMonitorError);
    assert.equal(lines.filter((l) => l.startsWith('warn')).length, 2);
    assert.equal(readEpochFile(file), 2, 'a refusal never lowers the stored epoch');

    // A restarted keeper remembers.
    const again = new EpochGuard(file, log, () => now);
    assert.equal(again.highestSeen, 2);
    assert.throws(() => again.admit(1, 'm1'), StaleMonitorError);

    // `enable monitor` removes the file: the next monitor starts a new history.
    removeEpochFile(state);
    again.reset();
    assert.equal(again.highestSeen, 0);
    again.admit(1, 'new monitor');
    assert.equal(readEpochFile(file), 1);
  });

  it('refuses a damaged epoch file instead of reading it as 0', () => {
    const dir = mkdtempSync(join(tmpdir(), 'epoch-'));
    const file = join(dir, 'pg_autoctl.epoch');
    writeFileSync(file, 'epoch two\n');
    assert.throws(() => readEpochFile(file), /Failed to parse the monitor epoch file/);
    assert.throws(() => new EpochGuard(file, recorder().log), /Failed to parse the monitor epoch file/);
  });
});
