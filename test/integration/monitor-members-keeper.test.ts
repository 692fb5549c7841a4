/**
 * Issue 13, the keepers' side of standby monitors: a monitor A on
 * 127.0.0.11, a standby monitor B on 127.0.0.12 (`create monitor
 * --standby-of`), and a data primary and standby created with A's
 * SINGLE-host URI. The keepers learn the monitor members
 * (pg_autoctl.monitors, 0600, beside the state file), and both monitor
 * hosts get the health-check rule in the data nodes' pg_hba.conf.
 * 1. A's host crashes (pg_autoctl and Postgres SIGKILLed: connections
 *    reset) and B is promoted (`pg_ctl promote`).
 * 2. C, a standby of B, joins on 127.0.0.11 (another port) and the keepers
 *    learn it; B freezes (SIGSTOP: no answer, no reset) and C is promoted.
 * Each time the keepers find the new monitor through the cached members
 * and report to it (the time is printed, not asserted), store its new
 * epoch, and its brain, whose health grace counts from that epoch, fails
 * nothing over: the data primary stays primary.
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { findFile, onCleanup, pgBinDir, run, runCleanups, waitFor } from '../helpers/fixture.js';
import {
  dumpOnFailure, queryAt, signalPostgres, startMonitor, startNode, waitForStates, type RunningMonitor, type RunningNode,
} from '../helpers/cluster.js';

after(runCleanups);

const query = <T extends pg.QueryResultRow>(port: number, text: string, params: unknown[] = []): Promise<T[]> =>
  queryAt<T>(port, 'pg_auto_failover', text, params);

/** The file `name` under a node's XDG data directory (where the state file lives). */

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
        /**
         * `stop` the writable monitor `from`, promote `to`: the keepers
         * report to `to` (printed, from its promotion), its new epoch
         * reaches them, and its brain fails nothing over.
         */
        const failOver = async (how: string, from: RunningMonitor, to: RunningMonitor, stop: () => Promise<void>): Promise<void> => {
          const [before] = await query<{ epoch: string }>(from.port, 'SELECT max(epoch)::text AS epoch FROM pgautofailover.monitor_epoch');
          await stop();
          const stoppedAt = performance.now();
          const promote = await run([join(pgBinDir(), 'pg_ctl'), 'promote', '-w', '-D', to.dirs.pgdata], { timeoutMs: 60_000 });
          assert.equal(promote.exitCode, 0, `pg_ctl promote: ${promote.stdout}${promote.stderr}`);
          const promotedAt = performance.now();
          const [{ now: writableAt } = { now: '' }] = await query<{ now: string }>(to.port, 'SELECT now()::text AS now');

          // The keepers report to the new monitor: measured from its promotion.
          const reported = new Map<string, number>();
          await waitFor('both keepers to report to the promoted monitor', async () => {
            const rows = await query<{ nodename: string; after: boolean }>(to.port,
              'SELECT nodename, reporttime > $1::timestamptz AS after FROM pgautofailover.node ORDER BY nodeid', [writableAt]);
            for (const r of rows) if (r.after && !reported.has(r.nodename)) reported.set(r.nodename, performance.now() - promotedAt);
            return reported.size === 2 ? true : undefined;
          }, { timeoutMs: 60_000, intervalMs: 100 });
          // Its service leaves standby mode and starts a new epoch (the keepers may report before: the same database).
          const after = await waitFor('the promoted monitor to start a new epoch', async () => {
            const [row] = await query<{ epoch: string; ms: number }>(to.port,
              `SELECT epoch::text, (extract(epoch FROM started_at - $1::timestamptz) * 1000)::float8 AS ms
                 FROM pgautofailover.monitor_epoch ORDER BY epoch DESC LIMIT 1`, [writableAt]);
            return row !== undefined && Number(row.epoch) > Number(before?.epoch) ? row : undefined;
          }, { timeoutMs: 30_000, intervalMs: 100 });
          // And the keepers see it (node_active returns it; they store it).
          for (const node of [node1, node2]) {
            await waitFor(`${node.name} to store epoch ${after.epoch}`, () => {
              const epochFile = findFile(join(node.dirs.root, 'share'), 'pg_autoctl.epoch');
              // The first line is the epoch (a witness line may follow).
              return epochFile !== undefined && readFileSync(epochFile, 'utf8').split('\n')[0] === `epoch ${after.epoch}`;
            }, { timeoutMs: 15_000, intervalMs: 100 });
          }
          process.stdout.write(`# monitor failover (${how}): pg_ctl promote done ${Math.round(promotedAt - stoppedAt)} ms after; `
            + `keepers reported to the new monitor ${[...reported].map(([n, ms]) => `${n} ${Math.round(ms)} ms`).join(', ')} after its promotion; `
            + `epoch ${before?.epoch} -> ${after.epoch} started ${Math.round(after.ms)} ms after it accepted writes, `
            + `stored by both keepers ${Math.round(performance.now() - promotedAt)} ms after the promotion\n`);

          // The new brain counts its health grace from its epoch: the data
          // primary whose reports paused during the switch is not failed over.
          await new Promise((r) => setTimeout(r, 6000));
          const states = await query<{ nodename: string; reportedstate: string; goalstate: string; health: number }>(to.port,
            'SELECT nodename, reportedstate::text, goalstate::text, health FROM pgautofailover.node ORDER BY nodeid');
          assert.deepEqual(states.map((st) => `${st.nodename} ${st.reportedstate}/${st.goalstate}`), ['node1 primary/primary', 'node2 secondary/secondary']);
          assert.ok(states.every((st) => st.health === 1), `the new monitor's health checks pass on both nodes: ${JSON.stringify(states)}`);
          const failovers = await query<{ n: string }>(to.port,
            "SELECT count(*)::text AS n FROM pgautofailover.event WHERE eventtime > $1::timestamptz AND goalstate IN ('draining', 'demote_timeout', 'prepare_promotion', 'stop_replication')",
            [writableAt]);
          assert.equal(failovers[0]?.n, '0', 'no failover decided by the new monitor');
        };

        // 1. The crash of monitor A's host (pg_autoctl and Postgres SIGKILLed: the connections are reset), then the promotion of B.
        await failOver('monitor A killed', a, b, () => a.crash());

        // 2. C, a standby of B on 127.0.0.11 (another port); the keepers learn it.
        const bUri = `postgres://autoctl_node@127.0.0.12:${bPort}/pg_auto_failover?sslmode=prefer`;
        const c = await startMonitor({
          name: 'members-c', hostname: '127.0.0.11', readyText: 'This monitor is a standby of',
          extraArgs: ['--no-ssl', '--auth', 'trust', '--standby-of', bUri],
        });
        standbyOutput = () => `${b.proc.output()}\n--- monitor C output ---\n${c.proc.output()}`;
        await waitFor('monitor C to be a synchronous member', async () => {
          const rows = await query<{ port: number; sync: boolean }>(bPort, 'SELECT port, sync FROM pgautofailover.monitor_member');
          return rows.some((r) => r.port === c.port && r.sync) ? rows : undefined;
        }, { timeoutMs: 60_000, intervalMs: 300 });
        for (const node of [node1, node2]) {
          await waitFor(`${node.name} to cache monitor C`, () => {
            const path = findFile(join(node.dirs.root, 'share'), 'pg_autoctl.monitors');
            return path !== undefined && readFileSync(path, 'utf8').includes(`member 127.0.0.11 ${c.port}\n`);
          }, { timeoutMs: 30_000, intervalMs: 300 });
        }
        // Then B freezes (pg_autoctl and Postgres SIGSTOPped: no answer, no reset), and C is promoted.
        // (Run first on cleanup, LIFO: a frozen process ignores SIGTERM.)
        onCleanup('kill the frozen monitor B', () => b.crash());
        await failOver('monitor B frozen', b, c, async () => {
          b.proc.kill('SIGSTOP');
          await signalPostgres(b.dirs.pgdata, 'SIGSTOP');
        });
        await b.crash();
        process.stdout.write(`# monitor-members-keeper: ${Math.round((performance.now() - startedAt) / 1000)} s\n`);
      } catch (error) {
        process.stderr.write(`--- standby monitor output ---\n${standbyOutput().slice(-30_000)}\n`);
        throw error;
      }
    });
  });
});
