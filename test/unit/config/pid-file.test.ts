import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AutoctlError } from '../../../src/common/errors.js';
import {
  checkPidFile, isProcessAlive, parsePidFile, pidFileNamesPid, readPidFile, removePidFile, removePidFileSync, renderPidFile,
  writePidFile, type PidFile,
} from '../../../src/config/index.js';

const dir = mkdtempSync(join(tmpdir(), 'pgaf-pid-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const golden = (name: string): string => readFileSync(new URL(`../../golden/config/${name}`, import.meta.url), 'utf8');

/** The pid of a process that has exited (and been reaped). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

const recorded: PidFile = {
  pid: 10000,
  pgdata: '/tmp/anchor/capture/node1',
  version: '2.0',
  schemaVersion: '2.0',
  semId: 3178519,
  services: [{ pid: 10011, name: 'postgres' }, { pid: 10012, name: 'node-active' }],
};

describe('pid files', () => {
  it('renders and parses the recorded supervisor pid file', () => {
    // show file --pid --contents prints the file and one newline.
    const text = golden('show_file--pid--contents.out').slice(0, -1);
    assert.equal(renderPidFile(recorded), text);
    assert.deepEqual(parsePidFile(text), { ok: true, value: recorded });
  });

  it('parses a service pid file (five lines) and a file still being filled', () => {
    assert.deepEqual(parsePidFile('10012\n/d\n2.0\n2.0\n0\n'), {
      ok: true, value: { pid: 10012, pgdata: '/d', version: '2.0', schemaVersion: '2.0', semId: 0, services: [] },
    });
    assert.deepEqual(parsePidFile('42\n'), { ok: true, value: { pid: 42, pgdata: '', version: '', schemaVersion: '', semId: 0, services: [] } });
  });

  it('refuses broken content', () => {
    assert.deepEqual(parsePidFile(''), { ok: false, errors: ['line 1: expected a pid, found ""'] });
    assert.deepEqual(parsePidFile('0\n'), { ok: false, errors: ['line 1: expected a pid, found "0"'] });
    assert.deepEqual(parsePidFile('12\n/d\n2.0\n2.0\nx\n'), { ok: false, errors: ['line 5: expected a semaphore id, found "x"'] });
    assert.deepEqual(parsePidFile('12\n/d\n2.0\n2.0\n1\npostgres\n'), { ok: false, errors: ['line 6: expected "<pid> <service name>", found "postgres"'] });
  });

  it('tells live processes from dead ones', () => {
    assert.equal(isProcessAlive(process.pid), true);
    assert.equal(isProcessAlive(deadPid()), false);
    assert.equal(isProcessAlive(0), false);
    assert.equal(isProcessAlive(-1), false);
    const eperm = Object.assign(new Error('EPERM'), { code: 'EPERM' });
    assert.equal(isProcessAlive(1, () => { throw eperm; }), true);
  });

  it('reports running, stale (and removes it), and none', async () => {
    const path = join(dir, 'pg_autoctl.pid');
    assert.deepEqual(await checkPidFile(path), { status: 'none' });
    await writePidFile(path, { ...recorded, pid: process.pid });
    const running = await checkPidFile(path);
    assert.equal(running.status, 'running');
    assert.equal(await pidFileNamesPid(path, process.pid), true);
    assert.equal(await pidFileNamesPid(path, process.pid + 1), false);

    await writePidFile(path, { ...recorded, pid: deadPid() });
    const kept = await checkPidFile(path);
    assert.deepEqual([kept.status, kept.status === 'stale' && kept.removed], ['stale', false]);
    assert.ok(existsSync(path));
    const removed = await checkPidFile(path, { removeStale: true });
    assert.deepEqual([removed.status, removed.status === 'stale' && removed.removed], ['stale', true]);
    assert.equal(existsSync(path), false);
    assert.equal(await pidFileNamesPid(path, process.pid), false);
  });

  it('reads, removes, and reports a broken file as BAD_STATE', async () => {
    const path = join(dir, 'pg_autoctl_postgres.pid');
    assert.equal(await readPidFile(path), undefined);
    writeFileSync(path, 'not a pid\n');
    await assert.rejects(readPidFile(path), (error: unknown) => error instanceof AutoctlError && error.code === 'BAD_STATE'
      && /Pid file ".*pg_autoctl_postgres.pid" is broken/.test(error.message));
    assert.equal(await pidFileNamesPid(path, 1), false);
    assert.equal(await removePidFile(path), true);
    writeFileSync(path, '1\n');
    removePidFileSync(path);
    removePidFileSync(path);
    assert.equal(existsSync(path), false);
  });
});
