/**
 * Hostile input against the monitor-HA surface (docs/security.md "Monitor
 * high availability"): every attack is made from an `autoctl_node` session,
 * which any keeper (or anyone holding that role's password) has, against
 * one monitor database (a throwaway Postgres with the monitor schema; the
 * checks are in SQL and in the primary's members loop, run here against
 * the same database; a streaming standby of it for the switchover checks).
 * 1. register_monitor_member refuses hosts that would inject or widen a
 *    pg_hba.conf rule, with one clear line, and stores nothing; the members
 *    loop writes no rule for such a host even when its row got in anyway.
 * 2. Members are bounded; a member that never streams never joins
 *    synchronous_standby_names (the monitor's writes never wait for it); the
 *    monitor's settings cap the WAL its slot retains.
 * 3. request_monitor_switchover refuses a target that does not stream as a
 *    synchronous standby, a second request while one is pending, and any
 *    request within 60 s of the last accepted switchover.
 * 4. rebuild_register_node works only in a rebuild window; node_active
 *    records a witness only from the node's own token holder, and never one
 *    naming a decision this monitor must have (its own epoch) or a future
 *    epoch.
 */
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import pino from 'pino';
import { messageOf } from '../../src/common/errors.js';
import { sqlStateOf } from '../../src/monitor-api/index.js';
import { createMembersLoop } from '../../src/monitor/ha/members-loop.js';
import { MONITOR_MAX_SLOT_WAL_KEEP_SIZE, renderMonitorSettingsFile } from '../../src/postgres/index.js';
import { freePort, makeTempDir, onCleanup, pgBinDir, run, runCleanups, waitFor } from '../helpers/fixture.js';
import { startTempMonitorDatabase, type TempMonitorDatabase, type TempPostgres } from '../helpers/temp-postgres.js';

let server: TempPostgres;
let admin: pg.Client;
let node: pg.Client;

let connect: TempMonitorDatabase['connect'];

async function rejectsWith(promise: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.equal(sqlStateOf(error), code, messageOf(error));
    assert.match(messageOf(error), message);
    assert.equal(messageOf(error).includes('\n'), false);
    return true;
  });
}

const registerMember = (client: pg.Client, host: string, port: number): Promise<pg.QueryResult> =>
  client.query('SELECT * FROM pgautofailover.register_monitor_member($1::text, $2::int)', [host, port]);

async function count(sql: string): Promise<number> {
  const { rows } = await admin.query<{ n: string }>(`SELECT (${sql})::text AS n`);
  return Number(rows[0]?.n);
}

/** A streaming standby of `primary` (pg_basebackup), named `applicationName` in pg_stat_replication. */
async function startStandbyOf(primary: TempPostgres, applicationName: string): Promise<{ stop(): Promise<void> }> {
  const bin = pgBinDir();
  const dir = makeTempDir('pgaf-standby-');
  const pgdata = join(dir, 'data');
  const port = await freePort();
  const backup = await run([join(bin, 'pg_basebackup'), '-D', pgdata, '-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres',
    '-X', 'stream', '-c', 'fast', '--no-sync'], { timeoutMs: 120_000 });
  if (backup.exitCode !== 0) throw new Error(`pg_basebackup failed: ${backup.stderr}`);
  const conninfo = `host=127.0.0.1 port=${primary.port} user=postgres application_name=${applicationName}`;
  const opts = [`-c port=${port}`, '-c listen_addresses=127.0.0.1', `-c unix_socket_directories=${dir}`, '-c fsync=off',
    `-c primary_conninfo='${conninfo}'`, "-c synchronous_standby_names=''"].join(' ');
  const touched = await run(['touch', join(pgdata, 'standby.signal')]);
  if (touched.exitCode !== 0) throw new Error(`touch standby.signal failed: ${touched.stderr}`);
  const start = await run([join(bin, 'pg_ctl'), '-D', pgdata, '-l', join(dir, 'postgres.log'), '-w', '-t', '60', '-o', opts, 'start'], { timeoutMs: 90_000 });
  if (start.exitCode !== 0) throw new Error(`pg_ctl start (standby) failed: ${start.stderr}${start.stdout}`);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await run([join(bin, 'pg_ctl'), '-D', pgdata, '-m', 'immediate', '-w', 'stop'], { timeoutMs: 60_000 });
  };
  onCleanup(`stop standby ${pgdata}`, stop);
  return { stop };
}

before(async () => {
  ({ server, admin, node, connect } = await startTempMonitorDatabase());
});

after(async () => {
  await node?.end().catch(() => undefined);
  await admin?.end().catch(() => undefined);
  await runCleanups();
});

describe('monitor high availability under hostile autoctl_node sessions', { timeout: 90_000 }, () => {
  it('finding 1: register_monitor_member refuses HBA injection; the members loop writes no rule for a bad host', async () => {
    const hostile = [
      '10.0.0.9\nhost all all 0.0.0.0/0 trust', '10.0.0.9 trust', '"x"', "x'y", '0.0.0.0/0', '::/0', '10.0.0.0/8',
      'all', 'SameNet', 'samehost', '@hosts.txt', '+admins', 'a#b', 'x'.repeat(254), 'x\u0001', 'node_1', '.lan', '10.0.0.256',
      'fe80::1%eth0', '',
    ];
    for (const host of hostile) {
      await rejectsWith(registerMember(node, host, 5432), '22023',
        /^invalid monitor member host ".*": expected an IP address or an RFC 1123 host name$/);
    }
    for (const port of [0, 65536, -1]) {
      await rejectsWith(registerMember(node, '10.0.0.9', port), '22023', /^invalid monitor member port -?\d+: expected an integer from 1 to 65535$/);
    }
    assert.equal(await count('SELECT count(*) FROM pgautofailover.monitor_member'), 0);

    // Plain addresses and names are accepted.
    await registerMember(node, '127.0.0.1', 5432);
    await registerMember(node, 'monitor-b.example.com', 5433);
    await registerMember(node, 'fd00::12', 5432);
    assert.equal(await count('SELECT count(*) FROM pgautofailover.monitor_member'), 3);

    // Defence in depth: rows that got in without the check (a superuser,
    // or before it existed) still never reach pg_hba.conf.
    await admin.query(`INSERT INTO pgautofailover.monitor_member (hostname, port)
                       VALUES ('all', 5432), ('samenet', 5432), ('"q"', 5432), (E'x\\u0001y', 5432), ('10.0.0.0', 1)`);
    const pgdata = makeTempDir('pgaf-hba-');
    copyFileSync(join(server.pgdata, 'pg_hba.conf'), join(pgdata, 'pg_hba.conf'));
    const hbaBefore = readFileSync(join(pgdata, 'pg_hba.conf'), 'utf8');
    const loopClient = await connect('pg_auto_failover', 'postgres');
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (s: string) => { lines.push(s); } });
    try {
      const loop = createMembersLoop({
        client: loopClient, self: { hostname: '127.0.0.1', port: 5432 }, pgdata, authMethod: 'trust', sslActive: false,
        sslmode: 'prefer', log,
      });
      await loop.round();
      const hba = readFileSync(join(pgdata, 'pg_hba.conf'), 'utf8');
      const added = hba.slice(hbaBefore.length).split('\n').filter((l) => l !== '');
      // Only the valid members got rules: 127.0.0.1 is this monitor itself;
      // fd00::12 and 10.0.0.0 are addresses (a /32 or /128 each).
      assert.ok(added.length > 0, 'rules for the valid members');
      for (const line of added) {
        assert.match(line, /^host ("pg_auto_failover"|replication) "pgautofailover_replicator" (fd00::12\/128|10\.0\.0\.0\/32|\S+) trust # Auto-generated by pg_auto_failover$/);
        assert.doesNotMatch(line, / (all|samenet|"q"|x.y) /);
      }
      assert.ok(added.some((l) => l.includes(' fd00::12/128 ')));
      assert.ok(added.every((l) => !/0\.0\.0\.0\/0|::\/0/.test(l)));
      // No member that never streamed is in synchronous_standby_names:
      // the monitor's writes never wait for a registered-only member.
      const { rows } = await loopClient.query<{ s: string }>("SELECT current_setting('synchronous_standby_names') AS s");
      assert.equal(rows[0]?.s, '');
    } finally {
      await loopClient.end().catch(() => undefined);
    }
    const output = lines.map((l) => (JSON.parse(l) as { msg: string }).msg).join('\n');
    assert.match(output, /Failed to add the HBA rules of monitor member \d+ \(all\): .*pg_hba\.conf keyword/);
    assert.match(output, /Failed to add the HBA rules of monitor member \d+ \("q"\)/);
  });

  it('finding 2: members are bounded, and the monitor caps the WAL a member slot retains', async () => {
    // 8 rows in all (the 8 of finding 1 are there): the ninth is refused.
    const before = await count('SELECT count(*) FROM pgautofailover.monitor_member');
    for (let i = before; i < 8; i += 1) await registerMember(node, `10.1.0.${i}`, 5432);
    assert.equal(await count('SELECT count(*) FROM pgautofailover.monitor_member'), 8);
    await rejectsWith(registerMember(node, '10.2.0.1', 5432), '53400',
      /^cannot register monitor member 10\.2\.0\.1:5432: this monitor already has 8 members, the most it accepts$/);
    // Registering an existing member again is still fine (idempotent).
    const again = await registerMember(node, 'monitor-b.example.com', 5433);
    assert.equal(again.rows[0]?.hostname, 'monitor-b.example.com');
    assert.equal(await count('SELECT count(*) FROM pgautofailover.monitor_member'), 8);
    // A client squatting the registration lock makes others fail at once, never wait.
    const squatter = await connect('pg_auto_failover', 'autoctl_node');
    try {
      await squatter.query("BEGIN; SELECT pg_advisory_xact_lock(hashtext('pgautofailover.monitor_member'))");
      const started = performance.now();
      await rejectsWith(registerMember(node, 'monitor-b.example.com', 5433), '55P03', /another registration is under way, try again$/);
      assert.ok(performance.now() - started < 2000);
    } finally {
      await squatter.end().catch(() => undefined);
    }
    // The settings file of every monitor caps a slot's retained WAL.
    const file = renderMonitorSettingsFile({ listenAddresses: '127.0.0.1', port: 5432, authMethod: 'trust', ssl: { active: false },
      host: { totalMemoryBytes: 4 * 1024 ** 3, cpuCount: 2 } });
    assert.match(file, new RegExp(`^max_slot_wal_keep_size = '${MONITOR_MAX_SLOT_WAL_KEEP_SIZE}'$`, 'm'));
    assert.equal(MONITOR_MAX_SLOT_WAL_KEEP_SIZE, '1 GB');
    // Cleanup for the next checks, as autoctl_node may (members out of the sync set).
    await admin.query("DELETE FROM pgautofailover.monitor_member WHERE hostname NOT IN ('127.0.0.1', 'monitor-b.example.com')");
  });

  it('finding 3: request_monitor_switchover refuses a non-streaming target, a pile-up and a flip-back', async () => {
    await admin.query('SELECT * FROM pgautofailover.advance_monitor_epoch(true)');
    const { rows } = await admin.query<{ id: string }>("SELECT member_id::text AS id FROM pgautofailover.monitor_member WHERE hostname = 'monitor-b.example.com'");
    const target = rows[0]?.id ?? '';
    const request = (): Promise<pg.QueryResult> => node.query('SELECT * FROM pgautofailover.request_monitor_switchover($1::bigint)', [target]);
    const requests = (): Promise<number> => count('SELECT count(*) FROM pgautofailover.monitor_switchover');

    await rejectsWith(request(), '55000', /is not a synchronous standby: refusing to hand over to it$/);
    // A sync flag alone is not enough: the target must stream as a synchronous standby now.
    await admin.query('UPDATE pgautofailover.monitor_member SET sync = true WHERE member_id = $1', [target]);
    await rejectsWith(request(), '55000', /^monitor member \d+ \(monitor-b\.example\.com:5433\) does not stream as a synchronous standby right now: refusing to hand over to it$/);
    assert.equal(await requests(), 0);

    // A pending request: no pile-up.
    await admin.query(`INSERT INTO pgautofailover.monitor_switchover (target_member, epoch)
                       SELECT $1, c.epoch FROM pgautofailover.current_monitor_epoch() c`, [target]);
    for (let i = 0; i < 3; i += 1) {
      await rejectsWith(request(), '55006', /^monitor switchover request \d+ \(to member \d+\) is pending since .*: wait for its answer$/);
    }
    assert.equal(await requests(), 1);

    // Accepted a moment ago (the service answered; the monitor switched): no flip-back for 60 s.
    await admin.query("UPDATE pgautofailover.monitor_switchover SET status = 'accepted', answered_at = now() - interval '10 s'");
    await rejectsWith(request(), '55000', /^the last monitor switchover \(request \d+\) was accepted at .*: no new request before .*$/);
    // 61 s ago: the rate limit no longer applies; the target check does.
    await admin.query("UPDATE pgautofailover.monitor_switchover SET answered_at = now() - interval '61 s'");
    await rejectsWith(request(), '55000', /does not stream as a synchronous standby right now/);
    assert.equal(await requests(), 1);

    // A real synchronous standby as the target: the request is recorded,
    // a second one is refused while it is pending, and once the service
    // accepted it, none for 60 s.
    const standby = await startStandbyOf(server, `pgautofailover_monitor_${target}`);
    try {
      await admin.query(`ALTER SYSTEM SET synchronous_standby_names = 'pgautofailover_monitor_${target}'`);
      await admin.query('SELECT pg_reload_conf()');
      await waitFor('the standby streaming as synchronous', async () => (await count(
        `SELECT count(*) FROM pg_stat_replication WHERE application_name = 'pgautofailover_monitor_${target}' AND sync_state = 'sync'`)) === 1,
      { timeoutMs: 30_000, intervalMs: 200 });
      const accepted = await request();
      const requestId = String(accepted.rows[0]?.request_id);
      assert.equal(String(accepted.rows[0]?.target_member), target);
      await rejectsWith(request(), '55006', new RegExp(`^monitor switchover request ${requestId} \\(to member ${target}\\) is pending since .*: wait for its answer$`));
      await admin.query("SELECT pgautofailover.answer_monitor_switchover($1::bigint, true, 'handing over')", [requestId]);
      await rejectsWith(request(), '55000', new RegExp(`^the last monitor switchover \\(request ${requestId}\\) was accepted at .*: no new request before .*$`));
      assert.equal(await requests(), 2);
    } finally {
      await admin.query('ALTER SYSTEM RESET synchronous_standby_names');
      await admin.query('SELECT pg_reload_conf()');
      await standby.stop();
    }
  });

  it('finding 4: rebuild registration outside a rebuild window; forged witnesses', async () => {
    const rebuild = node.query(`SELECT * FROM pgautofailover.rebuild_register_node('default', 1, 0, 'node_1', '10.0.0.1', 5432, 'postgres', 1,
      'primary', 'primary', 1, '0/0', 100, true, 'standalone', 1, 1, 1, '{}')`);
    await rejectsWith(rebuild, '55000', /^the monitor is not being rebuilt from its nodes$/);
    assert.equal(await count('SELECT count(*) FROM pgautofailover.node'), 0);
    // start_monitor_rebuild is not for autoctl_node.
    await rejectsWith(node.query('SELECT pgautofailover.start_monitor_rebuild(60000)'), '42501', /permission denied/);

    // Two nodes: node A registered with its token (this pg_autoctl), node B 2.0-style without one.
    await node.query('BEGIN');
    const a = await node.query<{ id: string }>("SELECT assigned_node_id::text AS id FROM pgautofailover.register_node('default', '10.0.0.1', 5432, 'postgres')");
    const idA = a.rows[0]?.id ?? '';
    const tok = await node.query<{ token: string }>('SELECT pgautofailover.issue_node_token($1::bigint) AS token', [idA]);
    await node.query('COMMIT');
    await admin.query("UPDATE pgautofailover.node SET reportedstate = 'single', goalstate = 'single', sysidentifier = 1");
    const b = await node.query<{ id: string }>("SELECT assigned_node_id::text AS id FROM pgautofailover.register_node('default', '10.0.0.2', 5432, 'postgres')");
    const idB = b.rows[0]?.id ?? '';
    await admin.query('UPDATE pgautofailover.node SET sysidentifier = 1');
    // Epoch 3, with node A's goal decided in it (decision 5).
    await admin.query('SELECT * FROM pgautofailover.advance_monitor_epoch(true)');
    const epoch = await count('SELECT epoch FROM pgautofailover.current_monitor_epoch()');
    await admin.query(`SET session_replication_role = replica;
      UPDATE pgautofailover.node SET goaldecisionepoch = ${epoch}, goaldecisionid = 5 WHERE nodeid = ${idA};
      UPDATE pgautofailover.node SET goaldecisionepoch = ${epoch - 1}, goaldecisionid = 2 WHERE nodeid = ${idB};
      SET session_replication_role = origin`);

    const keeperA = await connect('pg_auto_failover', 'autoctl_node');
    const anyone = await connect('pg_auto_failover', 'autoctl_node');
    try {
      await keeperA.query("SELECT set_config('pgautofailover.node_token', $1, false)", [tok.rows[0]?.token]);
      const active = (client: pg.Client, id: string, state: string, we: number, wd: number, wg: string): Promise<pg.QueryResult> =>
        client.query(`SELECT * FROM pgautofailover.node_active('default', $1::bigint, 0, $2::pgautofailover.replication_state, true, 1, '0/0', '',
                        $2::pgautofailover.replication_state, $3::bigint, $4::bigint, $5::pgautofailover.replication_state)`,
        [id, state, we, wd, wg]);
      const witness = async (id: string): Promise<string> => {
        const { rows: w } = await admin.query<{ w: string }>(
          'SELECT coalesce(witnessepoch::text, \'-\') || \'/\' || coalesce(witnessdecisionid::text, \'-\') || \'/\' || coalesce(witnessgoalstate::text, \'-\') AS w FROM pgautofailover.node WHERE nodeid = $1', [id]);
        return w[0]?.w ?? '';
      };

      // Another node's row, with A's token or without any: refused (node tokens).
      await rejectsWith(active(anyone, idA, 'single', epoch - 1, 99, 'primary'), '42501', /is bound to its keeper's token, and this session did not present one$/);
      assert.equal(await witness(idA), '-/-/-');

      // Node B has no token: anyone may report for it (2.0), but its witness is never taken.
      await active(anyone, idB, 'secondary', epoch - 1, 1_000_000, 'primary');
      assert.equal(await witness(idB), '-/-/-');

      // Node A's own keeper: a future epoch, or a decision of the current
      // epoch newer than the row's, is forged and not recorded.
      await active(keeperA, idA, 'single', epoch + 5, 1, 'primary');
      assert.equal(await witness(idA), '-/-/-');
      await active(keeperA, idA, 'single', epoch, 1_000_000, 'wait_primary');
      assert.equal(await witness(idA), '-/-/-');
      // The decision it did receive, and one of an earlier epoch, are recorded.
      await active(keeperA, idA, 'single', epoch, 5, 'single');
      assert.equal(await witness(idA), `${epoch}/5/single`);
      await active(keeperA, idA, 'single', epoch - 1, 7, 'single');
      assert.equal(await witness(idA), `${epoch - 1}/7/single`);
    } finally {
      await keeperA.end().catch(() => undefined);
      await anyone.end().catch(() => undefined);
    }
  });
});
