/**
 * Network partitions (DESIGN.md decision 9): the monitor and each node on
 * its own test host (a network namespace on 10.231.0.0/24).
 * - The primary is cut off from both the monitor and the standby: the
 *   standby is promoted, the old primary stops accepting writes on its own
 *   (its write lease runs out), never while the new primary accepts
 *   writes, and after the network heals it rejoins as a standby.
 * - The primary is cut off from the monitor only and still reaches its
 *   standby (the failsafe): the standby vouches for it until the monitor
 *   fails over; then it stops vouching, and the old primary fences before
 *   the new one takes a write.
 * - The monitor alone is cut off: the primary keeps serving on the
 *   standby's vouches.
 * Nothing acknowledged is lost.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { asClusterUser, freePort, run, runCleanups, startBackground, waitFor, type BackgroundProcess } from '../helpers/fixture.js';
import { FAST_MONITOR_SETTINGS, nodeDirs, type NodeDirs } from '../helpers/cluster.js';
import { canMakeTestHosts, makeTestHosts, type TestHost } from '../helpers/netns.js';
import { pgAutoctlArgv } from '../helpers/tool.js';

after(runCleanups);

interface HostNode {
  name: string;
  host: TestHost;
  dirs: NodeDirs;
  port: number;
  procs: BackgroundProcess[];
  start(args: readonly string[]): BackgroundProcess;
  cli(args: readonly string[]): ReturnType<typeof run>;
  /** psql on the node's own Postgres, from inside its host (loopback, trust). */
  psql(sql: string, options?: { timeoutMs?: number; database?: string }): ReturnType<typeof run>;
  output(): string;
}

function hostNode(name: string, host: TestHost, port: number): HostNode {
  const dirs = nodeDirs(name);
  const env = { ...dirs.env, PGDATA: dirs.pgdata };
  const node: HostNode = {
    name, host, dirs, port, procs: [],
    start(args) {
      const proc = startBackground(name, host.exec(asClusterUser(pgAutoctlArgv(args))), { env, asUser: false });
      node.procs.push(proc);
      return proc;
    },
    cli: (args) => run(host.exec(asClusterUser(pgAutoctlArgv(args))), { env, asUser: false, timeoutMs: 30_000 }),
    psql: (sql, options = {}) => run(host.exec(asClusterUser(['psql', '-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
      '-h', '127.0.0.1', '-p', String(port), '-d', options.database ?? 'postgres', '-c', sql])), { asUser: false, timeoutMs: options.timeoutMs ?? 15_000 }),
    output: () => node.procs.map((p, i) => `--- ${name} #${i + 1} ---\n${p.output()}`).join('\n'),
  };
  return node;
}

async function states(monitor: HostNode): Promise<Map<string, { reported: string; goal: string }>> {
  const r = await monitor.psql('SELECT nodename, reportedstate, goalstate FROM pgautofailover.node ORDER BY nodeid', { database: 'pg_auto_failover' });
  const out = new Map<string, { reported: string; goal: string }>();
  if (r.exitCode !== 0) return out;
  for (const line of r.stdout.trim().split('\n')) {
    const [name = '', reported = '', goal = ''] = line.split('|');
    if (name) out.set(name, { reported, goal });
  }
  return out;
}

function converged(map: Map<string, { reported: string; goal: string }>, name: string, state: string): boolean {
  const s = map.get(name);
  return s !== undefined && s.reported === state && s.goal === state;
}

interface Cluster {
  h1: TestHost;
  h2: TestHost;
  h3: TestHost;
  monitor: HostNode;
  node1: HostNode;
  node2: HostNode;
  all: HostNode[];
}

/** Monitor on h1, node1 (primary) on h2, node2 (secondary) on h3, 500 acknowledged rows. */
async function bringUp(all: HostNode[]): Promise<Cluster> {
  const [h1, h2, h3] = makeTestHosts(3);
  if (!h1 || !h2 || !h3) throw new Error('test hosts');
  const monitor = hostNode('monitor', h1, await freePort());
  const node1 = hostNode('node1', h2, await freePort());
  const node2 = hostNode('node2', h3, await freePort());
  all.push(monitor, node1, node2);
  monitor.start(['create', 'monitor', '--pgdata', monitor.dirs.pgdata, '--pgport', String(monitor.port),
    '--hostname', h1.ip, '--no-ssl', '--auth', 'trust', '--run']);
  await waitFor('the monitor', () => monitor.procs[0]?.output().includes('Managing the monitor'), { timeoutMs: 90_000 });
  const settings = Object.entries(FAST_MONITOR_SETTINGS).map(([k, v]) => `UPDATE pgautofailover.settings SET setting = '${v}' WHERE name = '${k}';`).join(' ');
  const set = await run(h1.exec(asClusterUser(['psql', '-X', '-h', '127.0.0.1', '-p', String(monitor.port), '-d', 'pg_auto_failover', '-c', settings])), { asUser: false });
  assert.equal(set.exitCode, 0, set.stderr);
  const monitorUri = `postgres://autoctl_node@${h1.ip}:${monitor.port}/pg_auto_failover?sslmode=prefer`;

  for (const [node, host] of [[node1, h2], [node2, h3]] as const) {
    node.start(['create', 'postgres', '--pgdata', node.dirs.pgdata, '--pgport', String(node.port), '--hostname', host.ip,
      '--name', node.name, '--monitor', monitorUri, '--auth', 'trust', '--ssl-self-signed', '--run']);
    await waitFor(`${node.name} to join`, async () => {
      const s = await states(monitor);
      return node === node1 ? converged(s, 'node1', 'single') : converged(s, 'node1', 'primary') && converged(s, 'node2', 'secondary');
    }, { timeoutMs: 120_000, intervalMs: 500 });
  }

  // Acknowledged writes (synchronous_commit = on, a synchronous standby).
  const create = await node1.psql('CREATE TABLE acked (id int PRIMARY KEY); INSERT INTO acked SELECT generate_series(1, 500)');
  assert.equal(create.exitCode, 0, create.stderr);
  return { h1, h2, h3, monitor, node1, node2, all };
}

/**
 * Probes both nodes until the old primary refuses a write and the standby
 * takes one; the old primary must refuse before the new one accepts.
 */
async function failoverRace(c: Cluster, cutAt: number, what: string): Promise<void> {
  let fencedAt: number | null = null;
  let openedAt: number | null = null;
  const probeOld = (async () => {
    await waitFor('the cut-off primary to stop accepting writes', async () => {
      const r = await c.node1.psql('SET synchronous_commit = local; INSERT INTO acked VALUES (-1) ON CONFLICT DO NOTHING', { timeoutMs: 5_000 }).catch(() => ({ exitCode: 1 }));
      if (r.exitCode !== 0) fencedAt = performance.now();
      return r.exitCode !== 0;
    }, { timeoutMs: 90_000, intervalMs: 100 });
  })();
  const probeNew = (async () => {
    await waitFor('the standby to accept writes', async () => {
      const r = await c.node2.psql('INSERT INTO acked VALUES (100000) ON CONFLICT DO NOTHING', { timeoutMs: 5_000 });
      if (r.exitCode === 0) openedAt = performance.now();
      return r.exitCode === 0;
    }, { timeoutMs: 120_000, intervalMs: 100 });
  })();
  await Promise.all([probeOld, probeNew]);
  assert.ok(fencedAt !== null && openedAt !== null);
  process.stdout.write(`# ${what}: old primary fenced after ${Math.round(fencedAt - cutAt)} ms, new primary writable after ${Math.round(openedAt - cutAt)} ms\n`);
  assert.ok(fencedAt < openedAt, 'the new primary accepted a write while the old one still could');
  const count = await c.node2.psql('SELECT count(*) FROM acked WHERE id BETWEEN 1 AND 500');
  assert.equal(count.stdout.trim(), '500', 'every acknowledged row survives the failover');
}

/**
 * After the heal: node1 follows node2. Cut from everything, node1's local
 * write of the partition reached nobody and is gone; cut from the monitor
 * only, node1 was still the primary while its standby streamed from it, so
 * node1 and node2 agree on it (`sameAsNewPrimary`).
 */
async function rejoined(c: Cluster, options: { sameAsNewPrimary?: boolean } = {}): Promise<void> {
  await waitFor('node1 to rejoin as secondary', async () => {
    const s = await states(c.monitor);
    return converged(s, 'node1', 'secondary') && converged(s, 'node2', 'primary');
  }, { timeoutMs: 150_000, intervalMs: 500 });
  const write = await c.node2.psql('INSERT INTO acked VALUES (100001)');
  assert.equal(write.exitCode, 0, write.stderr);
  await waitFor('the new write on node1', async () => (await c.node1.psql('SELECT count(*) FROM acked WHERE id = 100001')).stdout.trim() === '1',
    { timeoutMs: 30_000 });
  const stray = await c.node1.psql('SELECT count(*) FROM acked WHERE id = -1');
  if (options.sameAsNewPrimary) {
    const onNew = await c.node2.psql('SELECT count(*) FROM acked WHERE id = -1');
    assert.equal(stray.stdout.trim(), onNew.stdout.trim(), 'node1 and node2 agree on what node1 took while it was the primary');
  } else {
    assert.equal(stray.stdout.trim(), '0', 'a write the old primary took locally during the partition must not survive the rejoin');
  }
}

async function dumping(all: HostNode[], fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (error) {
    process.stderr.write(`${all.map((n) => n.output()).join('\n')}\n`);
    throw error;
  }
}

describe('keeper: network partition', { skip: !canMakeTestHosts() && 'needs root and iproute2 to make network namespaces', timeout: 900_000 }, () => {
  it('promotes the standby, fences the cut-off primary, and rejoins it after the network heals', async () => {
    const all: HostNode[] = [];
    await dumping(all, async () => {
      const c = await bringUp(all);
      const cutAt = performance.now();
      c.h2.disconnect();
      await failoverRace(c, cutAt, 'partition');
      c.h2.reconnect();
      await rejoined(c);
    });
  });

  it('primary cut from the monitor only: vouched for until the failover, then fenced before the new primary opens', async () => {
    const all: HostNode[] = [];
    await dumping(all, async () => {
      const c = await bringUp(all);
      const cutAt = performance.now();
      c.h2.cutFrom(c.h1);
      await failoverRace(c, cutAt, 'primary cut from the monitor');
      // The failsafe was at work: the standby vouched, then stopped when it was chosen for promotion.
      await waitFor('the standby to have stopped vouching', () => /No longer vouching for the write lease of node 1: this node's goal is "(prepare_promotion|stop_replication|wait_primary)"/.test(c.node2.output()),
        { timeoutMs: 10_000 });
      assert.match(c.node2.output(), /Vouching for the write lease of node 1/);
      assert.match(c.node1.output(), /The failsafe cannot extend the write lease of this node/);
      c.h2.healFrom(c.h1);
      await rejoined(c, { sameAsNewPrimary: true });
    });
  });

  it('monitor cut from both nodes: the primary keeps serving on the standby\'s vouches, with no failover', async () => {
    const all: HostNode[] = [];
    await dumping(all, async () => {
      const c = await bringUp(all);
      c.h1.disconnect();
      // Well past the lease (3 s) and the unhealthy timeout (3 s) of these tests.
      const until = performance.now() + 15_000;
      let writes = 0;
      while (performance.now() < until) {
        const r = await c.node1.psql(`INSERT INTO acked VALUES (${1000 + writes})`, { timeoutMs: 5_000 });
        assert.equal(r.exitCode, 0, `a write failed ${Math.round(15_000 - (until - performance.now()))} ms into the monitor's absence: ${r.stderr}`);
        writes += 1;
        await new Promise((r2) => setTimeout(r2, 200));
      }
      assert.match(c.node1.output(), /nodes 2 vouched for this primary, write lease extended by the failsafe/);
      c.h1.reconnect();
      await waitFor('both keepers to report again, unchanged', async () => {
        const s = await states(c.monitor);
        return converged(s, 'node1', 'primary') && converged(s, 'node2', 'secondary');
      }, { timeoutMs: 30_000, intervalMs: 200 });
      const replicated = await c.node2.psql(`SELECT count(*) FROM acked WHERE id >= 1000`);
      assert.equal(replicated.stdout.trim(), String(writes));
    });
  });
});
