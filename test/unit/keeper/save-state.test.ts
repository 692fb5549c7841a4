import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { initialKeeperState, readKeeperState } from '../../../src/config/index.js';
import { saveState, type KeeperRuntime } from '../../../src/keeper/runtime.js';

const dir = mkdtempSync(join(tmpdir(), 'save-state-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function runtime(path: string): KeeperRuntime {
  return { paths: { state: path }, state: initialKeeperState(), stateWrites: Promise.resolve() } as unknown as KeeperRuntime;
}

describe('saveState', () => {
  it('writes the state file, skips a write of the same text, and writes again when the state changes', async () => {
    const path = join(dir, 'node.state');
    const rt = runtime(path);
    await saveState(rt, { currentNodeId: 3, lastMonitorContact: 100 });
    assert.equal((await readKeeperState(path)).currentNodeId, 3);
    const firstInode = statSync(path).ino;

    // Same state: the file is not rewritten (an atomic write would give it a new inode).
    await saveState(rt);
    await saveState(rt, { currentNodeId: 3 });
    assert.equal(statSync(path).ino, firstInode);

    await saveState(rt, { lastMonitorContact: 101 });
    assert.notEqual(statSync(path).ino, firstInode);
    assert.equal((await readKeeperState(path)).lastMonitorContact, 101);
  });

  it('writes again after a failed write, even with the same state', async () => {
    const path = join(dir, 'missing', 'node.state');
    const rt = runtime(path);
    await assert.rejects(saveState(rt, { currentNodeId: 5 }));
    mkdirSync(join(dir, 'missing'));
    await saveState(rt);
    assert.equal((await readKeeperState(path)).currentNodeId, 5);
  });
});
