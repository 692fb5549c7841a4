/**
 * The lease guard script (src/keeper/lease-guard.pl) against a stand-in
 * "postmaster": a shell with a child, named in a postmaster.pid file. The
 * guard must kill both when the lease it was told about runs out, and
 * touch nothing on `none`, `release` or SIGTERM.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const GUARD = fileURLToPath(new URL('../../../src/keeper/lease-guard.pl', import.meta.url));
const started: ChildProcess[] = [];
const dirs: string[] = [];
const grandchildren: number[] = [];

after(() => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const pid of grandchildren) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A killed child of ours stays a zombie until reaped: count it as gone.
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function until(what: string, predicate: () => boolean, timeoutMs = 5_000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!predicate()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A fake postmaster (sh) with one child (sleep), and its PGDATA. */
async function fakePostgres(): Promise<{ pgdata: string; postmaster: ChildProcess; childPid: () => number }> {
  const pgdata = mkdtempSync(join(tmpdir(), 'pgaf-guard-'));
  dirs.push(pgdata);
  const postmaster = spawn('sh', ['-c', 'sleep 300 & echo $! ; wait'], { stdio: ['ignore', 'pipe', 'ignore'] });
  started.push(postmaster);
  let childPid = 0;
  postmaster.stdout?.on('data', (chunk: Buffer) => { childPid = Number(chunk.toString().trim()); });
  await until('the fake postmaster\'s child', () => childPid > 0);
  grandchildren.push(childPid);
  writeFileSync(join(pgdata, 'postmaster.pid'), `${postmaster.pid}\n${pgdata}\n`);
  return { pgdata, postmaster, childPid: () => childPid };
}

function startGuard(pgdata: string): ChildProcess {
  const guard = spawn('perl', [GUARD, pgdata], { stdio: ['pipe', 'ignore', 'pipe'] });
  started.push(guard);
  return guard;
}

const inMs = (ms: number): bigint => process.hrtime.bigint() + BigInt(ms) * 1_000_000n;

function exited(child: ChildProcess): Promise<number | string> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
}

describe('the lease guard (perl)', () => {
  it('kills the postmaster and its children when the lease runs out, not before', async () => {
    const pg = await fakePostgres();
    const guard = startGuard(pg.pgdata);
    const armedAt = performance.now();
    guard.stdin?.write(`lease ${inMs(300)}\n`);
    await until('the fence', () => !alive(pg.postmaster.pid ?? 0) && !alive(pg.childPid()));
    const after = performance.now() - armedAt;
    assert.ok(after >= 290, `fenced after ${after} ms, before the lease ended`);
    assert.ok(alive(guard.pid ?? 0), 'the guard keeps running while the keeper lives');
    guard.stdin?.end('release\n');
    assert.equal(await exited(guard), 0);
  });

  it('follows lease extensions and `none`', async () => {
    const pg = await fakePostgres();
    const guard = startGuard(pg.pgdata);
    guard.stdin?.write(`lease ${inMs(200)}\n`);
    guard.stdin?.write(`lease ${inMs(100_000)}\n`);
    await new Promise((r) => setTimeout(r, 400));
    assert.ok(alive(pg.postmaster.pid ?? 0), 'an extended lease was enforced at its old end');
    guard.stdin?.write(`lease ${inMs(50)}\n`);
    guard.stdin?.write('none\n');
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(alive(pg.postmaster.pid ?? 0), '`none` did not disarm the guard');
    guard.stdin?.write('bogus line\nlease notanumber\n');
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(alive(guard.pid ?? 0) && alive(pg.postmaster.pid ?? 0), 'garbage lines changed something');
    guard.kill('SIGTERM');
    assert.equal(await exited(guard), 0);
    assert.ok(alive(pg.postmaster.pid ?? 0), 'SIGTERM touched Postgres');
  });

  it('enforces the last lease after the keeper dies (stdin closes), then exits', async () => {
    const pg = await fakePostgres();
    const guard = startGuard(pg.pgdata);
    guard.stdin?.end(`lease ${inMs(300)}\n`);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(alive(pg.postmaster.pid ?? 0), 'fenced before the lease ended');
    assert.equal(await exited(guard), 0);
    // SIGKILLed processes are gone within milliseconds, later on a loaded machine; unfenced ones stay.
    const gone = (): boolean => !alive(pg.postmaster.pid ?? 0) && !alive(pg.childPid());
    for (let i = 0; i < 40 && !gone(); i += 1) await new Promise((r) => setTimeout(r, 50));
    assert.ok(gone(), 'the guard exited without fencing');
  });

  it('exits at once when the keeper dies without a lease', async () => {
    const pg = await fakePostgres();
    const guard = startGuard(pg.pgdata);
    guard.stdin?.end('none\n');
    assert.equal(await exited(guard), 0);
    assert.ok(alive(pg.postmaster.pid ?? 0));
  });
});
