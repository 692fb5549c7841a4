/**
 * Issue 13, the keepers' side of a standby monitor: a monitor on
 * 127.0.0.11, a standby monitor on 127.0.0.12 (`create monitor
 * --standby-of`), and a data primary and standby created with the
 * monitor's SINGLE-host URI. The keepers learn the monitor members
 * (pg_autoctl.monitors, 0600, beside the state file), and both monitor
 * hosts get the health-check rule in the data nodes' pg_hba.conf. The
 * primary monitor's host then crashes (pg_autoctl and Postgres SIGKILLed)
 * and the standby monitor is promoted (`pg_ctl promote`): the keepers find
 * it through the cached members and report to it (the time is printed,
 * not asserted), and its brain, whose health grace counts from its new
 * epoch, fails nothing over: the data primary stays primary.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { pgBinDir, run, runCleanups, waitFor } from '../helpers/fixture.js';
import { dumpOnFailure, queryAt, startMonitor, startNode, waitForStates, type RunningNode } from '../helpers/cluster.js';

after(runCleanups);

const query = <T extends pg.QueryResultRow>(port: number, text: string, params: unknown[] = []): Promise<T[]> =>
  queryAt<T>(port, 'pg_auto_failover', text, params);

/** The file `name` under a node's XDG data directory (where the state file lives). */
function findFile(root: string, name: string): string | undefined {
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    const path = join(root, entry.name);
    if (entry.isDirectory()) {
      const found = findFile(path, name);
      if (found !== undefined) return found;
    } else if (entry.name === name) {
      return path;
    }
  }
  return undefined;
}

const monitorRules = (pgdata: string): string[] => readFileSync(join(pgdata, 'pg_hba.conf'), 'utf8').split('\n')
  .filter((l) => /^host\S*\s+"?postgres"?\s+"?pgautofailover_monitor"?\s/.test(l));

describe('keepers and monitor members', { timeout: 240_000 }, () => {
  it('learn the standby monitor from a one-host URI, open their HBA to it, and report to it once promoted', async () => {
    const startedAt = performance.now();
    const nodes: RunningNode[] = [];
    const a = await startMonitor({ name: 'members-a', hostname: '127.0.0.11' });
    let standbyOutput = (): string => '';
    await dumpOnFailure(a, () => nodes, async () => {
      try {
        assert.match(a.uri, /@127\.0\.0\.11:\d+\//, a.uri);
        const singleUri = a.uri;

        // The standby monitor on 127.0.0.12.
        const b = await startMonitor({
          name: 'members-b', hostname: '127.0.0.12', readyText: 'This monitor is a standby of',
          extraArgs: ['--no-ssl', '--auth', 'trust', '--standby-of', singleUri],
        });
        const bPort = b.port;
        const bDirs = b.dirs;
        standbyOutput = () => b.proc.output();

        // The data nodes, with the one-host URI of monitor A.
        const nodeArgs = (host: string): string[] => ['--auth', 'trust', '--ssl-self-signed', '--hostname', host];
        const node1 = await startNode(a, 'node1', { extraArgs: nodeArgs('127.0.0.2') });
        nodes.push(node1);
        await waitForStates(a, { node1: 'single' }, { nodes });
        const node2 = await startNode(a, 'node2', { extraArgs: nodeArgs('127.0.0.3') });
        nodes.push(node2);

        // The standby monitor streams synchronously from A.
        await waitFor('the standby monitor to be a synchronous member', async () => {
          if (b.proc.exited()) throw new Error(`the standby monitor exited:\n${b.proc.output()}`);
          const rows = await query<{ hostname: string; port: number; sync: boolean }>(a.port,
            'SELECT hostname, port, sync FROM pgautofailover.monitor_member ORDER BY member_id');
          return rows.length === 2 && rows.some((r) => r.hostname === '127.0.0.12' && r.sync) ? rows : undefined;
        }, { timeoutMs: 90_000, intervalMs: 300 });
        await waitForStates(a, { node1: 'primary', node2: 'secondary' }, { nodes, timeoutMs: 90_000 });

        // Each keeper caches both members, in a 0600 file beside its state file.
        const expected = `member 127.0.0.11 ${a.port}\nmember 127.0.0.12 ${bPort}\n`;
        for (const node of [node1, node2]) {
          const file = await waitFor(`${node.name} to cache the monitor members`, () => {
            const path = findFile(join(node.dirs.root, 'share'), 'pg_autoctl.monitors');
            return path !== undefined && readFileSync(path, 'utf8').endsWith(expected) ? path : undefined;
          }, { timeoutMs: 30_000, intervalMs: 300 });
          assert.equal(statSync(file).mode & 0o777, 0o600, file);
          assert.ok(statSync(join(file, '..', 'pg_autoctl.state')).isFile(), 'beside the state file');
          assert.equal(readFileSync(file, 'utf8'), `monitor 127.0.0.11:${a.port}\n${expected}`);
          // Both monitor hosts may health-check the node.
          const rules = await waitFor(`${node.name}'s HBA rules for both monitor hosts`, () => {
            const found = monitorRules(node.dirs.pgdata);
            return found.some((l) => l.includes('127.0.0.11/32')) && found.some((l) => l.includes('127.0.0.12/32')) ? found : undefined;
          }, { timeoutMs: 15_000, intervalMs: 300 });
          assert.ok(rules.every((l) => /\strust\b/.test(l)), rules.join('\n'));
          assert.match(node.output(), /The monitor has 2 members: 127\.0\.0\.11:\d+, 127\.0\.0\.12:\d+/);
        }
        const epochBefore = await query<{ epoch: string }>(a.port, 'SELECT max(epoch)::text AS epoch FROM pgautofailover.monitor_epoch');

        // The crash of monitor A's host, then the promotion of B.
        await a.crash();
        const crashedAt = performance.now();
        const promote = await run([join(pgBinDir(), 'pg_ctl'), 'promote', '-w', '-D', bDirs.pgdata], { timeoutMs: 60_000 });
        assert.equal(promote.exitCode, 0, `pg_ctl promote: ${promote.stdout}${promote.stderr}`);
        const promotedAt = performance.now();
        const [{ now: writableAt } = { now: '' }] = await query<{ now: string }>(bPort, 'SELECT now()::text AS now');

        // The keepers report to B: measured from B accepting writes.
        const reported = new Map<string, number>();
        await waitFor('both keepers to report to the promoted monitor', async () => {
          const rows = await query<{ nodename: string; after: boolean }>(bPort,
            'SELECT nodename, reporttime > $1::timestamptz AS after FROM pgautofailover.node ORDER BY nodeid', [writableAt]);
          for (const r of rows) if (r.after && !reported.has(r.nodename)) reported.set(r.nodename, performance.now() - promotedAt);
          return reported.size === 2 ? true : undefined;
        }, { timeoutMs: 60_000, intervalMs: 100 });
        // B's service leaves standby mode and starts a new epoch (the keepers may report before: the same database).
        const epochAfter = await waitFor('the promoted monitor to start a new epoch', async () => {
          const [row] = await query<{ epoch: string; ms: number }>(bPort,
            `SELECT epoch::text, (extract(epoch FROM started_at - $1::timestamptz) * 1000)::float8 AS ms
               FROM pgautofailover.monitor_epoch ORDER BY epoch DESC LIMIT 1`, [writableAt]);
          return row !== undefined && Number(row.epoch) > Number(epochBefore[0]?.epoch) ? row : undefined;
        }, { timeoutMs: 30_000, intervalMs: 100 });
        // And the keepers see it (node_active returns it; they store it).
        for (const node of [node1, node2]) {
          await waitFor(`${node.name} to store epoch ${epochAfter.epoch}`, () => {
            const epochFile = findFile(join(node.dirs.root, 'share'), 'pg_autoctl.epoch');
            return epochFile !== undefined && readFileSync(epochFile, 'utf8') === `epoch ${epochAfter.epoch}\n`;
          }, { timeoutMs: 15_000, intervalMs: 100 });
        }
        const epochSeenAt = performance.now() - promotedAt;
        process.stdout.write(`# monitor failover: pg_ctl promote took ${Math.round(promotedAt - crashedAt)} ms after the crash of monitor A; `
          + `keepers reported to monitor B after ${[...reported].map(([n, ms]) => `${n} ${Math.round(ms)} ms`).join(', ')}; `
          + `epoch ${epochBefore[0]?.epoch} -> ${epochAfter.epoch} started ${Math.round(epochAfter.ms)} ms after B accepted writes, `
          + `stored by both keepers ${Math.round(epochSeenAt)} ms after the promotion\n`);

        // B's brain counts its health grace from the new epoch: the data
        // primary whose reports paused during the switch is not failed over.
        await new Promise((r) => setTimeout(r, 6000));
        const states = await query<{ nodename: string; reportedstate: string; goalstate: string; health: number }>(bPort,
          'SELECT nodename, reportedstate::text, goalstate::text, health FROM pgautofailover.node ORDER BY nodeid');
        assert.deepEqual(states.map((s) => `${s.nodename} ${s.reportedstate}/${s.goalstate}`), ['node1 primary/primary', 'node2 secondary/secondary']);
        assert.ok(states.every((s) => s.health === 1), `B's health checks pass on both nodes: ${JSON.stringify(states)}`);
        const failovers = await query<{ n: string }>(bPort,
          "SELECT count(*)::text AS n FROM pgautofailover.event WHERE eventtime > $1::timestamptz AND goalstate IN ('draining', 'demote_timeout', 'prepare_promotion', 'stop_replication')",
          [writableAt]);
        assert.equal(failovers[0]?.n, '0', 'no failover decided by the new monitor');
        process.stdout.write(`# monitor-members-keeper: ${Math.round((performance.now() - startedAt) / 1000)} s\n`);
      } catch (error) {
        process.stderr.write(`--- standby monitor output ---\n${standbyOutput().slice(-30_000)}\n`);
        throw error;
      }
    });
  });
});
