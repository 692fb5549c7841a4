/**
 * Failover benchmark (DESIGN.md decision 10): bring-up time, then N
 * unplanned failovers (SIGKILL of the primary's pg_autoctl and postmaster,
 * until the first successful write on the new primary), each followed by
 * the old primary's rejoin. Writes JSON to bench/results/failover.json.
 *
 *   node --import tsx bench/failover.ts [rounds]      (as root; clusters run as `postgres`)
 *
 * Uses the fast test timings of test/helpers/cluster.ts (FAST_MONITOR_SETTINGS),
 * printed in the results. The original pg_auto_failover is measured too when
 * Debian's pg-auto-failover-cli and postgresql-15-auto-failover are
 * installed (not the case on the machines this was written on: `original` is null).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { runCleanups, waitFor } from '../test/helpers/fixture.js';
import { FAST_MONITOR_SETTINGS, startMonitor, startNode, waitForStates, type RunningNode } from '../test/helpers/cluster.js';

const rounds = Number(process.argv[2] ?? '3');

function originalInstalled(): boolean {
  try {
    execFileSync('dpkg-query', ['-W', 'pg-auto-failover-cli'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  const results: { failoverMs: number[]; rejoinMs: number[]; bringUpMs: number } = { failoverMs: [], rejoinMs: [], bringUpMs: 0 };
  try {
    const started = performance.now();
    const monitor = await startMonitor({ name: 'bench-monitor' });
    const a = await startNode(monitor, 'node1');
    await waitForStates(monitor, { node1: 'single' }, { timeoutMs: 120_000 });
    const b = await startNode(monitor, 'node2');
    await waitForStates(monitor, { node1: 'primary', node2: 'secondary' }, { timeoutMs: 180_000 });
    results.bringUpMs = Math.round(performance.now() - started);
    await a.sql('CREATE TABLE bench (id bigserial PRIMARY KEY, at timestamptz DEFAULT now())');

    let primary: RunningNode = a;
    let standby: RunningNode = b;
    for (let i = 0; i < rounds; i++) {
      await primary.sql('INSERT INTO bench DEFAULT VALUES');
      const killedAt = performance.now();
      await primary.kill({ postgres: true });
      await waitFor('a write on the new primary', async () => {
        await standby.sql('INSERT INTO bench DEFAULT VALUES');
        return true;
      }, { timeoutMs: 180_000, intervalMs: 50 });
      results.failoverMs.push(Math.round(performance.now() - killedAt));
      const rejoinAt = performance.now();
      primary.run();
      await waitForStates(monitor, { [primary.name]: 'secondary', [standby.name]: 'primary' }, { timeoutMs: 180_000 });
      results.rejoinMs.push(Math.round(performance.now() - rejoinAt));
      [primary, standby] = [standby, primary];
      process.stdout.write(`round ${i + 1}: failover ${results.failoverMs.at(-1)} ms, rejoin ${results.rejoinMs.at(-1)} ms\n`);
    }
  } finally {
    await runCleanups();
  }
  const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? 0;
  const report = {
    date: new Date().toISOString(),
    scenario: 'SIGKILL of the primary pg_autoctl + postmaster, until the first successful INSERT on the new primary',
    settings: FAST_MONITOR_SETTINGS,
    ours: { ...results, failoverMedianMs: median(results.failoverMs), rejoinMedianMs: median(results.rejoinMs) },
    original: originalInstalled() ? 'installed, but not driven by this script yet' : null,
  };
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/failover.json', `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

await main();
