import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AutoctlError } from '../../../src/common/errors.js';
import {
  EXPECTED_PG_STATUS_TEXT, PGDATA_INIT_STATE_TEXT, initialKeeperState, readExpectedPgStatus, readInitFile,
  readInitFileIfExists, readKeeperState, readKeeperStateIfExists, removeExpectedPgStatus, removeInitFile, tempPathOf,
  writeExpectedPgStatus, writeInitFile, writeKeeperState, type KeeperState,
} from '../../../src/config/index.js';

const dir = mkdtempSync(join(tmpdir(), 'pgaf-state-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function isBadState(pattern: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof AutoctlError);
    assert.equal(error.code, 'BAD_STATE');
    assert.match(error.message, pattern);
    return true;
  };
}

describe('keeper state file', () => {
  it('starts unregistered: node id -1, current init, assigned unknown', () => {
    const state = initialKeeperState();
    assert.equal(state.version, 1);
    assert.equal(state.currentNodeId, -1);
    assert.equal(state.currentRole, 'init');
    assert.equal(state.assignedRole, 'unknown');
    assert.equal(state.lastMonitorContact, 0);
    assert.equal(state.lastSecondaryContact, 0);
  });

  it('round-trips every field, with a 64-bit system identifier, mode 0600', async () => {
    const path = join(dir, 'pg_autoctl.state');
    const state: KeeperState = initialKeeperState({
      pgVersion: 150018,
      pgControlVersion: 1300,
      catalogVersionNo: 202209061,
      systemIdentifier: 7712242098153588458n,
      currentNodeId: 1,
      currentGroup: 0,
      assignedRole: 'primary',
      currentRole: 'wait_primary',
      lastMonitorContact: 1764110298,
      lastSecondaryContact: 1764110200,
    });
    await writeKeeperState(path, state);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(existsSync(tempPathOf(path)), false);
    assert.deepEqual(await readKeeperState(path), state);
    assert.match(readFileSync(path, 'utf8'), /"system_identifier": "7712242098153588458"/);
    await writeKeeperState(path, { ...state, currentRole: 'primary' });
    assert.equal((await readKeeperState(path)).currentRole, 'primary');
  });

  it('reports a missing file', async () => {
    const path = join(dir, 'absent.state');
    assert.equal(await readKeeperStateIfExists(path), undefined);
    await assert.rejects(readKeeperState(path), isBadState(/^Failed to read Keeper state from file ".*absent.state"/));
  });

  it('reports a broken file or another version, naming the file', async () => {
    const path = join(dir, 'broken.state');
    writeFileSync(path, '{"version": 1, "current_role": "prim');
    await assert.rejects(readKeeperState(path), isBadState(/^Keeper state file ".*broken.state" exists but is broken or wrong version/));
    writeFileSync(path, Buffer.alloc(1024));
    await assert.rejects(readKeeperState(path), isBadState(/broken or wrong version/));
    const good = JSON.parse(readFileSync(join(dir, 'pg_autoctl.state'), 'utf8')) as Record<string, unknown>;
    writeFileSync(path, JSON.stringify({ ...good, version: 2 }));
    await assert.rejects(readKeeperState(path), isBadState(/wrong version \(version: /));
    writeFileSync(path, JSON.stringify({ ...good, current_node_id: 'one' }));
    await assert.rejects(readKeeperState(path), isBadState(/current_node_id/));
  });
});

describe('init file', () => {
  it('records the PGDATA classification and is removed after create', async () => {
    const path = join(dir, 'pg_autoctl.init');
    assert.equal(await readInitFileIfExists(path), undefined);
    await assert.rejects(readInitFile(path), isBadState(/init file/));
    await writeInitFile(path, 'running-primary');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const init = await readInitFile(path);
    assert.deepEqual(init, { version: 1, pgdataState: 'running-primary' });
    assert.equal(PGDATA_INIT_STATE_TEXT[init.pgdataState], 'PostgreSQL is running and a primary server');
    assert.equal(await removeInitFile(path), true);
    assert.equal(await removeInitFile(path), false);
  });

  it('reports a broken init file', async () => {
    const path = join(dir, 'broken.init');
    writeFileSync(path, '{"version":1,"pgdata_state":"sideways"}');
    await assert.rejects(readInitFile(path), isBadState(/^Init file ".*broken.init" exists but is broken/));
  });
});

describe('expected Postgres status file', () => {
  it('holds one of four values; missing means unknown', async () => {
    const path = join(dir, 'pg_autoctl.pg');
    assert.equal(await readExpectedPgStatus(path), 'unknown');
    for (const status of ['stopped', 'running', 'running-as-subprocess', 'unknown'] as const) {
      await writeExpectedPgStatus(path, status);
      assert.equal(await readExpectedPgStatus(path), status);
    }
    assert.equal(EXPECTED_PG_STATUS_TEXT['running-as-subprocess'], 'running as a pg_autoctl subprocess');
    assert.equal(await removeExpectedPgStatus(path), true);
    assert.equal(await readExpectedPgStatus(path), 'unknown');
  });

  it('refuses unknown content', async () => {
    const path = join(dir, 'bad.pg');
    writeFileSync(path, 'maybe\n');
    await assert.rejects(readExpectedPgStatus(path), isBadState(/unknown value "maybe"/));
  });
});
