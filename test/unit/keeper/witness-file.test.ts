/**
 * The keeper as a witness (issue 13 phase 4): the last decision it received
 * is kept as a second line of pg_autoctl.epoch, backward compatible with the
 * one-line form, written atomically (0600) only when it changes.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EpochGuard, epochFileOf, parseEpochFile, readEpochFile, readEpochFileFull } from '../../../src/keeper/monitor-epoch.js';

const quiet = { info: () => undefined, warn: () => undefined };

describe('the keeper witness file', () => {
  it('reads the one-line form of phase 1 as an epoch without a witness, and keeps it when the epoch moves', () => {
    const dir = mkdtempSync(join(tmpdir(), 'witness-'));
    const file = epochFileOf(join(dir, 'pg_autoctl.state'));
    writeFileSync(file, 'epoch 3\n', { mode: 0o600 });
    assert.deepEqual(readEpochFileFull(file), { epoch: 3, witness: null });
    const guard = new EpochGuard(file, quiet);
    assert.equal(guard.witness, null);
    guard.admit(4, 'm');
    assert.equal(readFileSync(file, 'utf8'), 'epoch 4\n', 'no witness line before a decision was received');
  });

  it('stores (epoch, decision id, goal) and the node settings on a second line, only when they change, 0600; the epoch line stays first', () => {
    const dir = mkdtempSync(join(tmpdir(), 'witness-'));
    const file = epochFileOf(join(dir, 'pg_autoctl.state'));
    const guard = new EpochGuard(file, quiet);
    guard.admit(2, 'm');
    const w = { epoch: 2, decisionId: 41, goal: 'primary' as const, candidatePriority: 50, replicationQuorum: true };
    guard.recordWitness(w);
    assert.equal(readFileSync(file, 'utf8'), 'epoch 2\ndecision epoch=2 id=41 goal=primary candidate_priority=50 replication_quorum=true\n');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    // Phase 1's reader of the epoch still reads the epoch.
    assert.equal(readEpochFile(file), 2);
    // The same decision again does not rewrite the file.
    const touched = statSync(file).ino;
    guard.recordWitness({ ...w });
    assert.equal(statSync(file).ino, touched, 'an unchanged witness is not written (an atomic write would replace the inode)');
    // A decision id 0 (a monitor that names no decision) is never stored.
    guard.recordWitness({ ...w, decisionId: 0, goal: 'secondary' });
    assert.equal(guard.witness?.decisionId, 41);
    // A new decision is stored, and survives an epoch change and a restart.
    guard.recordWitness({ ...w, decisionId: 42, goal: 'wait_primary' });
    guard.admit(5, 'm');
    const again = new EpochGuard(file, quiet);
    assert.equal(again.highestSeen, 5);
    assert.deepEqual(again.witness, { ...w, decisionId: 42, goal: 'wait_primary' });
  });

  it('ignores lines it does not know, and refuses a damaged decision line instead of forgetting it', () => {
    assert.deepEqual(parseEpochFile('epoch 1\nsomething new=1\n', 'f'), { epoch: 1, witness: null });
    for (const bad of [
      'epoch 1\ndecision epoch=1 id=x goal=primary candidate_priority=50 replication_quorum=true\n',
      'epoch 1\ndecision epoch=1 id=3 goal=nowhere candidate_priority=50 replication_quorum=true\n',
      'epoch 1\ndecision epoch=1 id=3 goal=primary candidate_priority=101 replication_quorum=true\n',
      'epoch 1\ndecision epoch=1 id=0 goal=primary candidate_priority=1 replication_quorum=true\n',
      'decision epoch=1 id=3 goal=primary candidate_priority=1 replication_quorum=true\nepoch 1\n',
    ]) {
      assert.throws(() => parseEpochFile(bad, 'f'), /Failed to parse the monitor epoch file "f"/, bad);
    }
  });
});
