/**
 * Issue: foundation and the monitor node. Real monitors through the real
 * CLI, run as the cluster account.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, chownSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  clusterAccount, freePort, IS_ROOT, pidAlive, run, runCleanups, startBackground, waitFor,
} from '../helpers/fixture.js';
import pg from 'pg';
import { clusterUserName, nodeDirs, postmasterPid, startMonitor } from '../helpers/cluster.js';
import { pgAutoctl, pgAutoctlArgv } from '../helpers/tool.js';

after(runCleanups);

const psql = (uri: string, sql: string): ReturnType<typeof run> =>
  run(['psql', '-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', uri, '-c', sql]);

/** Asserts a failed command left a one-line error, a non-zero exit, and no files. */
function assertCleanFailure(result: { exitCode: number; stderr: string }, pattern: RegExp, dirs: { pgdata: string; env: NodeJS.ProcessEnv }, pgdataExisted = false): void {
  assert.notEqual(result.exitCode, 0, `expected a failure, got exit 0; stderr: ${result.stderr}`);
  assert.match(result.stderr, pattern);
  if (!pgdataExisted) assert.equal(existsSync(dirs.pgdata), false, `PGDATA ${dirs.pgdata} was left behind`);
  const configDir = dirs.env.XDG_CONFIG_HOME ?? '';
  const leftovers = existsSync(join(configDir, 'pg_autoctl')) ? findFiles(join(configDir, 'pg_autoctl')) : [];
  assert.deepEqual(leftovers, [], `configuration files were left behind: ${leftovers.join(', ')}`);
}

function findFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? findFiles(join(dir, e.name)) : [join(dir, e.name)]));
}

describe('pg_autoctl create monitor', () => {
  it('seed step verbatim: create monitor --no-ssl --auth trust --run, show uri, psql sees the default formation', async () => {
    const dirs = nodeDirs('seed-monitor');
    const port = await freePort();
    const env = { ...dirs.env, PGDATA: dirs.pgdata, PGPORT: String(port) };
    const proc = startBackground('seed monitor', pgAutoctlArgv(['create', 'monitor', '--no-ssl', '--auth', 'trust', '--run']), { env });
    const uri = await waitFor('show uri --formation monitor', async () => {
      if (proc.exited()) throw new Error(`monitor exited:\n${proc.output()}`);
      if (!proc.output().includes('Managing the monitor')) return undefined;
      const r = await pgAutoctl(['show', 'uri', '--formation', 'monitor'], { env });
      return r.exitCode === 0 && r.stdout.includes('pg_auto_failover') ? r.stdout.trim() : undefined;
    }, { timeoutMs: 90_000 }).catch((e: Error) => { throw new Error(`${e.message}\n${proc.output()}`); });
    assert.match(uri, new RegExp(`^postgres://autoctl_node@[^:/]+:${port}/pg_auto_failover\\?sslmode=prefer$`));
    const formations = await psql(uri, 'SELECT formationid, kind, dbname, opt_secondary, number_sync_standbys FROM pgautofailover.formation');
    assert.equal(formations.exitCode, 0, formations.stderr);
    assert.equal(formations.stdout.trim(), 'default|pgsql|postgres|t|0');
    proc.kill('SIGTERM');
    assert.equal(await proc.wait(60_000), 0, proc.output());
  });

  it('with --ssl-self-signed --auth scram-sha-256 the monitor serves TLS and the URI says sslmode=require', async () => {
    const monitor = await startMonitor({ name: 'ssl-monitor', extraArgs: ['--ssl-self-signed', '--auth', 'scram-sha-256'] });
    assert.match(monitor.uri, /\?sslmode=require$/);
    // Nothing is trusted on TCP any more: the operator sets autoctl_node's
    // password, here as the cluster account over the Unix socket (peer).
    const socketDir = readFileSync(join(monitor.dirs.pgdata, 'postmaster.pid'), 'utf8').split('\n')[4] ?? '';
    const setPassword = await run(['psql', '-X', '-v', 'ON_ERROR_STOP=1', '-h', socketDir, '-p', String(monitor.port), '-d', 'pg_auto_failover',
      '-c', "ALTER ROLE autoctl_node PASSWORD 'monitor-test'"]);
    assert.equal(setPassword.exitCode, 0, setPassword.stderr);
    const psql = (uri: string, sql: string): ReturnType<typeof run> =>
      run(['psql', '-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', uri, '-c', sql], { env: { PGPASSWORD: 'monitor-test' } });
    const ssl = await psql(monitor.uri, 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
    assert.equal(ssl.exitCode, 0, ssl.stderr);
    assert.equal(ssl.stdout.trim(), 't');
    const noSsl = await psql(monitor.uri.replace('sslmode=require', 'sslmode=disable'), 'SELECT 1');
    // Plain connections from the LAN are refused by the hostssl rule, loopback keeps initdb's trust rule.
    assert.ok(noSsl.exitCode === 0 || /no pg_hba.conf entry/.test(noSsl.stderr), noSsl.stderr);
    const hba = await run(['psql', '-X', '-A', '-t', '-h', socketDir, '-p', String(monitor.port), '-d', 'pg_auto_failover', '-c',
      "SELECT type, array_to_string(database, ','), auth_method FROM pg_hba_file_rules WHERE 'autoctl_node' = ANY(user_name)"]);
    assert.equal(hba.stdout.trim(), 'hostssl|pg_auto_failover|scram-sha-256');
  });

  it('autoctl_node reads the tables but writes only through the API functions', async () => {
    const monitor = await startMonitor({ name: 'perm-monitor' });
    for (const table of ['formation', 'node', 'event']) {
      const read = await psql(monitor.uri, `SELECT count(*) FROM pgautofailover.${table}`);
      assert.equal(read.exitCode, 0, read.stderr);
    }
    const writes = [
      "INSERT INTO pgautofailover.formation (formationid) VALUES ('x')",
      "UPDATE pgautofailover.formation SET number_sync_standbys = 1",
      "DELETE FROM pgautofailover.formation",
      "UPDATE pgautofailover.node SET goalstate = 'primary'",
      "DELETE FROM pgautofailover.event",
    ];
    for (const sql of writes) {
      const r = await psql(monitor.uri, sql);
      assert.notEqual(r.exitCode, 0, `${sql} should fail`);
      assert.match(r.stderr, /permission denied/);
    }
    const api = await psql(monitor.uri, "SELECT * FROM pgautofailover.create_formation('other', 'pgsql', 'postgres', true, 0)");
    assert.equal(api.exitCode, 0, api.stderr);
  });

  it('kill -9 of pg_autoctl run: Postgres keeps serving, run adopts it, stop ends everything', async () => {
    const monitor = await startMonitor({ name: 'adopt-monitor' });
    const pgPid = await postmasterPid(monitor.dirs.pgdata);
    assert.ok(pgPid, 'postmaster pid');
    monitor.proc.kill('SIGKILL');
    await monitor.proc.wait(10_000);
    assert.ok(pidAlive(pgPid), 'postgres must survive a SIGKILL of pg_autoctl');
    const q = await psql(monitor.uri, 'SELECT 1');
    assert.equal(q.exitCode, 0, q.stderr);

    const env = { ...monitor.dirs.env, PGDATA: monitor.dirs.pgdata };
    const rerun = startBackground('monitor rerun', pgAutoctlArgv(['run']), { env });
    await waitFor('the new pg_autoctl run to manage the monitor', () => {
      if (rerun.exited()) throw new Error(`run exited:\n${rerun.output()}`);
      return rerun.output().includes('Managing the monitor');
    }, { timeoutMs: 60_000 });
    assert.doesNotMatch(rerun.output(), /ERROR|FATAL/);
    assert.equal(await postmasterPid(monitor.dirs.pgdata), pgPid, 'the same postmaster was adopted');
    const status = await pgAutoctl(['status'], { env });
    assert.equal(status.exitCode, 0, status.stderr);

    const stop = await pgAutoctl(['stop'], { env });
    assert.equal(stop.exitCode, 0, stop.stderr);
    assert.equal(await rerun.wait(60_000), 0, rerun.output());
    await waitFor('postgres to stop', () => !pidAlive(pgPid), { timeoutMs: 30_000 });
    const after = await pgAutoctl(['status'], { env });
    assert.equal(after.exitCode, 3);
  });
  it('a second monitor service on the same database waits as a hot spare until the leader session ends', async () => {
    const monitor = await startMonitor({ name: 'spare-monitor' });
    monitor.proc.kill('SIGKILL');
    await monitor.proc.wait(10_000);
    // Stand-in for another monitor service: a session that claimed the leader row.
    const leader = new pg.Client({ host: '127.0.0.1', port: monitor.port, user: clusterUserName(), database: 'pg_auto_failover' });
    leader.on('error', () => undefined);
    await leader.connect();
    try {
      const claimed = await leader.query<{ ok: boolean }>('SELECT pgautofailover.claim_monitor_leadership() AS ok');
      assert.equal(claimed.rows[0]?.ok, true);
      const env = { ...monitor.dirs.env, PGDATA: monitor.dirs.pgdata };
      const spare = startBackground('spare monitor', pgAutoctlArgv(['run']), { env });
      await waitFor('the spare to wait for the lock', () => spare.output().includes('hot spare'), { timeoutMs: 60_000 }).catch((e: Error) => { throw new Error(`${e.message}\n${spare.output()}`); });
      await new Promise((r) => setTimeout(r, 1500));
      assert.doesNotMatch(spare.output(), /Managing the monitor/);
      await leader.end();
      await waitFor('the spare to take over', () => spare.output().includes('Managing the monitor'), { timeoutMs: 30_000 });
      spare.kill('SIGTERM');
      assert.equal(await spare.wait(60_000), 0, spare.output());
    } finally {
      await leader.end().catch(() => undefined);
    }
  });
});

describe('pg_autoctl create monitor: bad input', () => {
  const create = async (args: string[], dirs: ReturnType<typeof nodeDirs>, extraEnv: NodeJS.ProcessEnv = {}) =>
    pgAutoctl(['create', 'monitor', '--pgdata', dirs.pgdata, '--hostname', '127.0.0.1', ...args], { env: { ...dirs.env, ...extraEnv } });

  it('refuses to run as root', { skip: !IS_ROOT && 'needs root' }, async () => {
    const dirs = nodeDirs('root');
    const r = await run(pgAutoctlArgv(['create', 'monitor', '--pgdata', dirs.pgdata, '--no-ssl', '--auth', 'trust']), { asUser: false, env: dirs.env });
    assertCleanFailure(r, /must not be run as root/, dirs);
  });

  it('refuses a --pgport already in use', async () => {
    const dirs = nodeDirs('port');
    const port = await freePort();
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(port, resolve));
    try {
      const r = await create(['--pgport', String(port), '--no-ssl', '--auth', 'trust'], dirs);
      assertCleanFailure(r, new RegExp(`port ${port} is already in use`), dirs);
    } finally {
      server.close();
    }
  });

  it('refuses a PGDATA that belongs to a running instance', async () => {
    const monitor = await startMonitor({ name: 'busy-monitor' });
    const dirs = { ...nodeDirs('busy'), pgdata: monitor.dirs.pgdata };
    const r = await create(['--pgport', String(await freePort()), '--no-ssl', '--auth', 'trust'], dirs);
    assertCleanFailure(r, /running|already/, dirs, true);
  });

  it('refuses an unknown --auth method', async () => {
    const dirs = nodeDirs('auth');
    const r = await create(['--pgport', String(await freePort()), '--no-ssl', '--auth', 'magic'], dirs);
    assertCleanFailure(r, /unknown --auth method "magic"/, dirs);
  });

  it('refuses --ssl-self-signed together with --no-ssl', async () => {
    const dirs = nodeDirs('ssl');
    const r = await create(['--pgport', String(await freePort()), '--no-ssl', '--ssl-self-signed', '--auth', 'trust'], dirs);
    assertCleanFailure(r, /Using both --no-ssl and --ssl-self-signed is not supported/, dirs);
  });

  it('refuses a non-empty PGDATA that is not a Postgres data directory', async () => {
    const dirs = nodeDirs('notpg');
    mkdirSync(dirs.pgdata, { mode: 0o700 });
    writeFileSync(join(dirs.pgdata, 'precious.txt'), 'keep me\n');
    if (IS_ROOT) chownSync(dirs.pgdata, clusterAccount().uid, clusterAccount().gid);
    const r = await create(['--pgport', String(await freePort()), '--no-ssl', '--auth', 'trust'], dirs);
    assertCleanFailure(r, /not a PostgreSQL data directory/, dirs, true);
    assert.deepEqual(readdirSync(dirs.pgdata), ['precious.txt']);
  });
});
