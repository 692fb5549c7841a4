/**
 * Prometheus metrics against real components (docs/integrations.md
 * "Prometheus metrics"): a monitor with `--http-port` and a primary and a
 * standby, each keeper with its listener. Their /metrics pass `promtool
 * check metrics` and show the cluster as it is; then a real Prometheus,
 * run with docs/examples/prometheus.yml and alerts.yml (only the ports
 * changed, and a 1 s scrape interval), scrapes all three and answers
 * queries on a keeper metric and a monitor metric; a failover requested
 * through the monitor then shows in pg_autoctl_monitor_failovers_total.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort, makeTempDir, runCleanups, startBackground, waitFor, writeClusterFile } from '../helpers/fixture.js';
import {
  dumpOnFailure, startMonitor, startPrimaryAndStandby, waitForStates, type RunningMonitor, type RunningNode,
} from '../helpers/cluster.js';
import { HAS_PROMTOOL, parseExposition, promtool, samplesOf, valueOf, type Sample } from '../helpers/exposition.js';

after(runCleanups);

const PROMETHEUS = '/usr/bin/prometheus';

async function scrape(port: number): Promise<{ text: string; samples: Sample[]; contentType: string }> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET /metrics on port ${port}: ${res.status} ${text}`);
  return { text, samples: parseExposition(text), contentType: res.headers.get('content-type') ?? '' };
}

interface PromVector { metric: Record<string, string>; value: [number, string] }

async function promQuery(port: number, query: string): Promise<PromVector[]> {
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(query)}`, { signal: AbortSignal.timeout(5000) });
  const body = await res.json() as { status: string; data?: { resultType: string; result: PromVector[] }; error?: string };
  if (body.status !== 'success' || body.data === undefined) throw new Error(`query ${query}: ${body.error ?? res.status}`);
  return body.data.result;
}

describe('Prometheus metrics', { timeout: 180_000 }, () => {
  it('keepers and monitor serve valid metrics that a real Prometheus scrapes', async () => {
    const started = performance.now();
    const monitorHttp = await freePort();
    const m: RunningMonitor = await startMonitor({ name: 'monitor-metrics', extraArgs: ['--no-ssl', '--auth', 'trust', '--http-port', String(monitorHttp)] });
    const nodes: RunningNode[] = [];
    await dumpOnFailure(m, () => nodes, async () => {
      const [node1, node2] = await startPrimaryAndStandby(m, nodes);
      assert.ok(node1.httpPort !== null && node2.httpPort !== null);
      const ports = { monitor: monitorHttp, node1: node1.httpPort, node2: node2.httpPort };

      // The keepers: state, lease, Postgres, monitor link, lag of the standby.
      const k1 = await waitFor('node1 metrics showing primary', async () => {
        const r = await scrape(ports.node1);
        return samplesOf(r.samples, 'pg_autoctl_node_state', { state: 'primary', assigned: 'primary' }).length === 1 ? r : undefined;
      }, { timeoutMs: 15_000 });
      assert.match(k1.contentType, /^text\/plain; version=0\.0\.4/);
      assert.equal(valueOf(k1.samples, 'pg_autoctl_node_info', { formation: 'default', group: '0', name: 'node1' }), 1);
      assert.equal(valueOf(k1.samples, 'pg_autoctl_node_postgres_up'), 1);
      assert.equal(valueOf(k1.samples, 'pg_autoctl_node_monitor_reachable'), 1);
      assert.equal(valueOf(k1.samples, 'pg_autoctl_node_converged'), 1);
      assert.ok(valueOf(k1.samples, 'pg_autoctl_node_lease_remaining_seconds') > 0, 'the primary holds a write lease');
      assert.equal(valueOf(k1.samples, 'pg_autoctl_node_replication_lag_bytes'), 0);
      assert.ok(valueOf(k1.samples, 'pg_autoctl_node_active_duration_seconds_count', { result: 'ok' }) > 0);
      assert.ok(valueOf(k1.samples, 'pg_autoctl_node_transitions_total', { from: 'wait_primary', to: 'primary' }) >= 1);
      assert.ok(valueOf(k1.samples, 'pg_autoctl_node_transition_duration_seconds_count', { from: 'wait_primary', to: 'primary' }) >= 1);

      await node1.sql('CREATE TABLE metrics_t AS SELECT g FROM generate_series(1, 1000) g');
      const k2 = await waitFor('node2 metrics showing a streaming secondary', async () => {
        const r = await scrape(ports.node2);
        return samplesOf(r.samples, 'pg_autoctl_node_state', { state: 'secondary', assigned: 'secondary' }).length === 1
          && samplesOf(r.samples, 'pg_autoctl_node_replication_streaming')[0]?.value === 1 ? r : undefined;
      }, { timeoutMs: 15_000 });
      assert.equal(valueOf(k2.samples, 'pg_autoctl_node_lease_remaining_seconds'), 0);
      const lag = valueOf(k2.samples, 'pg_autoctl_node_replication_lag_bytes');
      assert.ok(lag >= 0 && lag < 16 * 1024 * 1024, `standby lag ${lag} bytes`);
      assert.ok(valueOf(k2.samples, 'pg_autoctl_node_replication_lag_seconds') >= 0);

      // The monitor: every node, the leader, the decisions.
      const mon = await waitFor('monitor metrics showing both nodes', async () => {
        const r = await scrape(ports.monitor);
        const ok = samplesOf(r.samples, 'pg_autoctl_monitor_node_state', { name: 'node1', reported: 'primary', assigned: 'primary' }).length === 1
          && samplesOf(r.samples, 'pg_autoctl_monitor_node_state', { name: 'node2', reported: 'secondary', assigned: 'secondary' }).length === 1;
        return ok ? r : undefined;
      }, { timeoutMs: 15_000 });
      assert.equal(valueOf(mon.samples, 'pg_autoctl_monitor_up'), 1);
      assert.equal(valueOf(mon.samples, 'pg_autoctl_monitor_leader'), 1);
      assert.equal(valueOf(mon.samples, 'pg_autoctl_monitor_node_health', { name: 'node1' }), 1);
      assert.ok(valueOf(mon.samples, 'pg_autoctl_monitor_node_report_age_seconds', { name: 'node2' }) < 10);
      assert.ok(valueOf(mon.samples, 'pg_autoctl_monitor_decision_duration_seconds_count', { outcome: 'decided' }) > 0);
      assert.ok(valueOf(mon.samples, 'pg_autoctl_monitor_goal_assignments_total', { goal: 'secondary' }) >= 1);
      assert.equal(valueOf(mon.samples, 'pg_autoctl_monitor_failovers_total', { formation: 'default', group: '0', reason: 'perform_failover' }), 0);

      // Only GET and HEAD.
      const post = await fetch(`http://127.0.0.1:${ports.monitor}/metrics`, { method: 'POST', body: 'x', signal: AbortSignal.timeout(5000) });
      assert.equal(post.status, 405);
      assert.equal(post.headers.get('allow'), 'GET, HEAD');
      const head = await fetch(`http://127.0.0.1:${ports.node1}/metrics`, { method: 'HEAD', signal: AbortSignal.timeout(5000) });
      assert.equal(head.status, 200);
      assert.equal(await head.text(), '');

      // A scrape storm is served from the one-second cache.
      const storm = await Promise.all(Array.from({ length: 20 }, () => scrape(ports.monitor)));
      assert.ok(storm.every((r) => valueOf(r.samples, 'pg_autoctl_monitor_up') === 1));

      if (HAS_PROMTOOL) {
        for (const [what, text] of [['node1', k1.text], ['node2', k2.text], ['monitor', mon.text]] as const) {
          const r = await promtool(['check', 'metrics'], text);
          assert.equal(r.exitCode, 0, `promtool check metrics on ${what}: ${r.output}`);
        }
      }

      // A real Prometheus with the example configuration.
      const dir = makeTempDir('pgaf-prometheus-');
      const example = readFileSync('docs/examples/prometheus.yml', 'utf8');
      const config = example
        .replace(/^(\s*)(scrape_interval|evaluation_interval): 15s$/gm, '$1$2: 1s')
        .replace(/^(\s*)scrape_timeout: 5s$/m, '$1scrape_timeout: 1s')
        .replace('127.0.0.1:8007', `127.0.0.1:${ports.monitor}`)
        .replace('127.0.0.1:8008', `127.0.0.1:${ports.node1}`)
        .replace('127.0.0.1:8009', `127.0.0.1:${ports.node2}`);
      assert.notEqual(config, example);
      writeClusterFile(join(dir, 'prometheus.yml'), config);
      writeClusterFile(join(dir, 'alerts.yml'), readFileSync('docs/examples/alerts.yml', 'utf8'));
      const promPort = await freePort();
      const prometheus = startBackground('prometheus', [PROMETHEUS, `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn']);
      try {
        await waitFor('Prometheus to see its three targets up', async () => {
          if (prometheus.exited()) throw new Error(`prometheus exited:\n${prometheus.output()}`);
          const up = await promQuery(promPort, 'up');
          return up.length === 3 && up.every((v) => v.value[1] === '1') ? up : undefined;
        }, { timeoutMs: 30_000, intervalMs: 500 });
        const keeperSeries = await waitFor('a keeper metric in Prometheus', async () => {
          const r = await promQuery(promPort, 'pg_autoctl_node_state{job="pg_autoctl_keeper"}');
          return r.length === 2 ? r : undefined;
        }, { timeoutMs: 15_000, intervalMs: 500 });
        assert.deepEqual(keeperSeries.map((v) => v.metric.state).sort(), ['primary', 'secondary']);
        const monitorSeries = await promQuery(promPort, 'pg_autoctl_monitor_node_state{job="pg_autoctl_monitor"}');
        assert.deepEqual(monitorSeries.map((v) => v.metric.name).sort(), ['node1', 'node2']);
        const lagSeries = await promQuery(promPort, 'pg_autoctl_node_replication_lag_bytes');
        assert.equal(lagSeries.length, 2);
        const rules = await fetch(`http://127.0.0.1:${promPort}/api/v1/rules`).then((r) => r.json()) as { data: { groups: Array<{ rules: Array<{ health: string; name: string }> }> } };
        const loaded = rules.data.groups.flatMap((g) => g.rules);
        assert.ok(loaded.length >= 10, 'alerts.yml loaded');

        // A failover requested from the monitor: counted by reason, seen by Prometheus.
        await m.sql('SELECT pgautofailover.perform_failover(\'default\', 0)');
        await waitForStates(m, { node1: 'secondary', node2: 'primary' }, { nodes, timeoutMs: 60_000 });
        const counted = await waitFor('the failover in Prometheus', async () => {
          const r = await promQuery(promPort, 'pg_autoctl_monitor_failovers_total{reason="perform_failover"}');
          return r.length === 1 && r[0]?.value[1] === '1' ? r : undefined;
        }, { timeoutMs: 15_000, intervalMs: 500 });
        assert.deepEqual({ formation: counted[0]?.metric.formation, group: counted[0]?.metric.group }, { formation: 'default', group: '0' });
        const promoted = await waitFor('node2 primary in Prometheus', async () => {
          const r = await promQuery(promPort, 'pg_autoctl_node_state{state="primary",assigned="primary"}');
          return r.length === 1 ? r : undefined;
        }, { timeoutMs: 15_000, intervalMs: 500 });
        assert.equal(promoted[0]?.metric.instance, `127.0.0.1:${ports.node2}`);
        for (const rule of loaded) assert.equal(rule.health, 'ok', `rule ${rule.name}`);
      } finally {
        prometheus.kill('SIGTERM');
        await prometheus.wait(20_000).catch(() => prometheus.kill('SIGKILL'));
      }
      process.stderr.write(`metrics-prometheus: ${Math.round((performance.now() - started) / 1000)} s\n`);
    });
  });
});
