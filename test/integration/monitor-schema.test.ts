/**
 * The monitor schema on a real Postgres: migrations, the keeper protocol,
 * notifications, privileges of autoctl_node and autoctl, operator
 * functions (validation and requests, never goal changes) and reporting.
 *
 * The tests run in order and build on each other's nodes; the monitor
 * service is simulated with plain UPDATEs as superuser.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { AutoctlError, messageOf } from '../../src/common/errors.js';
import * as api from '../../src/monitor-api/index.js';
import { CHANNELS, parseDecideNotification, parseStateNotification, sqlStateOf } from '../../src/monitor-api/index.js';
import { appliedVersions, applyMigrations, createMonitorDatabase, createMonitorRoles, listMigrations, schemaVersion } from '../../src/monitor/schema.js';
import { runCleanups, waitFor } from '../helpers/fixture.js';
import { startTempPostgres, type TempPostgres } from '../helpers/temp-postgres.js';

let server: TempPostgres;
let admin: pg.Client;
const clients: pg.Client[] = [];
const LATEST = listMigrations().at(-1)?.version ?? '';
/** Nodes of formation ops, registered by the operator tests. */
let primaryId = 0;
let standbyId = 0;
/** Tables autoctl_node may not read: the failsafe's group secrets, the hashes of node tokens, the migrations' bookkeeping. */
const SECRET_TABLES = ['group_secret', 'node_token', 'schema_migrations'];
const TABLES = ['event', 'formation', 'group_secret', 'group_state', 'monitor_epoch', 'monitor_leader', 'monitor_member', 'monitor_rebuild', 'monitor_rebuild_node', 'monitor_switchover', 'node', 'node_token', 'request', 'schema_migrations', 'settings'];

async function connect(database: string, user = 'postgres'): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: server.url(database, user) });
  await client.connect();
  clients.push(client);
  return client;
}

async function rejectsWith(promise: Promise<unknown>, code: string, message?: RegExp): Promise<unknown> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => {
    caught = error;
    assert.equal(sqlStateOf(error), code, `expected SQLSTATE ${code}, got ${String(sqlStateOf(error))}: ${messageOf(error)}`);
    if (message) assert.match(messageOf(error), message);
    return true;
  });
  return caught;
}

interface Note { channel: string; payload: string }

/** A LISTENing connection that keeps what it receives. */
async function listen(channels: readonly string[]): Promise<{ notes: Note[]; clear(): void; next(channel: string, match?: (payload: string) => boolean): Promise<string> }> {
  const client = await connect('pg_auto_failover');
  const notes: Note[] = [];
  client.on('notification', (msg) => notes.push({ channel: msg.channel, payload: msg.payload ?? '' }));
  for (const channel of channels) await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
  return {
    notes,
    clear: () => { notes.length = 0; },
    next: (channel, match = () => true) => waitFor(`a notification on ${channel}`, () => {
      const index = notes.findIndex((n) => n.channel === channel && match(n.payload));
      if (index < 0) return undefined;
      const [note] = notes.splice(index, 1);
      return note?.payload;
    }, { timeoutMs: 5000, intervalMs: 20 }),
  };
}

async function count(sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await admin.query<{ n: string }>(`SELECT count(*) AS n FROM (${sql}) q`, params);
  return Number(rows[0]?.n);
}

/** What the monitor service would do: assign states directly. */
async function setStates(nodeId: number, reported: string, goal: string, extra = ''): Promise<void> {
  await admin.query(`UPDATE pgautofailover.node SET reportedstate = $2, goalstate = $3${extra ? `, ${extra}` : ''} WHERE nodeid = $1`,
    [nodeId, reported, goal]);
}

before(async () => {
  server = await startTempPostgres();
  const boot = await connect('postgres');
  await createMonitorRoles(boot);
  await createMonitorRoles(boot, { autoctlPassword: 'secret' });
  assert.equal(await createMonitorDatabase(boot), true);
  assert.equal(await createMonitorDatabase(boot), false);
  admin = await connect('pg_auto_failover');
});

after(async () => {
  for (const client of clients) await client.end().catch(() => undefined);
  await runCleanups();
});

describe('migrations', () => {
  it('installs the schema with the default formation', async () => {
    assert.equal(await schemaVersion(admin), null);
    const result = await applyMigrations(admin);
    assert.deepEqual(result, { from: null, to: LATEST, applied: listMigrations().map((m) => m.version) });

    const tables = await admin.query<{ tablename: string }>("SELECT tablename FROM pg_tables WHERE schemaname = 'pgautofailover' ORDER BY 1");
    assert.deepEqual(tables.rows.map((r) => r.tablename), TABLES);
    const formation = await admin.query('SELECT * FROM pgautofailover.formation');
    assert.deepEqual(formation.rows, [{ formationid: 'default', kind: 'pgsql', dbname: 'postgres', opt_secondary: true, number_sync_standbys: 0 }]);
    const owner = await admin.query<{ owner: string }>("SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = 'pg_auto_failover'");
    assert.equal(owner.rows[0]?.owner, 'autoctl');

    const constraints = await admin.query<{ conname: string }>(
      "SELECT conname FROM pg_constraint WHERE conrelid = 'pgautofailover.node'::regclass ORDER BY 1");
    assert.deepEqual(constraints.rows.map((r) => r.conname), [
      'node_formationid_fkey', 'node_formationid_nodename_key', 'node_httpport_check', 'node_nodehost_nodeport_key', 'node_pkey',
      'node_reportedtli_check', 'same_system_identifier_within_group', 'system_identifier_is_null_at_init_only']);
    const settings = await admin.query<{ name: string; setting: string }>('SELECT name, setting FROM pgautofailover.settings');
    // 0001's 5000, changed by 0009 (docs/timings.md).
    assert.equal(settings.rows.find((r) => r.name === 'pgautofailover.health_check_period')?.setting, '1000');
    assert.equal(settings.rows.find((r) => r.name === 'pgautofailover.primary_lease_timeout')?.setting, '3000');
    assert.equal(settings.rows.find((r) => r.name === 'pgautofailover.primary_demote_timeout')?.setting, '30000');
    assert.equal(settings.rows.find((r) => r.name === 'pgautofailover.require_node_token')?.setting, 'off');
  });

  it('applies nothing on a second run', async () => {
    const result = await applyMigrations(admin);
    assert.deepEqual(result, { from: LATEST, to: LATEST, applied: [] });
    assert.equal(await count('SELECT * FROM pgautofailover.schema_migrations'), listMigrations().length);
  });

  it('serialises concurrent runs and refuses a newer schema', async () => {
    const boot = await connect('postgres');
    await createMonitorDatabase(boot, { dbname: 'race' });
    const [a, b] = [await connect('race'), await connect('race')];
    const results = await Promise.all([applyMigrations(a), applyMigrations(b)]);
    const applied = [...results[0].applied, ...results[1].applied].sort();
    assert.deepEqual(applied, listMigrations().map((m) => m.version));
    assert.deepEqual(await appliedVersions(a), listMigrations().map((m) => m.version));

    await a.query("INSERT INTO pgautofailover.schema_migrations (version, name) VALUES ('9999', 'future')");
    await assert.rejects(applyMigrations(a), (error: unknown) => error instanceof AutoctlError && error.code === 'MONITOR' && /9999/.test(error.message));
  });
});

describe('keeper protocol', () => {
  it('registers a first node with goal init and asks for a decision', async () => {
    const l = await listen([CHANNELS.log, CHANNELS.decide]);
    const node = await api.registerNode(admin, { formation: 'default', host: '127.0.0.1', port: 6001, dbname: 'postgres', sysIdentifier: 42n });
    assert.deepEqual(node, { nodeId: 1, groupId: 0, goalState: 'init', candidatePriority: 100, replicationQuorum: true, name: 'node_1' });
    assert.equal(await l.next(CHANNELS.decide), '{"formation": "default", "groupId": 0, "nodeId": 1, "why": "register"}');
    assert.match(await l.next(CHANNELS.log), /^Registering node 1 "node_1" \(127\.0\.0\.1:6001\) to formation "default"/);
    assert.equal(await count('SELECT * FROM pgautofailover.event'), 0);
    const row = await api.getNode(admin, { nodeId: 1 });
    assert.equal(row?.reportedState, 'init');
    assert.equal(row?.sysIdentifier, 42n);
  });

  it('refuses a second node until the first one has a writable goal (55006)', async () => {
    const error = await rejectsWith(api.registerNode(admin, { formation: 'default', host: '127.0.0.1', port: 6002, dbname: 'postgres' }),
      '55006', /couldn't find the primary node/);
    assert.ok(error instanceof AutoctlError && error.code === 'MONITOR');
    assert.equal(error.hint, 'Retry registering in a moment.');

    await setStates(1, 'init', 'single');
    const node = await api.registerNode(admin, { formation: 'default', host: '127.0.0.1', port: 6002, dbname: 'postgres', candidatePriority: 50 });
    assert.deepEqual(node, { nodeId: 2, groupId: 0, goalState: 'init', candidatePriority: 50, replicationQuorum: true, name: 'node_2' });
  });

  it('validates registrations', async () => {
    const base = { formation: 'default', host: '127.0.0.1', dbname: 'postgres' };
    const dup = await rejectsWith(api.registerNode(admin, { ...base, port: 6002 }), '23505', /node_nodehost_nodeport_key/);
    assert.equal((dup as Error & { cause: { constraint?: string } }).cause.constraint, 'node_nodehost_nodeport_key');
    await rejectsWith(api.registerNode(admin, { ...base, port: 6003, name: 'node_1' }), '23505', /node_formationid_nodename_key/);
    await rejectsWith(api.registerNode(admin, { ...base, port: 6003, sysIdentifier: 43n }), '23P01', /same_system_identifier_within_group/);
    await rejectsWith(api.registerNode(admin, { ...base, formation: 'nope', port: 6003 }), '42P17', /formation "nope" does not exist/);
    await rejectsWith(api.registerNode(admin, { ...base, port: 6003, desiredGroupId: 1 }), 'XX000', /only has group 0/);
    await rejectsWith(api.registerNode(admin, { ...base, port: 6003, initialState: 'single', sysIdentifier: 42n }), 'XX000',
      /can not be registered in state single, it should be in state wait_standby/);
    await rejectsWith(api.registerNode(admin, { ...base, port: 6003, dbname: 'other' }), 'XX000', /dbname "other"/);
    await rejectsWith(api.registerNode(admin, { ...base, port: 6003, kind: 'worker' }), 'XX000', /of kind "worker"/);
    await rejectsWith(api.registerNode(admin, { ...base, port: 6003, candidatePriority: 101 }), '22023', /candidate_priority/);
    assert.equal(await count('SELECT * FROM pgautofailover.node'), 2);
  });

  it('records a node_active report with an event and notifications', async () => {
    const l = await listen([CHANNELS.log, CHANNELS.state, CHANNELS.decide]);
    const previous = await api.getNode(admin, { nodeId: 1 });
    const assignment = await api.nodeActive(admin, {
      formation: 'default', nodeId: 1, groupId: 0, state: 'single', pgIsRunning: true, tli: 1, lsn: 0x3000060n, syncState: '',
    });
    assert.deepEqual(assignment, { nodeId: 1, groupId: 0, goalState: 'single', candidatePriority: 100, replicationQuorum: true });

    const row = await api.getNode(admin, { nodeId: 1 });
    assert.equal(row?.reportedState, 'single');
    assert.equal(row?.reportedLsn, 0x3000060n);
    assert.equal(row?.reportedRepState, 'unknown');
    assert.ok(row && previous && row.reportTime >= previous.reportTime && row.stateChangeTime >= previous.stateChangeTime);

    const events = await api.lastEvents(admin, { formation: 'default' });
    assert.equal(events.length, 1);
    assert.equal(events[0]?.description, 'New state is reported by node 1 "node_1" (127.0.0.1:6001): "single"');
    assert.equal(events[0]?.reportedState, 'single');
    assert.equal(events[0]?.reportedLsn, 0x3000060n);

    const state = await l.next(CHANNELS.state);
    assert.equal(state, '{"type": "state", "formation": "default", "groupId": 0, "nodeId": 1, "name": "node_1", '
      + '"host": "127.0.0.1", "port": 6001, "reportedState": "single", "goalState": "single", "health":"unknown"}');
    assert.deepEqual(Object.keys(JSON.parse(state) as object),
      ['type', 'formation', 'groupId', 'nodeId', 'name', 'host', 'port', 'reportedState', 'goalState', 'health']);
    assert.equal(parseStateNotification(state).reportedState, 'single');
    assert.equal(await l.next(CHANNELS.log), events[0]?.description);
    const decide = await l.next(CHANNELS.decide);
    assert.equal(decide, '{"formation": "default", "groupId": 0, "nodeId": 1, "why": "report", "goal": "single"}');
    assert.deepEqual(Object.keys(JSON.parse(decide) as object), ['formation', 'groupId', 'nodeId', 'why', 'goal']);

    // same state, unknown LSN and timeline: no event, stored values kept, still a decision request
    l.clear();
    await api.nodeActive(admin, { formation: 'default', nodeId: 1, groupId: 0, state: 'single', pgIsRunning: true, tli: 0, lsn: 0n, syncState: 'async' });
    assert.equal(parseDecideNotification(await l.next(CHANNELS.decide)).why, 'report');
    assert.equal(await count('SELECT * FROM pgautofailover.event'), 1);
    const again = await api.getNode(admin, { nodeId: 1 });
    assert.equal(again?.reportedLsn, 0x3000060n);
    assert.equal(again?.reportedTli, 1);
    assert.equal(again?.reportedRepState, 'async');
    assert.equal(l.notes.filter((n) => n.channel === CHANNELS.state).length, 0);
  });

  it('validates node_active', async () => {
    const report = { formation: 'default', nodeId: 1, groupId: 0, state: 'single', pgIsRunning: true, tli: 1, lsn: 0n, syncState: '' } as const;
    await rejectsWith(api.nodeActive(admin, { ...report, nodeId: 99 }), '42704', /couldn't find node with nodeid 99/);
    await rejectsWith(api.nodeActive(admin, { ...report, formation: 'other' }), '42P17', /does not belong to formation other/);
    await rejectsWith(admin.query("SELECT * FROM pgautofailover.node_active('default', 1, 0, 'single', true, 1, '0/0', 'bogus')"),
      '22023', /sync_state/);
  });

  it('serves node lookups', async () => {
    await api.nodeActive(admin, { formation: 'default', nodeId: 2, groupId: 0, state: 'init', pgIsRunning: true, tli: 1, lsn: 0n, syncState: '' });
    assert.deepEqual(await api.getPrimary(admin), { nodeId: 1, name: 'node_1', host: '127.0.0.1', port: 6001 });
    await rejectsWith(api.getPrimary(admin, 'nope'), 'XX000', /group has no writable node right now/);
    const nodes = await api.getNodes(admin, 'default', 0);
    assert.deepEqual(nodes.map((n) => [n.nodeId, n.isPrimary, n.lsn]), [[1, true, 0x3000060n], [2, false, 0n]]);
    assert.deepEqual((await api.getOtherNodes(admin, 1)).map((n) => n.nodeId), [2]);
    assert.deepEqual(await api.getOtherNodes(admin, 1, 'secondary'), []);
    await rejectsWith(api.getOtherNodes(admin, 99), '42704', /node 99 is not registered/);
    assert.equal(await api.getMostAdvancedStandby(admin), undefined);
    assert.deepEqual(await api.setNodeSystemIdentifier(admin, 2, 42n), { nodeId: 2, name: 'node_2', host: '127.0.0.1', port: 6002 });
    assert.equal(await api.setNodeSystemIdentifier(admin, 99, 42n), undefined);
    assert.deepEqual(await api.setGroupSystemIdentifier(admin, 0, 42n), []);
    assert.equal(await api.synchronousStandbyNames(admin), '');
    await rejectsWith(api.synchronousStandbyNames(admin, 'default', 7), '42P17', /no nodes found in group 7/);
  });
});

describe('privileges', () => {
  it('autoctl_node reads every table but the secret ones, writes none, and calls the API', async () => {
    const node = await connect('pg_auto_failover', 'autoctl_node');
    for (const table of TABLES) {
      if (SECRET_TABLES.includes(table)) {
        await rejectsWith(node.query(`SELECT * FROM pgautofailover.${table}`), '42501', /permission denied/);
      } else {
        await node.query(`SELECT * FROM pgautofailover.${table}`);
      }
      const { rows } = await admin.query<{ column_name: string }>(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'pgautofailover' AND table_name = $1 AND is_identity = 'NO' ORDER BY ordinal_position LIMIT 1",
        [table]);
      const column = rows[0]?.column_name ?? '';
      await rejectsWith(node.query(`INSERT INTO pgautofailover.${table} DEFAULT VALUES`), '42501', /permission denied/);
      await rejectsWith(node.query(`UPDATE pgautofailover.${table} SET ${column} = ${column}`), '42501', /permission denied/);
      await rejectsWith(node.query(`DELETE FROM pgautofailover.${table}`), '42501', /permission denied/);
    }
    await rejectsWith(node.query("SELECT nextval('pgautofailover.node_nodeid_seq')"), '42501');
    await rejectsWith(node.query('CREATE TABLE pgautofailover.intruder (id int)'), '42501');

    const assignment = await api.nodeActive(node, { formation: 'default', nodeId: 2, groupId: 0, state: 'init', pgIsRunning: true, tli: 1, lsn: 0n, syncState: '' });
    assert.equal(assignment.goalState, 'init');
    assert.equal((await api.currentState(node)).length, 2);
    assert.equal((await api.lastEvents(node, { count: 1 })).length, 1);
    assert.equal(await api.formationUri(node), 'postgres://127.0.0.1:6001,127.0.0.1:6002/postgres?target_session_attrs=read-write&sslmode=prefer');

    await rejectsWith(api.setNodeHealth(node, 1, 1), '42501');
    await rejectsWith(api.setNodeGoalState(node, 1, 'primary', 'no'), '42501');
    await rejectsWith(api.lockGroup(node, 'default', 0), '42501');
    await rejectsWith(node.query("SELECT pgautofailover.record_request('default', 0, NULL, 'failover', false, 'x')"), '42501');
  });

  it('autoctl writes goal and health columns only', async () => {
    const service = await connect('pg_auto_failover', 'autoctl');
    await service.query('BEGIN');
    await api.lockGroup(service, 'default', 0);
    await service.query("UPDATE pgautofailover.node SET goalstate = 'single', statechangetime = now() WHERE nodeid = 1");
    await service.query("UPDATE pgautofailover.node SET candidatepriority = candidatepriority WHERE nodeid = 1");
    await service.query('ROLLBACK');
    await rejectsWith(service.query("UPDATE pgautofailover.node SET reportedstate = 'primary' WHERE nodeid = 1"), '42501');
    await rejectsWith(service.query("UPDATE pgautofailover.formation SET kind = 'citus'"), '42501');
    await rejectsWith(service.query("INSERT INTO pgautofailover.formation (formationid) VALUES ('x')"), '42501');
    await rejectsWith(service.query('DELETE FROM pgautofailover.event'), '42501');
    // EXECUTE on internal helpers gives no more than autoctl's own table privileges
    await rejectsWith(service.query("SELECT pgautofailover.record_request('default', 0, NULL, 'failover', false, 'x')"), '42501',
      /permission denied for table request/);
  });

  it('set_node_health records changes as events, for autoctl', async () => {
    const service = await connect('pg_auto_failover', 'autoctl');
    const l = await listen([CHANNELS.state, CHANNELS.decide, CHANNELS.log]);
    const eventsBefore = await count('SELECT * FROM pgautofailover.event');
    assert.equal(await api.setNodeHealth(service, 1, 1), true);
    const state = parseStateNotification(await l.next(CHANNELS.state));
    assert.equal(state.health, 'good');
    assert.equal(await l.next(CHANNELS.log), 'Node node 1 "node_1" (127.0.0.1:6001) is marked as healthy by the monitor');
    assert.deepEqual(parseDecideNotification(await l.next(CHANNELS.decide)), { formation: 'default', groupId: 0, nodeId: 1, why: 'health' });
    assert.equal(await count('SELECT * FROM pgautofailover.event'), eventsBefore + 1);

    const checkTime = (await api.getNode(admin, { nodeId: 1 }))?.healthCheckTime;
    assert.equal(await api.setNodeHealth(service, 1, 1), false);
    assert.ok(((await api.getNode(admin, { nodeId: 1 }))?.healthCheckTime ?? 0) >= (checkTime ?? Infinity));
    assert.equal(await api.setNodeHealth(service, 1, 0, { host: 'elsewhere', port: 1 }), false);
    assert.equal(await api.setNodeHealth(service, 99, 0), false);
    assert.equal(await count('SELECT * FROM pgautofailover.event'), eventsBefore + 1);
    await rejectsWith(api.setNodeHealth(service, 1, 2 as number as 1), '22023');

    const eventId = await api.setNodeGoalState(service, 2, 'wait_standby', 'Setting goal state of node 2 to wait_standby (test).');
    const event = (await api.lastEvents(admin, { count: 1 }))[0];
    assert.equal(event?.eventId, eventId);
    assert.equal(event?.goalState, 'wait_standby');
    assert.equal(parseStateNotification(await l.next(CHANNELS.state, (p) => p.includes('"nodeId": 2'))).goalState, 'wait_standby');
  });
});

describe('monitor epochs', () => {
  it('start at 1, advance on another system or timeline or when forced, and only the service advances them', async () => {
    const node = await connect('pg_auto_failover', 'autoctl_node');
    const service = await connect('pg_auto_failover', 'autoctl');
    assert.equal((await api.currentMonitorEpoch(node)).epoch, 0, 'no epoch before the service first runs');
    const { rows: [control] } = await admin.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()');
    const first = await api.advanceMonitorEpoch(service);
    assert.deepEqual({ ...first, startedAt: null }, {
      epoch: 1, systemIdentifier: BigInt(control?.id ?? '0'), timeline: 1, startedAt: null, writable: true, advanced: true,
    });
    assert.equal((await api.advanceMonitorEpoch(service)).advanced, false, 'same system, same timeline: same epoch');
    assert.equal((await api.currentMonitorEpoch(node)).epoch, 1);
    // What a restore or a copy on another system looks like.
    await admin.query('UPDATE pgautofailover.monitor_epoch SET system_identifier = 42 WHERE epoch = 1');
    assert.deepEqual(await api.advanceMonitorEpoch(service).then((e) => [e.epoch, e.advanced]), [2, true]);
    assert.deepEqual(await api.advanceMonitorEpoch(service, true).then((e) => [e.epoch, e.advanced]), [3, true]);
    assert.equal((await api.currentMonitorEpoch(node)).epoch, 3);
    await rejectsWith(api.advanceMonitorEpoch(node), '42501');
    assert.equal(await count('SELECT * FROM pgautofailover.monitor_epoch'), 3);
  });
});

describe('operator functions', () => {

  it('manages formations', async () => {
    assert.deepEqual(await api.createFormation(admin, { formation: 'ops', kind: 'pgsql', dbname: 'app' }),
      { formationId: 'ops', kind: 'pgsql', dbname: 'app', optSecondary: true, numberSyncStandbys: 0 });
    await rejectsWith(api.createFormation(admin, { formation: 'ops', kind: 'pgsql' }), '23505', /formation_pkey/);
    await rejectsWith(api.createFormation(admin, { formation: 'bad', kind: 'oracle' as string as 'pgsql' }), '22023', /unknown formation kind "oracle"/);
    await api.createFormation(admin, { formation: 'scratch', kind: 'citus' });
    await api.disableSecondary(admin, 'scratch');
    assert.equal((await api.getFormation(admin, 'scratch'))?.optSecondary, false);
    await api.dropFormation(admin, 'scratch');
    assert.equal(await api.getFormation(admin, 'scratch'), undefined);
    await rejectsWith(api.dropFormation(admin, 'scratch'), 'XX000', /couldn't find formation "scratch"/);
    await rejectsWith(api.dropFormation(admin, 'default'), '23503', /node_formationid_fkey/);
    await rejectsWith(api.disableSecondary(admin, 'default'), '55000', /not in SINGLE state/);
    await rejectsWith(api.performFailover(admin, 'ops'), 'XX000', /currently has 0 node registered/);
  });

  it('sets up a primary and a standby in formation ops', async () => {
    primaryId = (await api.registerNode(admin, { formation: 'ops', host: '127.0.0.1', port: 7001, dbname: 'app', sysIdentifier: 7n })).nodeId;
    await setStates(primaryId, 'primary', 'primary', 'health = 1');
    const standby = await api.registerNode(admin, { formation: 'ops', host: '127.0.0.1', port: 7002, dbname: 'app' });
    standbyId = standby.nodeId;
    await setStates(standbyId, 'catchingup', 'catchingup', 'health = 1, sysidentifier = 7');
    assert.deepEqual(await api.getPrimary(admin, 'ops'), { nodeId: primaryId, name: `node_${primaryId}`, host: '127.0.0.1', port: 7001 });
  });

  it('validates and records failovers without changing goal states', async () => {
    const goals = async (): Promise<string[]> => (await api.currentState(admin, 'ops')).map((r) => r.goalState);
    await rejectsWith(api.performFailover(admin, 'ops'), 'XX000', /which prevents the node from being a failover candidate/);
    await setStates(standbyId, 'catchingup', 'secondary');
    await rejectsWith(api.performFailover(admin, 'ops'), 'XX000', /primary node is not in a stable state/);
    await setStates(standbyId, 'secondary', 'secondary');

    const l = await listen([CHANNELS.decide, CHANNELS.log]);
    const before = await goals();
    await api.performFailover(admin, 'ops', 0);
    assert.deepEqual(await goals(), before);
    const [request] = await api.pendingRequests(admin, 'ops', 0);
    assert.ok(request);
    assert.equal(request.kind, 'failover');
    assert.equal(request.nodeId, null);
    assert.equal(request.doneAt, null);
    assert.deepEqual(parseDecideNotification(await l.next(CHANNELS.decide)),
      { formation: 'ops', groupId: 0, nodeId: null, why: 'request', requestId: request.id });
    assert.equal(await l.next(CHANNELS.log), 'Requested failover of group 0 in formation "ops"');

    await rejectsWith(api.performFailover(admin, 'ops'), '55000', /already been requested/);
    await rejectsWith(api.performPromotion(admin, 'ops', `node_${standbyId}`), '55000', /already been requested/);

    const service = await connect('pg_auto_failover', 'autoctl');
    await api.completeRequest(service, request.id, 'done');
    assert.deepEqual(await api.pendingRequests(admin, 'ops'), []);

    assert.equal(await api.performPromotion(admin, 'ops', `node_${primaryId}`), false);
    assert.equal(await api.performPromotion(admin, 'ops', `node_${standbyId}`), true);
    const [promotion] = await api.pendingRequests(admin, 'ops');
    assert.equal(promotion?.kind, 'promotion');
    assert.equal(promotion?.nodeId, standbyId);
    await rejectsWith(api.performPromotion(admin, 'ops', 'nobody'), '42704', /node "nobody" is not registered in formation "ops"/);
    if (promotion) await api.completeRequest(service, promotion.id, 'done');

    await admin.query('UPDATE pgautofailover.node SET candidatepriority = 0 WHERE nodeid = $1', [standbyId]);
    await rejectsWith(api.performFailover(admin, 'ops'), '55000', /can not be promoted/);
    await admin.query('UPDATE pgautofailover.node SET candidatepriority = 100 WHERE nodeid = $1', [standbyId]);
  });

  it('validates and records settings changes', async () => {
    const standby = `node_${standbyId}`;
    await rejectsWith(api.setNodeCandidatePriority(admin, 'ops', standby, 101), '22023', /between 0 and 100/);
    await rejectsWith(api.setNodeCandidatePriority(admin, 'ops', 'nobody', 10), '42704', /is not registered in formation "ops"/);
    assert.equal(await api.setNodeCandidatePriority(admin, 'ops', standby, 50), true);
    assert.equal((await api.getNode(admin, { nodeId: standbyId }))?.candidatePriority, 50);
    const [change] = await api.pendingRequests(admin, 'ops');
    assert.equal(change?.kind, 'settings_changed');
    assert.equal(change?.setting, 'candidate_priority');
    assert.equal(change?.nodeId, standbyId);

    await rejectsWith(api.setFormationNumberSyncStandbys(admin, 'ops', 1), '22023', /number_sync_standbys/);
    await assert.rejects(api.setFormationNumberSyncStandbys(admin, 'ops', 1),
      (error: unknown) => /At least 2 standby nodes are required, and only 1/.test(String((error as { cause?: { detail?: string } }).cause?.detail)));
    await rejectsWith(api.setFormationNumberSyncStandbys(admin, 'ops', -1), '22023');
    await rejectsWith(api.setFormationNumberSyncStandbys(admin, 'nope', 0), '22023', /unknown formation/);
    assert.equal(await api.setFormationNumberSyncStandbys(admin, 'ops', 0), true);

    assert.equal(await api.setNodeReplicationQuorum(admin, 'ops', standby, false), true);
    assert.equal((await api.getNode(admin, { nodeId: standbyId }))?.replicationQuorum, false);
    const kinds = (await api.pendingRequests(admin, 'ops')).map((r) => `${r.kind}:${r.setting ?? ''}`);
    assert.deepEqual(kinds, ['settings_changed:candidate_priority', 'settings_changed:number_sync_standbys', 'settings_changed:replication_quorum']);
    await api.setNodeReplicationQuorum(admin, 'ops', standby, true);

    // a single-node group records the change as an event
    const events = await count("SELECT * FROM pgautofailover.event WHERE description LIKE 'Updating candidate priority to 80%'");
    await api.setNodeCandidatePriority(admin, 'default', 'node_2', 80);
    await admin.query("UPDATE pgautofailover.node SET goalstate = 'dropped' WHERE nodeid = 2");
    await api.setNodeCandidatePriority(admin, 'default', 'node_1', 80);
    await admin.query("UPDATE pgautofailover.node SET goalstate = 'init' WHERE nodeid = 2");
    assert.equal(await count("SELECT * FROM pgautofailover.event WHERE description LIKE 'Updating candidate priority to 80%'"), events + 1);
  });

  it('validates and records maintenance and removal', async () => {
    assert.equal(await api.startMaintenance(admin, 999), false);
    assert.equal(await api.stopMaintenance(admin, 999), false);
    await rejectsWith(api.stopMaintenance(admin, standbyId), '55000', /is not "maintenance"/);
    const before = (await api.pendingRequests(admin, 'ops')).length;
    assert.equal(await api.startMaintenance(admin, standbyId), true);
    assert.equal(await api.startMaintenance(admin, standbyId), true);
    const maintenance = (await api.pendingRequests(admin, 'ops')).filter((r) => r.kind === 'maintenance_on');
    assert.equal(maintenance.length, 1);
    assert.equal((await api.pendingRequests(admin, 'ops')).length, before + 1);

    await setStates(standbyId, 'maintenance', 'maintenance');
    assert.equal(await api.startMaintenance(admin, standbyId), true);
    assert.equal(await api.stopMaintenance(admin, standbyId), true);
    assert.equal((await api.pendingRequests(admin, 'ops')).filter((r) => r.kind === 'maintenance_off').length, 1);
    await rejectsWith(api.startMaintenance(admin, primaryId), '55000', /is not currently possible/);

    await rejectsWith(api.removeNodeById(admin, 999), '42704', /couldn't find node with nodeid 999/);
    await rejectsWith(api.removeNodeByHostPort(admin, 'nowhere', 5432), '42704', /hostname "nowhere" and port 5432/);
    assert.equal(await api.removeNodeByHostPort(admin, '127.0.0.1', 7002), true);
    assert.equal(await api.removeNodeById(admin, standbyId), true);
    assert.equal(await api.removeNodeById(admin, standbyId, true), true);
    const removals = (await api.pendingRequests(admin, 'ops')).filter((r) => r.kind === 'remove').map((r) => r.force);
    assert.deepEqual(removals, [false, true]);
    assert.equal(await count('SELECT * FROM pgautofailover.node WHERE formationid = $1', ['ops']), 2);
  });

  it('updates node metadata', async () => {
    const l = await listen([CHANNELS.decide]);
    assert.equal(await api.updateNodeMetadata(admin, standbyId, { name: 'renamed' }), true);
    const row = await api.getNode(admin, { nodeId: standbyId });
    assert.deepEqual([row?.name, row?.host, row?.port], ['renamed', '127.0.0.1', 7002]);
    assert.equal(parseDecideNotification(await l.next(CHANNELS.decide)).why, 'metadata');
    await rejectsWith(api.updateNodeMetadata(admin, 999, { port: 1 }), '42704');
    await rejectsWith(api.updateNodeMetadata(admin, standbyId, { port: 6001 }), '23505', /node_nodehost_nodeport_key/);
  });
});

describe('formation-level rules', () => {
  it('serialises concurrent registrations into an empty group', async () => {
    await api.createFormation(admin, { formation: 'race', kind: 'pgsql' });
    const [a, b] = [await connect('pg_auto_failover', 'autoctl_node'), await connect('pg_auto_failover', 'autoctl_node')];
    const results = await Promise.allSettled([
      api.registerNode(a, { formation: 'race', host: '127.0.0.1', port: 8001, dbname: 'postgres' }),
      api.registerNode(b, { formation: 'race', host: '127.0.0.1', port: 8002, dbname: 'postgres' }),
    ]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    const failed = results.find((r) => r.status === 'rejected');
    assert.equal(sqlStateOf(failed?.status === 'rejected' ? failed.reason : undefined), '55006');
  });

  it('raises number_sync_standbys with a second quorum standby and lowers it on removal', async () => {
    await api.createFormation(admin, { formation: 'sync', kind: 'pgsql' });
    const register = (port: number): Promise<{ nodeId: number }> =>
      api.registerNode(admin, { formation: 'sync', host: '127.0.0.1', port, dbname: 'postgres' });
    const a = await register(9001);
    await setStates(a.nodeId, 'primary', 'primary', 'sysidentifier = 9');
    await register(9002);
    assert.equal((await api.getFormation(admin, 'sync'))?.numberSyncStandbys, 0);
    const l = await listen([CHANNELS.log]);
    await register(9003);
    assert.equal((await api.getFormation(admin, 'sync'))?.numberSyncStandbys, 1);
    assert.match(await l.next(CHANNELS.log, (p) => p.startsWith('Setting number_sync_standbys')), /to 1 for formation "sync"/);

    // primary + 2 quorum standbys, nss 1, remove the primary: nss 0
    assert.equal(await api.removeNodeById(admin, a.nodeId), true);
    assert.equal((await api.getFormation(admin, 'sync'))?.numberSyncStandbys, 0);
  });

  it('refuses a failover without a promotable standby in a larger group', async () => {
    const nodes = await api.currentState(admin, 'sync');
    for (const n of nodes) {
      const state = n.port === 9001 ? 'primary' : 'secondary';
      await setStates(n.nodeId, state, state, 'sysidentifier = 9');
    }
    await admin.query("UPDATE pgautofailover.request SET done_at = now() WHERE formationid = 'sync'");
    await admin.query("UPDATE pgautofailover.node SET candidatepriority = 0 WHERE formationid = 'sync' AND nodeport <> 9001");
    await rejectsWith(api.performFailover(admin, 'sync'), '55000', /no standby node of group 0 in formation "sync" can be promoted/);
    await admin.query("UPDATE pgautofailover.node SET candidatepriority = 50 WHERE formationid = 'sync' AND nodeport = 9002");
    await api.performFailover(admin, 'sync');
    assert.deepEqual((await api.pendingRequests(admin, 'sync')).map((r) => r.kind), ['failover']);
    await rejectsWith(api.setNodeCandidatePriority(admin, 'sync', 'node_doesnotexist', 1), '42704');
  });

  it('places citus workers in groups', async () => {
    await api.createFormation(admin, { formation: 'cit', kind: 'citus' });
    const coordinator = await api.registerNode(admin, { formation: 'cit', host: '127.0.0.2', port: 5432, dbname: 'postgres', kind: 'coordinator' });
    assert.deepEqual([coordinator.groupId, coordinator.name], [0, 'coord0a']);
    const worker = await api.registerNode(admin, { formation: 'cit', host: '127.0.0.3', port: 5432, dbname: 'postgres', kind: 'worker' });
    assert.deepEqual([worker.groupId, worker.name], [1, 'worker1a']);
    await rejectsWith(api.registerNode(admin, { formation: 'cit', host: '127.0.0.4', port: 5432, dbname: 'postgres', kind: 'worker' }), '55006');
    await setStates(worker.nodeId, 'single', 'single', 'sysidentifier = 11');
    const standby = await api.registerNode(admin, { formation: 'cit', host: '127.0.0.4', port: 5432, dbname: 'postgres', kind: 'worker' });
    assert.deepEqual([standby.groupId, standby.name], [1, 'worker1b']);
    const next = await api.registerNode(admin, { formation: 'cit', host: '127.0.0.5', port: 5432, dbname: 'postgres', kind: 'worker' });
    assert.deepEqual([next.groupId, next.name], [2, 'worker2a']);
    await rejectsWith(api.registerNode(admin, { formation: 'cit', host: '127.0.0.6', port: 5432, dbname: 'postgres' }), 'XX000', /of kind "standalone"/);
  });
});

describe('reporting functions', () => {
  it('current_state returns the documented columns', async () => {
    const result = await admin.query('SELECT * FROM pgautofailover.current_state($1)', ['default']);
    assert.deepEqual(result.fields.map((f) => f.name), ['formation_kind', 'nodename', 'nodehost', 'nodeport', 'group_id', 'node_id',
      'current_group_state', 'assigned_group_state', 'candidate_priority', 'replication_quorum', 'reported_tli', 'reported_lsn',
      'health', 'nodecluster']);
    const rows = await api.currentState(admin, 'default', 0);
    assert.deepEqual(rows.map((r) => [r.nodeId, r.name, r.reportedState, r.goalState, r.health]),
      [[1, 'node_1', 'single', 'single', 1], [2, 'node_2', 'init', 'init', -1]]);
    assert.equal(rows[0]?.reportedLsn, 0x3000060n);
    assert.deepEqual(await api.currentState(admin, 'nope'), []);
  });

  it('last_events returns the latest events oldest first', async () => {
    const result = await admin.query("SELECT * FROM pgautofailover.last_events('default', count => 3)");
    assert.deepEqual(result.fields.map((f) => f.name), ['eventid', 'eventtime', 'formationid', 'nodeid', 'groupid', 'nodename', 'nodehost',
      'nodeport', 'reportedstate', 'goalstate', 'reportedrepstate', 'reportedtli', 'reportedlsn', 'candidatepriority', 'replicationquorum',
      'description']);
    const all = await api.lastEvents(admin, { count: 100 });
    const last3 = await api.lastEvents(admin, { count: 3 });
    assert.deepEqual(last3.map((e) => e.eventId), all.slice(-3).map((e) => e.eventId));
    const group = await api.lastEvents(admin, { formation: 'default', groupId: 0, count: 100 });
    assert.ok(group.length > 0 && group.every((e) => e.formationId === 'default' && e.groupId === 0));
    assert.deepEqual(await api.lastEvents(admin, { formation: 'ops' }), []);
  });

  it('formation_uri, formation_settings and synchronous_standby_names', async () => {
    assert.equal(await api.formationUri(admin, { formation: 'ops', sslmode: 'require', sslrootcert: '/ca.crt' }),
      'postgres://127.0.0.1:7001,127.0.0.1:7002/app?target_session_attrs=read-write&sslmode=require&sslrootcert=/ca.crt');
    assert.equal(await api.formationUri(admin, { formation: 'ops', cluster: 'replicas' }), null);

    const service = await connect('pg_auto_failover', 'autoctl');
    await api.setGroupStandbyNames(service, 'ops', 0, 'ANY 1 (pgautofailover_standby_4)');
    assert.equal(await api.synchronousStandbyNames(admin, 'ops', 0), 'ANY 1 (pgautofailover_standby_4)');

    const settings = await api.formationSettings(admin, 'ops');
    assert.deepEqual(settings.map((s) => [s.context, s.nodeId, s.setting, s.value]), [
      ['formation', null, 'number_sync_standbys', '0'],
      ['primary', primaryId, 'synchronous_standby_names', "'ANY 1 (pgautofailover_standby_4)'"],
      ['node', primaryId, 'replication quorum', 'true'],
      ['node', standbyId, 'replication quorum', 'true'],
      ['node', primaryId, 'candidate priority', '100'],
      ['node', standbyId, 'candidate priority', '50'],
    ]);
    const raw = await admin.query("SELECT * FROM pgautofailover.formation_settings('ops')");
    assert.deepEqual(raw.fields.map((f) => f.name), ['context', 'group_id', 'node_id', 'nodename', 'setting', 'value']);
  });
});
