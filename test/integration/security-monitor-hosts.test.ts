/**
 * Issue 8 findings 1, 10 and 14 on the monitor schema: an `autoctl_node`
 * session cannot store a host that would inject or widen pg_hba.conf
 * rules, cannot register without bound in one group, and formation_uri
 * percent-encodes what it puts in the URI.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { messageOf } from '../../src/common/errors.js';
import { sqlStateOf } from '../../src/monitor-api/index.js';
import { runCleanups } from '../helpers/fixture.js';
import { startTempMonitorDatabase } from '../helpers/temp-postgres.js';

const INJECTION = '0.0.0.0/0 trust\nhost all all 0.0.0.0/0 trust #';

let admin: pg.Client;
let node: pg.Client;


async function rejectsWith(promise: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.equal(sqlStateOf(error), code, messageOf(error));
    assert.match(messageOf(error), message);
    assert.equal(messageOf(error).includes('\n'), false);
    return true;
  });
}

const register = (formation: string, host: string, port: number): Promise<pg.QueryResult> =>
  node.query('SELECT * FROM pgautofailover.register_node($1, $2, $3, $4)', [formation, host, port, 'postgres']);

async function nodeCount(): Promise<number> {
  const { rows } = await admin.query<{ n: string }>('SELECT count(*) AS n FROM pgautofailover.node');
  return Number(rows[0]?.n);
}

before(async () => {
  ({ admin, node } = await startTempMonitorDatabase());
});

after(async () => {
  await node?.end().catch(() => undefined);
  await admin?.end().catch(() => undefined);
  await runCleanups();
});

describe('node hosts at the monitor (finding 1)', () => {
  it('register_node refuses the injected pg_hba.conf line, CIDRs, keywords and bad names, and stores nothing', async () => {
    for (const host of [INJECTION, '0.0.0.0/0', '10.0.0.0/8', '::/0', 'all', 'samenet', 'SameHost', 'a b', 'node#1', '"x"',
      '.lan', 'node_1', '10.0.0.256', 'fe80::1%eth0', 'x'.repeat(254), 'nöde.lan', 'x\u0001']) {
      await rejectsWith(register('default', host, 5432), '22023', /^invalid node host ".*": expected an IP address or an RFC 1123 host name$/);
    }
    assert.equal(await nodeCount(), 0);
  });

  it('register_node accepts IP addresses and host names', async () => {
    const { rows } = await register('default', '10.0.0.1', 5432);
    assert.equal(rows[0]?.assigned_group_state, 'init');
    await admin.query("UPDATE pgautofailover.node SET reportedstate = 'single', goalstate = 'single', sysidentifier = 1");
    await register('default', 'node-2.example.com', 5432);
    await register('default', 'fd00::3', 5432);
    assert.equal(await nodeCount(), 3);
  });

  it('update_node_metadata refuses the same hosts and leaves the row unchanged', async () => {
    const before = await admin.query('SELECT nodeid, nodehost FROM pgautofailover.node ORDER BY nodeid');
    const id = before.rows[0]?.nodeid as string;
    for (const host of [INJECTION, '0.0.0.0/0', 'all', 'a\tb']) {
      await rejectsWith(node.query('SELECT pgautofailover.update_node_metadata($1, NULL, $2, NULL)', [id, host]), '22023', /^invalid node host /);
    }
    const afterRows = await admin.query('SELECT nodeid, nodehost FROM pgautofailover.node ORDER BY nodeid');
    assert.deepEqual(afterRows.rows, before.rows);
    await node.query('SELECT pgautofailover.update_node_metadata($1, NULL, $2, NULL)', [id, '10.0.0.11']);
    await node.query('SELECT pgautofailover.update_node_metadata($1, $2, NULL, NULL)', [id, 'renamed']);
    const { rows } = await admin.query('SELECT nodename, nodehost FROM pgautofailover.node WHERE nodeid = $1', [id]);
    assert.deepEqual(rows[0], { nodename: 'renamed', nodehost: '10.0.0.11' });
  });
});

describe('registrations are bounded per group (finding 10)', () => {
  it('refuses a 17th node in a group with a clear error', async () => {
    await admin.query("INSERT INTO pgautofailover.formation (formationid, kind, dbname, opt_secondary) VALUES ('bounded', 'pgsql', 'postgres', true)");
    await register('bounded', '10.1.0.1', 5432);
    await admin.query("UPDATE pgautofailover.node SET reportedstate = 'single', goalstate = 'single', sysidentifier = 1 WHERE formationid = 'bounded'");
    for (let i = 2; i <= 16; i += 1) await register('bounded', `10.1.0.${i}`, 5432);
    await rejectsWith(register('bounded', '10.1.0.17', 5432), '54000',
      /^group 0 of formation "bounded" already has 16 nodes, the most a group may have$/);
    const { rows } = await admin.query<{ n: string }>("SELECT count(*) AS n FROM pgautofailover.node WHERE formationid = 'bounded'");
    assert.equal(Number(rows[0]?.n), 16);
  });
});

describe('formation_uri (finding 14)', () => {
  it('percent-encodes hosts, the dbname and query values, and brackets IPv6', async () => {
    await admin.query("INSERT INTO pgautofailover.formation (formationid, kind, dbname) VALUES ('uri', 'pgsql', 'my db/x')");
    // Rows written before hosts were validated (or by a superuser) are still encoded.
    await admin.query(`INSERT INTO pgautofailover.node (formationid, nodeid, groupid, nodename, nodehost, nodeport, goalstate, reportedstate, sysidentifier)
      VALUES ('uri', 901, 0, 'a', 'a,b@c/d?e#f', 5432, 'single', 'single', 7), ('uri', 902, 0, 'b', 'fd00::1', 5433, 'wait_standby', 'wait_standby', 7),
             ('uri', 903, 0, 'c', 'node-3.lan', 5434, 'wait_standby', 'wait_standby', 7)`);
    const { rows } = await node.query<{ uri: string }>("SELECT pgautofailover.formation_uri('uri', 'default', 'verify-full', '/etc/ssl/ca&x.crt', '') AS uri");
    assert.equal(rows[0]?.uri,
      'postgres://a%2Cb%40c%2Fd%3Fe%23f:5432,[fd00::1]:5433,node-3.lan:5434/my%20db%2Fx?target_session_attrs=read-write&sslmode=verify-full&sslrootcert=/etc/ssl/ca%26x.crt');
    const none = await node.query<{ uri: string | null }>("SELECT pgautofailover.formation_uri('uri', 'other') AS uri");
    assert.equal(none.rows[0]?.uri ?? null, null);
  });
});
