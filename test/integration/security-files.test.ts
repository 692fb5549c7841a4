/**
 * Issue 8 #5, #8, #13, #15 on real processes and a real Postgres: settings
 * read back by postgres itself, passwords kept out of logs and errors,
 * private files, `stop` refusing a pid that is not ours, and a `create`
 * interrupted before its init completed exiting non-zero.
 *
 * The monitor of the create test is a bare Postgres with the monitor
 * schema and no monitor service, so a registered node never gets past
 * `init`: its initialization keeps waiting until it is stopped.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { parseConnInfo, replicationConninfo } from '../../src/postgres/conninfo.js';
import { renderStandbySettings, STANDBY_CONF } from '../../src/postgres/settings-render.js';
import { applyMigrations, createMonitorDatabase, createMonitorRoles } from '../../src/monitor/schema.js';
import { pathsFor } from '../../src/config/index.js';
import { nodeDirs } from '../helpers/cluster.js';
import {
  asClusterUser, clusterAccount, freePort, IS_ROOT, makeTempDir, pgBinDir, pidAlive, run, runCleanups, startBackground, waitFor, writeClusterFile,
} from '../helpers/fixture.js';
import { startTempPostgres } from '../helpers/temp-postgres.js';
import { pgAutoctl, pgAutoctlArgv } from '../helpers/tool.js';

after(runCleanups);

const SECRET = 'Sup3r-S3cret';
const mode = (path: string): number => statSync(path).mode & 0o777;

describe('settings quoting read back by PostgreSQL (#8)', () => {
  it('keeps quotes and backslashes of a replication password, as postgres -C reads them', async () => {
    const pgdata = join(makeTempDir('pgaf-quoting-'), 'data');
    const init = await run([join(pgBinDir(), 'initdb'), '-D', pgdata, '-U', 'postgres', '--auth=trust', '--no-sync'], { timeoutMs: 120_000 });
    assert.equal(init.exitCode, 0, init.stderr);
    const source = { host: 'node1', port: 5432, user: 'pgautofailover_replicator', applicationName: 'pgautofailover_standby_2', sslMode: 'prefer' as const };
    appendFileSync(join(pgdata, 'postgresql.conf'), `\ninclude '${STANDBY_CONF}'\n`);
    // Before the fix: "it's" made postgres refuse the file, and "pa\ss" came back as "pass".
    for (const password of ["it's", 'pa\\ss', "x\\'y z"]) {
      const conninfo = replicationConninfo({ ...source, password }, { includePassword: true });
      writeClusterFile(join(pgdata, STANDBY_CONF), renderStandbySettings({ primaryConninfo: conninfo, recoveryTargetTimeline: 'latest' }), 0o600);
      const shown = await run([join(pgBinDir(), 'postgres'), '-D', pgdata, '-C', 'primary_conninfo']);
      assert.equal(shown.exitCode, 0, `postgres refused the file for ${password}: ${shown.stderr}`);
      const value = shown.stdout.replace(/\n$/, '');
      assert.equal(value, conninfo);
      assert.equal(parseConnInfo(value).password, password);
    }
  });
});

describe('secrets in error messages (#5)', () => {
  it('a malformed --monitor URI is reported without its password', async () => {
    const dirs = nodeDirs('badmonitor');
    const uri = `postgres://autoctl_node:${SECRET}@127.0.0.1:notaport/pg_auto_failover`;
    const created = await pgAutoctl(['create', 'postgres', '--pgdata', dirs.pgdata, '--monitor', uri, '--auth', 'trust', '--no-ssl'], { env: dirs.env });
    assert.equal(created.exitCode, 1, created.stderr);
    assert.match(created.stderr, /Failed to parse --monitor connection string "postgres:\/\/autoctl_node:\*\*\*\*@127\.0\.0\.1:notaport/);
    const shown = await pgAutoctl(['show', 'state', '--monitor', `${uri}?password=${SECRET}`], { env: dirs.env });
    assert.equal(shown.exitCode, 1, shown.stderr);
    assert.match(shown.stderr, /Failed to parse --monitor connection string/);
    for (const output of [created.stdout, created.stderr, shown.stdout, shown.stderr]) assert.ok(!output.includes(SECRET), output);
  });
});

describe('stop signals only our own pg_autoctl (#13)', () => {
  it('refuses a pid file naming another process, which survives', async () => {
    const dirs = nodeDirs('stopcheck');
    const paths = pathsFor(dirs.pgdata, dirs.env, '/');
    mkdirSync(paths.dirs.runtime, { recursive: true, mode: 0o700 });
    await run(['chown', '-R', `${clusterAccount().uid}:${clusterAccount().gid}`, dirs.root], { asUser: false });
    const victims = [
      // Same user, not pg_autoctl (a reused pid).
      { proc: spawn(asClusterUser(['sleep', '120'])[0] ?? 'sleep', asClusterUser(['sleep', '120']).slice(1), { stdio: 'ignore' }), why: /is not pg_autoctl/ },
      ...(IS_ROOT ? [{ proc: spawn('sleep', ['120'], { stdio: 'ignore' }), why: /belongs to uid 0, not to this user/ }] : []),
    ];
    try {
      for (const { proc, why } of victims) {
        const pid = proc.pid ?? 0;
        await waitFor('the victim to run', () => pidAlive(pid) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sleep'), { timeoutMs: 10_000 });
        writeClusterFile(paths.pid, `${pid}\n${dirs.pgdata}\n2.0\n2.0\n0\n`, 0o600);
        for (const command of [['stop'], ['stop', '--immediate'], ['reload']]) {
          const r = await pgAutoctl([...command, '--pgdata', dirs.pgdata], { env: dirs.env });
          assert.equal(r.exitCode, 3, `${command.join(' ')}: ${r.stderr}`);
          assert.match(r.stderr, new RegExp(`Refusing to signal pid ${pid} found in the pid file`));
          assert.match(r.stderr, why);
          assert.ok(pidAlive(pid), `pid ${pid} was signalled by ${command.join(' ')}`);
        }
      }
    } finally {
      for (const { proc } of victims) proc.kill('SIGKILL');
    }
  });
});

describe('an interrupted create (#15), reload without secrets (#5), private files (#5)', () => {
  it('exits non-zero without claiming success, and logs no password on reload', async () => {
    const server = await startTempPostgres();
    const boot = new pg.Client({ connectionString: server.url('postgres') });
    await boot.connect();
    try {
      await createMonitorRoles(boot);
      await createMonitorDatabase(boot);
    } finally {
      await boot.end();
    }
    const admin = new pg.Client({ connectionString: server.url('pg_auto_failover') });
    await admin.connect();
    try {
      await applyMigrations(admin);
    } finally {
      await admin.end();
    }
    const dirs = nodeDirs('interrupted');
    const env = { ...dirs.env, PGDATA: dirs.pgdata };
    const port = await freePort();
    const monitorUri = `postgres://autoctl_node@127.0.0.1:${server.port}/pg_auto_failover?sslmode=disable`;
    const proc = startBackground('create postgres', pgAutoctlArgv(['create', 'postgres', '--pgport', String(port), '--hostname', '127.0.0.1',
      '--monitor', monitorUri, '--auth', 'trust', '--no-ssl']), { env });
    const paths = pathsFor(dirs.pgdata, dirs.env, '/');
    await waitFor('the node to register and wait in init', () => {
      if (proc.exited()) throw new Error(`create exited early:\n${proc.output()}`);
      return proc.output().includes('Successfully registered') && pidAlive(Number(readFileSync(paths.pid, 'utf8').split('\n')[0]));
    }, { timeoutMs: 60_000, intervalMs: 200 });

    // Private files: the config (monitor URI, replication password) and our directories.
    assert.equal(mode(paths.config), 0o600);
    for (const dir of Object.values(paths.dirs)) assert.equal(mode(dir), 0o700, dir);

    // Reload with a new replication password: the log line names the key, never the value.
    const text = readFileSync(paths.config, 'utf8');
    assert.match(text, /^\[replication\]$/m);
    writeFileSync(paths.config, text.replace(/^\[replication\]$/m, `[replication]\npassword = ${SECRET}`));
    const reloaded = await pgAutoctl(['reload'], { env });
    assert.equal(reloaded.exitCode, 0, reloaded.stderr);
    await waitFor('the reload', () => proc.output().includes('replication.password is now'), { timeoutMs: 20_000 });
    assert.match(proc.output(), /replication\.password is now "\*\*\*\*"; used to be ""/);

    // Stop it while init cannot complete (no monitor service assigns a state).
    const stopped = await pgAutoctl(['stop'], { env });
    assert.equal(stopped.exitCode, 0, stopped.stderr);
    const code = await proc.wait(60_000);
    const output = proc.output();
    assert.ok(!output.includes(SECRET), 'the password reached the log');
    assert.ok(!output.includes('successfully initialized'), output);
    assert.match(output, /pg_autoctl create postgres was interrupted before the keeper was initialized/);
    assert.notEqual(code, 0, output);
  });
});
