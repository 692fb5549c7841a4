/**
 * src/postgres against real PostgreSQL servers.
 *
 * Part 1 uses a throwaway instance (startTempPostgres) and exercises the
 * SQL helpers, connection strings with sslmode fallbacks, HBA and settings
 * file edits from this (root) process.
 *
 * Part 2 drives the postmaster life cycle and replication. The library
 * never switches user and Postgres refuses root, so each step runs this
 * same file as the cluster account in "step mode" (`--step <name> <json>`),
 * which calls the library and prints a JSON answer. Postmasters started by
 * a step outlive it (own session, unref'd), as they would under the
 * supervisor; cleanups stop them by pid file.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../src/common/log.js';
import {
  applyHbaRules, applySlotPlan, checkpoint, classifyPgData, connectClient, connectLocal, createDatabase, createExtension,
  createPhysicalSlot, createRole, createSelfSignedCertificate, currentSetting, findPgBinaries, formatHbaRule, hbaPathOf,
  identifySystem, initdb, isInRecovery, listReplicationSlots, localFacts, nodeInitHbaRules, pgBasebackup, pgCtlPromote,
  pgRewind, planSlotMaintenance, postgresStatus, readControlData, removeStandbySetup, renderNodeSettingsFile,
  replicationConninfo, replicationHbaRules, replicationRows, runCrashRecovery, setDefaultTransactionReadOnly,
  setSynchronousStandbyNames, spawnPostmaster, stopPostgres, waitForPostgresReady, walReceiverStatus, wasShutDownCleanly, withClient,
  writeAutoFailoverSettings, writeStandbySetup, hostResources, formatLsn, type ReplicationSource, type StopMode,
} from '../../src/postgres/index.js';

const log = silentLogger();
const SELF = fileURLToPath(import.meta.url);

// ---------------------------------------------------------------------------
// Step mode: runs as the cluster account.

interface NodeArgs { pgdata: string; port: number; socketDir: string; ssl: boolean }
interface StandbyArgs extends NodeArgs { backupDir: string; upstreamPort: number; slotName: string; appName: string }

const source = (port: number, appName: string): ReplicationSource => ({
  host: '127.0.0.1', port, user: 'pgautofailover_replicator', applicationName: appName, sslMode: 'require',
});

async function writeNodeSettings(args: NodeArgs, major: number): Promise<void> {
  const ssl = args.ssl
    ? { active: true, certFile: join(args.pgdata, 'server.crt'), keyFile: join(args.pgdata, 'server.key') }
    : { active: false };
  writeAutoFailoverSettings(args.pgdata, renderNodeSettingsFile({
    listenAddresses: '127.0.0.1', port: args.port, authMethod: 'trust', ssl, pgMajor: major, host: hostResources(),
  }), log);
}

async function start(args: NodeArgs): Promise<number> {
  const bin = await findPgBinaries({ env: process.env });
  const postmaster = spawnPostmaster(bin, args.pgdata, {
    port: args.port, listenAddresses: '127.0.0.1', socketDir: args.socketDir, logFile: join(args.pgdata, 'startup.log'),
    extraSettings: { fsync: 'off' },
  });
  postmaster.unref();
  const info = await waitForPostgresReady(args.pgdata, { timeoutMs: 30_000, postmaster });
  return info.pid;
}

const steps: Record<string, (input: never) => Promise<unknown>> = {
  async init(args: NodeArgs) {
    const bin = await findPgBinaries({ env: process.env });
    await initdb(bin, args.pgdata, { authLocal: 'trust', authHost: 'trust', noSync: true, log });
    if (args.ssl) await createSelfSignedCertificate(args.pgdata, 'localhost', { log });
    await writeNodeSettings(args, bin.version.major);
    const sslActive = args.ssl;
    applyHbaRules(hbaPathOf(args.pgdata), [
      ...nodeInitHbaRules({ dbname: 'postgres', username: 'postgres', ownAddress: '127.0.0.1/32', monitorAddress: '127.0.0.1/32', authMethod: 'trust', sslActive }),
      ...replicationHbaRules({ dbname: 'postgres', otherNodeAddresses: ['127.0.0.1/32'], authMethod: 'trust', sslActive }),
    ], { skip: false, log });
    const pid = await start(args);
    return { pid, binDir: bin.binDir, major: bin.version.major, kind: classifyPgData(args.pgdata) };
  },
  async start(args: NodeArgs) {
    return { pid: await start(args) };
  },
  async stop(args: { pgdata: string; mode: StopMode }) {
    return { result: await stopPostgres(args.pgdata, args.mode, 30_000, { log }), status: postgresStatus(args.pgdata).state };
  },
  async standby(args: StandbyArgs) {
    const bin = await findPgBinaries({ env: process.env });
    const src = source(args.upstreamPort, args.appName);
    await pgBasebackup(bin, args.pgdata, { source: src, slotName: args.slotName, backupDir: args.backupDir, maxRate: '100M', log });
    // The copy carries the primary's certificate: make our own.
    rmSync(join(args.pgdata, 'server.crt'), { force: true });
    rmSync(join(args.pgdata, 'server.key'), { force: true });
    if (args.ssl) await createSelfSignedCertificate(args.pgdata, 'localhost', { log });
    writeStandbySetup(args.pgdata, {
      primaryConninfo: replicationConninfo(src, { includePassword: true }), primarySlotName: args.slotName, recoveryTargetTimeline: 'latest',
    }, log);
    await writeNodeSettings(args, bin.version.major);
    return { pid: await start(args), backupDirGone: !existsSync(args.backupDir) };
  },
  async promote(args: NodeArgs) {
    const bin = await findPgBinaries({ env: process.env });
    await pgCtlPromote(bin, args.pgdata, { log });
    const deadline = Date.now() + 30_000;
    const client = await connectLocal(args.pgdata, 'postgres');
    try {
      while (await isInRecovery(client)) {
        if (Date.now() > deadline) throw new Error('still in recovery after promote');
        await new Promise((r) => setTimeout(r, 100));
      }
      await checkpoint(client);
    } finally {
      await client.end();
    }
    removeStandbySetup(args.pgdata, log);
    return { standbySignal: existsSync(join(args.pgdata, 'standby.signal')) };
  },
  async rejoin(args: StandbyArgs) {
    const bin = await findPgBinaries({ env: process.env });
    const before = await readControlData(bin, args.pgdata);
    const crashRecovery = !wasShutDownCleanly(before);
    if (crashRecovery) await runCrashRecovery(bin, args.pgdata, { port: args.port, socketDir: args.socketDir, timeoutMs: 30_000, log });
    const cleanState = (await readControlData(bin, args.pgdata)).clusterState;
    const src = source(args.upstreamPort, args.appName);
    await pgRewind(bin, args.pgdata, { source: src, dbname: 'postgres', log });
    writeStandbySetup(args.pgdata, {
      primaryConninfo: replicationConninfo(src, { includePassword: true }), primarySlotName: args.slotName, recoveryTargetTimeline: 'latest',
    }, log);
    return { crashRecovery, stateBefore: before.clusterState, cleanState, pid: await start(args) };
  },
};

if (process.argv[2] === '--step') {
  const name = process.argv[3] ?? '';
  const step = steps[name];
  try {
    if (!step) throw new Error(`unknown step ${name}`);
    const result = await step(JSON.parse(process.argv[4] ?? '{}') as never);
    process.stdout.write(JSON.stringify(result, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
    process.exit(0);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
    process.exit(1);
  }
} else {
  await defineTests();
}

// ---------------------------------------------------------------------------
// Test mode.

async function defineTests(): Promise<void> {
  const fixture = await import('../helpers/fixture.js');
  const { startTempPostgres } = await import('../helpers/temp-postgres.js');
  const { freePort, makeTempDir, onCleanup, run, runCleanups, waitFor, pgBinDir, IS_ROOT } = fixture;
  const { readablePath } = await import('../helpers/tool.js');
  const { pathToFileURL } = await import('node:url');
  // The steps run as the cluster account, from a copy it can read.
  const tsx = pathToFileURL(readablePath(fileURLToPath(import.meta.resolve('tsx')))).href;
  const selfCopy = readablePath(SELF);

  /** Runs a step as the cluster account; returns its JSON, or throws with its stderr. */
  async function step<T>(name: string, args: object): Promise<T> {
    const result = await run([process.execPath, '--import', tsx, selfCopy, '--step', name, JSON.stringify(args)], { timeoutMs: 120_000 });
    if (result.exitCode !== 0) throw new Error(`step ${name} failed: ${result.stderr}${result.stdout}`);
    return JSON.parse(result.stdout) as T;
  }
  const stepError = async (name: string, args: object): Promise<string> => {
    const result = await run([process.execPath, '--import', tsx, selfCopy, '--step', name, JSON.stringify(args)], { timeoutMs: 120_000 });
    assert.notEqual(result.exitCode, 0, `step ${name} should fail`);
    return result.stderr;
  };
  const url = (port: number, params = '', db = 'postgres'): string => `postgres://postgres@127.0.0.1:${port}/${db}${params}`;
  const sql = async <T>(port: number, text: string, params = ''): Promise<T[]> =>
    withClient(url(port, params), {}, async (c) => (await c.query(text)).rows as T[]);

  after(runCleanups);

  describe('postgres: SQL, connections, HBA and settings on a live instance', () => {
    let pg: Awaited<ReturnType<typeof startTempPostgres>>;
    before(async () => { pg = await startTempPostgres(); });

    it('maps sslmode on a server without SSL: prefer and allow fall back, require fails', async () => {
      for (const mode of ['disable', 'allow', 'prefer']) {
        const rows = await sql<{ ssl: boolean }>(pg.port, 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()', `?sslmode=${mode}`);
        assert.equal(rows[0]?.ssl, false, mode);
      }
      await assert.rejects(connectClient(url(pg.port, '?sslmode=require')), /does not support SSL/);
    });

    it('tries hosts in order and honours target_session_attrs', async () => {
      const closed = await freePort();
      const multi = `postgres://postgres@127.0.0.1:${closed},127.0.0.1:${pg.port}/postgres?sslmode=disable&target_session_attrs=read-write`;
      const client = await connectClient(multi, { connectTimeoutMs: 2000 });
      try {
        const rows = (await client.query<{ port: number }>("SELECT current_setting('port')::int AS port")).rows;
        assert.equal(rows[0]?.port, pg.port);
      } finally {
        await client.end();
      }
      await assert.rejects(connectClient(`${url(pg.port)}?target_session_attrs=standby`), /session is not standby/);
    });

    it('reads local facts, identity and replication state', async () => {
      const bin = await findPgBinaries({ pgctl: join(pgBinDir(), 'pg_ctl') });
      const control = await readControlData(bin, pg.pgdata);
      await withClient(url(pg.port), {}, async (c) => {
        const facts = await localFacts(c);
        assert.equal(facts.inRecovery, false);
        assert.ok(facts.lsn > 0n);
        assert.equal(facts.timeline, 1);
        assert.equal(facts.systemIdentifier, control.systemIdentifier);
        assert.equal(facts.catalogVersion, control.catalogVersion);
        assert.equal(facts.syncState, '');
        assert.deepEqual(await replicationRows(c), []);
        assert.equal(await walReceiverStatus(c), undefined);
      });
      const ident = await identifySystem({ ...source(pg.port, 'probe'), user: 'postgres', sslMode: 'disable' });
      assert.equal(ident.systemIdentifier, control.systemIdentifier);
      assert.equal(ident.timeline, 1);
    });

    it('creates roles, databases, extensions idempotently', async () => {
      await withClient(url(pg.port), {}, async (c) => {
        const replicator = { name: 'pgautofailover_replicator', login: true, superuser: true, replication: true, password: "it's" };
        assert.equal(await createRole(c, replicator), 'created');
        assert.equal(await createRole(c, replicator), 'exists');
        assert.equal(await createRole(c, { name: 'pgautofailover_monitor', login: true, connectionLimit: 1, password: 'pgautofailover_monitor' }), 'created');
        const roles = (await c.query('SELECT rolname, rolsuper, rolreplication, rolconnlimit FROM pg_roles WHERE rolname LIKE $1 ORDER BY 1', ['pgautofailover%'])).rows;
        assert.deepEqual(roles, [
          { rolname: 'pgautofailover_monitor', rolsuper: false, rolreplication: false, rolconnlimit: 1 },
          { rolname: 'pgautofailover_replicator', rolsuper: true, rolreplication: true, rolconnlimit: -1 },
        ]);
        assert.equal(await createDatabase(c, 'app "db"', 'pgautofailover_replicator'), 'created');
        assert.equal(await createDatabase(c, 'app "db"', 'pgautofailover_replicator'), 'exists');
        await createExtension(c, 'pg_stat_statements');
        await createExtension(c, 'pg_stat_statements');
      });
    });

    it('maintains replication slots', async () => {
      await withClient(url(pg.port), {}, async (c) => {
        assert.equal(await createPhysicalSlot(c, 'pgautofailover_standby_9'), 'created');
        assert.equal(await createPhysicalSlot(c, 'pgautofailover_standby_9'), 'exists');
        const existing = await listReplicationSlots(c);
        assert.equal(existing.length, 1);
        assert.ok((existing[0]?.restartLsn ?? 0n) > 0n, 'slot reserves WAL at once');
        const plan = planSlotMaintenance(existing, [{ nodeId: 2, reportedLsn: 0n }], { advance: false });
        assert.deepEqual(plan, { create: ['pgautofailover_standby_2'], drop: ['pgautofailover_standby_9'], advance: [] });
        await applySlotPlan(c, plan, log);
        assert.deepEqual((await listReplicationSlots(c)).map((s) => s.slotName), ['pgautofailover_standby_2']);
        await applySlotPlan(c, { create: [], drop: ['pgautofailover_standby_2'], advance: [] }, log);
      });
    });

    it('applies synchronous_standby_names and the read-only fence with ALTER SYSTEM + reload', async () => {
      await withClient(url(pg.port), {}, async (c) => {
        await setSynchronousStandbyNames(c, 'ANY 1 (pgautofailover_standby_2)');
        await waitFor('synchronous_standby_names', async () => (await currentSetting(c, 'synchronous_standby_names')) === 'ANY 1 (pgautofailover_standby_2)');
        assert.match(readFileSync(join(pg.pgdata, 'postgresql.auto.conf'), 'utf8'), /synchronous_standby_names = 'ANY 1 \(pgautofailover_standby_2\)'/);
        await setSynchronousStandbyNames(c, '');
        await setDefaultTransactionReadOnly(c, true);
        await waitFor('read-only', async () => (await currentSetting(c, 'default_transaction_read_only')) === 'on');
      });
      await assert.rejects(connectClient(url(pg.port, '?target_session_attrs=read-write')), /session is not read-write/);
      await withClient(url(pg.port), {}, async (c) => { await setDefaultTransactionReadOnly(c, false); });
      await waitFor('read-write again', async () => {
        const client = await connectClient(url(pg.port, '?target_session_attrs=read-write'));
        await client.end();
        return true;
      });
    });

    it('edits pg_hba.conf keeping the user lines, and Postgres accepts the result', async () => {
      const path = hbaPathOf(pg.pgdata);
      const original = readFileSync(path, 'utf8');
      const rules = [
        ...nodeInitHbaRules({ dbname: 'app "db"', username: 'app', ownAddress: '127.0.0.1/32', lanCidr: '10.231.0.0/24', monitorAddress: '10.231.0.1/32', authMethod: 'scram-sha-256', sslActive: true }),
        ...replicationHbaRules({ dbname: 'app "db"', otherNodeAddresses: ['10.231.0.2/32', 'node3.example.com'], authMethod: 'md5', sslActive: false }),
      ];
      assert.equal(applyHbaRules(path, rules, { skip: false, log }).length, 7);
      assert.equal(applyHbaRules(path, rules, { skip: false, log }).length, 0);
      const edited = readFileSync(path, 'utf8');
      assert.equal(edited, `${original}${rules.map(formatHbaRule).join('\n')}\n`);
      await sql(pg.port, 'SELECT pg_reload_conf()');
      // This server runs without SSL: Postgres flags (and skips) our hostssl lines, nothing else.
      const errors = await sql<{ line_number: number; error: string }>(pg.port, 'SELECT line_number, error FROM pg_hba_file_rules WHERE error IS NOT NULL');
      assert.deepEqual(errors.map((e) => e.error), new Array<string>(3).fill('hostssl record cannot match because SSL is disabled'));
      const ours = await sql<{ type: string; database: string[]; user_name: string[]; address: string; auth_method: string }>(pg.port,
        "SELECT type, database, user_name, address, auth_method FROM pg_hba_file_rules WHERE user_name <> '{all}' AND error IS NULL ORDER BY line_number");
      assert.deepEqual(ours[0], { type: 'host', database: ['replication'], user_name: ['pgautofailover_replicator'], address: '10.231.0.2', auth_method: 'md5' });
      assert.deepEqual(ours[1], { type: 'host', database: ['app "db"'], user_name: ['pgautofailover_replicator'], address: '10.231.0.2', auth_method: 'md5' });
      assert.equal(ours.length, 4);
      if (IS_ROOT) assert.notEqual(statSync(path).uid, 0, 'the cluster account still owns pg_hba.conf');
    });

    it('writes postgresql-auto-failover.conf that Postgres parses without errors', async () => {
      const bin = await findPgBinaries({ pgctl: join(pgBinDir(), 'pg_ctl') });
      writeAutoFailoverSettings(pg.pgdata, renderNodeSettingsFile({
        listenAddresses: '127.0.0.1', port: pg.port, authMethod: 'scram-sha-256', pgMajor: bin.version.major, host: hostResources(),
        ssl: { active: false },
      }), log);
      const rows = await sql<{ name: string; setting: string; error: string | null; sourcefile: string; context: string }>(pg.port,
        'SELECT f.name, f.setting, f.error, f.sourcefile, s.context FROM pg_file_settings f LEFT JOIN pg_settings s USING (name) ORDER BY f.seqno');
      // Only settings that need a restart may be pending; nothing is a parse error or an unknown name.
      assert.deepEqual(rows.filter((r) => r.error !== null && !(r.error === 'setting could not be applied' && r.context === 'postmaster')), []);
      const ours = rows.filter((r) => r.sourcefile.endsWith('/postgresql-auto-failover.conf'));
      assert.ok(ours.some((r) => r.name === 'wal_keep_size' && r.setting === '8 GB'));
      assert.ok(ours.some((r) => r.name === 'password_encryption' && r.setting === 'scram-sha-256'));
      assert.match(readFileSync(join(pg.pgdata, 'postgresql.conf'), 'utf8'), /^include 'postgresql-auto-failover.conf' # Auto-generated by pg_auto_failover, do not remove\n/);
    });
  });

  describe('postgres: postmaster life cycle and replication (as the cluster account)', () => {
    const dir = makeTempDir('pgaf-ctl-');
    const node1 = { pgdata: join(dir, 'node1'), port: 0, socketDir: dir, ssl: true };
    const node2 = { pgdata: join(dir, 'node2'), port: 0, socketDir: dir, ssl: true };
    before(async () => {
      node1.port = await freePort();
      node2.port = await freePort();
      for (const node of [node1, node2]) {
        onCleanup(`stop postgres ${node.pgdata}`, async () => {
          await run([join(pgBinDir(), 'pg_ctl'), '-D', node.pgdata, '-m', 'immediate', '-w', 'stop'], { timeoutMs: 60_000 });
        });
      }
    });

    it('as root, initdb fails with Postgres\' own refusal (the library never switches user)', async () => {
      if (!IS_ROOT) return;
      const bin = await findPgBinaries({ pgctl: join(pgBinDir(), 'pg_ctl') });
      await assert.rejects(initdb(bin, join(dir, 'as-root'), { noSync: true }), /initdb failed/);
    });

    it('initdb, settings, HBA, self-signed certificate, spawn and wait for ready', async () => {
      const out = await step<{ pid: number; major: number; kind: string }>('init', node1);
      assert.equal(out.kind, 'postgres');
      const status = postgresStatus(node1.pgdata);
      assert.equal(status.state, 'running');
      if (status.state === 'running') {
        assert.equal(status.pid, out.pid);
        assert.equal(status.port, node1.port);
        assert.equal(status.socketDir, dir);
        assert.equal(status.ready, true);
      }
      const conf = readFileSync(join(node1.pgdata, 'postgresql.conf'), 'utf8');
      assert.match(conf, /^include 'postgresql-auto-failover.conf'/);
      const hba = readFileSync(join(node1.pgdata, 'pg_hba.conf'), 'utf8');
      assert.match(hba, /\nhostssl "postgres" "postgres" 127\.0\.0\.1\/32 trust # Auto-generated by pg_auto_failover\nhostssl "postgres" "pgautofailover_monitor"/);
    });

    it('maps sslmode on a server with a self-signed certificate', async () => {
      const sslOf = async (params: string): Promise<boolean | undefined> =>
        (await sql<{ ssl: boolean }>(node1.port, 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()', params))[0]?.ssl;
      assert.equal(await sslOf('?sslmode=prefer'), true);
      assert.equal(await sslOf('?sslmode=require'), true);
      assert.equal(await sslOf('?sslmode=disable'), false);
      assert.equal(await sslOf('?sslmode=allow'), false);
      const cert = encodeURIComponent(join(node1.pgdata, 'server.crt'));
      assert.equal(await sslOf(`?sslmode=verify-ca&sslrootcert=${cert}`), true);
      // The certificate names "localhost", not 127.0.0.1: verify-full must refuse.
      await assert.rejects(connectClient(url(node1.port, `?sslmode=verify-full&sslrootcert=${cert}`)), /localhost|altnames|IP/);
    });

    it('pg_basebackup through a slot, standby setup, streaming and sync state', async () => {
      await withClient(url(node1.port), {}, async (c) => {
        await createRole(c, { name: 'pgautofailover_replicator', login: true, superuser: true, replication: true });
        await createPhysicalSlot(c, 'pgautofailover_standby_2');
      });
      const out = await step<{ pid: number; backupDirGone: boolean }>('standby', {
        ...node2, backupDir: join(dir, 'backup', 'node_2'), upstreamPort: node1.port, slotName: 'pgautofailover_standby_2', appName: 'pgautofailover_standby_2',
      });
      assert.equal(out.backupDirGone, true);
      assert.ok(existsSync(join(node2.pgdata, 'standby.signal')));
      const rows = await waitFor('standby streaming', async () => {
        const found = await withClient(url(node1.port), {}, replicationRows);
        return found.some((r) => r.applicationName === 'pgautofailover_standby_2' && r.state === 'streaming') ? found : undefined;
      });
      assert.equal(rows[0]?.userName, 'pgautofailover_replicator');
      await withClient(url(node2.port), {}, async (c) => {
        const facts = await localFacts(c);
        assert.equal(facts.inRecovery, true);
        assert.equal(facts.timeline, 1);
        const receiver = await walReceiverStatus(c);
        assert.equal(receiver?.status, 'streaming');
        assert.equal(receiver?.slotName, 'pgautofailover_standby_2');
        assert.equal(receiver?.senderPort, node1.port);
      });
      await withClient(url(node1.port), {}, async (c) => {
        await setSynchronousStandbyNames(c, 'ANY 1 (pgautofailover_standby_2)');
        await waitFor('quorum sync state', async () => (await localFacts(c)).syncState === 'quorum');
        await c.query('CREATE TABLE t(v text)');
        await c.query("INSERT INTO t VALUES ('before failover')");
      });
      const seen = await sql<{ v: string }>(node2.port, 'SELECT v FROM t');
      assert.deepEqual(seen, [{ v: 'before failover' }], 'a synchronous commit is on the standby');
    });

    it('a start failure reports the log; stop modes wait for the postmaster to go', async () => {
      const stopped = await step<{ result: string; status: string }>('stop', { pgdata: node1.pgdata, mode: 'fast' });
      assert.deepEqual(stopped, { result: 'stopped', status: 'stopped' });
      assert.deepEqual(await step('stop', { pgdata: node1.pgdata, mode: 'fast' }), { result: 'not-running', status: 'stopped' });
      const stderr = await stepError('start', { ...node1, port: node2.port });
      assert.match(stderr, /exited during start-up/);
      assert.match(stderr, /could not (bind|create)/);
    });

    it('promotion: pg_ctl promote, standby files removed, new timeline', async () => {
      const out = await step<{ standbySignal: boolean }>('promote', node2);
      assert.equal(out.standbySignal, false);
      await withClient(url(node2.port), {}, async (c) => {
        const facts = await localFacts(c);
        assert.equal(facts.inRecovery, false);
        assert.equal(facts.timeline, 2);
        await c.query("INSERT INTO t VALUES ('after failover')");
        await createPhysicalSlot(c, 'pgautofailover_standby_1');
      });
      assert.equal(readFileSync(join(node2.pgdata, 'postgresql-auto-failover-standby.conf'), 'utf8'), '');
    });

    it('rejoin: crash recovery of an unclean old primary, pg_rewind, standby of the new primary', async () => {
      // The old primary comes back, diverges (without its sync standby: local commit), then crashes.
      await step('start', node1);
      await withClient(url(node1.port), {}, async (c) => {
        await setSynchronousStandbyNames(c, '');
        await waitFor('async', async () => (await currentSetting(c, 'synchronous_standby_names')) === '');
        await c.query("INSERT INTO t VALUES ('diverged')");
      });
      assert.deepEqual(await step('stop', { pgdata: node1.pgdata, mode: 'immediate' }), { result: 'stopped', status: 'stopped' });
      const out = await step<{ crashRecovery: boolean; stateBefore: string; cleanState: string }>('rejoin', {
        ...node1, backupDir: join(dir, 'backup', 'node_1'), upstreamPort: node2.port, slotName: 'pgautofailover_standby_1', appName: 'pgautofailover_standby_1',
      });
      assert.equal(out.crashRecovery, true);
      assert.equal(out.stateBefore, 'in production');
      assert.equal(out.cleanState, 'shut down in recovery');
      await withClient(url(node1.port), {}, async (c) => {
        assert.equal(await isInRecovery(c), true);
        await waitFor('timeline 2 on the rejoined node', async () => (await localFacts(c)).timeline === 2);
        await waitFor('new primary row replicated', async () =>
          (await c.query<{ v: string }>('SELECT v FROM t ORDER BY v')).rows.map((r) => r.v).join(',') === 'after failover,before failover');
      });
      const rows = await withClient(url(node2.port), {}, replicationRows);
      assert.ok(rows.some((r) => r.applicationName === 'pgautofailover_standby_1'));
      const lsn = await withClient(url(node2.port), {}, async (c) => (await localFacts(c)).lsn);
      assert.match(formatLsn(lsn), /^[0-9A-F]+\/[0-9A-F]+$/);
    });

    it('smart stop of a standby, then connectLocal refuses a stopped node', async () => {
      assert.deepEqual(await step('stop', { pgdata: node1.pgdata, mode: 'smart' }), { result: 'stopped', status: 'stopped' });
      await assert.rejects(connectLocal(node1.pgdata, 'postgres'), /it is not running/);
      assert.deepEqual(await step('stop', { pgdata: node2.pgdata, mode: 'fast' }), { result: 'stopped', status: 'stopped' });
    });
  });
}
