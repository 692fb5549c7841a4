import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  classifyPgData, isProcessAlive, newestWalTimeline, parseControlData, parsePostmasterPid, readPostmasterPid, runningPostmaster, wasShutDownCleanly,
} from '../../../src/postgres/data-dir.js';
import { postgresStatus } from '../../../src/postgres/control.js';

const PID_FILE = `4242
/tmp/anchor/capture/node1
1764110290
6001
/tmp
127.0.0.1
  6001001         3
ready   
`;

const CONTROLDATA = `pg_control version number:            1300
Catalog version number:               202209061
Database system identifier:           7576543210987654321
Database cluster state:               in production
pg_control last modified:             Tue 25 Nov 2025 10:38:12 PM UTC
Latest checkpoint location:           0/3000060
Latest checkpoint's REDO location:    0/3000028
Latest checkpoint's TimeLineID:       2
Latest checkpoint's PrevTimeLineID:   1
`;

describe('PGDATA facts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgaf-datadir-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('classifies directories', () => {
    assert.equal(classifyPgData(join(dir, 'missing')), 'missing');
    mkdirSync(join(dir, 'empty'));
    assert.equal(classifyPgData(join(dir, 'empty')), 'empty');
    mkdirSync(join(dir, 'other'));
    writeFileSync(join(dir, 'other', 'notes.txt'), 'x');
    assert.equal(classifyPgData(join(dir, 'other')), 'not-postgres');
    writeFileSync(join(dir, 'file'), 'x');
    assert.equal(classifyPgData(join(dir, 'file')), 'not-a-directory');
    const pg = join(dir, 'pg');
    mkdirSync(join(pg, 'global'), { recursive: true });
    writeFileSync(join(pg, 'PG_VERSION'), '15\n');
    assert.equal(classifyPgData(pg), 'not-postgres');
    writeFileSync(join(pg, 'global', 'pg_control'), '');
    assert.equal(classifyPgData(pg), 'postgres');
    assert.deepEqual(postgresStatus(pg), { state: 'stopped', stalePidFile: false });
    assert.deepEqual(postgresStatus(join(dir, 'empty')), { state: 'no-cluster' });
  });

  it('parses postmaster.pid', () => {
    assert.deepEqual(parsePostmasterPid(PID_FILE), {
      pid: 4242, dataDir: '/tmp/anchor/capture/node1', startTime: 1764110290, port: 6001, socketDir: '/tmp',
      listenAddress: '127.0.0.1', status: 'ready',
    });
    const starting = parsePostmasterPid('17\n/d\n1\n5432\n\n\n');
    assert.equal(starting?.status, undefined);
    assert.equal(starting?.socketDir, '');
    assert.equal(parsePostmasterPid(''), undefined);
  });

  it('reads postmaster.pid and tells live from stale', () => {
    const pg = join(dir, 'pg');
    writeFileSync(join(pg, 'postmaster.pid'), PID_FILE.replace('4242', String(process.pid)));
    assert.equal(readPostmasterPid(pg)?.pid, process.pid);
    assert.equal(runningPostmaster(pg)?.port, 6001);
    const status = postgresStatus(pg);
    assert.equal(status.state, 'running');
    if (status.state === 'running') assert.equal(status.ready, true);
    writeFileSync(join(pg, 'postmaster.pid'), PID_FILE.replace('4242', '999999999'));
    assert.equal(runningPostmaster(pg), undefined);
    assert.deepEqual(postgresStatus(pg), { state: 'stopped', stalePidFile: true });
    assert.equal(readPostmasterPid(join(dir, 'missing')), undefined);
    assert.equal(isProcessAlive(0), false);
  });

  it('parses pg_controldata output', () => {
    const control = parseControlData(CONTROLDATA);
    assert.deepEqual(control, {
      pgControlVersion: 1300, catalogVersion: 202209061, systemIdentifier: 7576543210987654321n,
      clusterState: 'in production', latestCheckpointLsn: 0x3000060n, timeline: 2,
    });
    assert.equal(wasShutDownCleanly(control), false);
    assert.equal(wasShutDownCleanly({ clusterState: 'shut down in recovery' }), true);
    assert.throws(() => parseControlData('nothing here'), /no "pg_control version number" line/);
  });
});

describe('newestWalTimeline', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgaf-walds-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('is the newest timeline of a WAL segment in pg_wal; history files and other names do not count', () => {
    assert.equal(newestWalTimeline(dir), 0, 'no pg_wal');
    mkdirSync(join(dir, 'pg_wal', 'archive_status'), { recursive: true });
    assert.equal(newestWalTimeline(dir), 0, 'no segment');
    for (const name of ['000000020000000000000003', '000000010000000000000002', '00000004.history', '0000000A.history', 'xlogtemp.123']) {
      writeFileSync(join(dir, 'pg_wal', name), '');
    }
    // A standby after a failback: the restartpoint says timeline 2, the received WAL is on timeline 3.
    writeFileSync(join(dir, 'pg_wal', '000000030000000000000003.partial'), '');
    assert.equal(newestWalTimeline(dir), 3);
    writeFileSync(join(dir, 'pg_wal', '0000000B0000000000000004'), '');
    assert.equal(newestWalTimeline(dir), 11, 'hexadecimal');
  });
});
