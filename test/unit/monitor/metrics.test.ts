/**
 * The monitor service's metrics: failovers classified from real decide()
 * results, a scrape over a node reader, the brain's decisions timed and
 * counted, the leader gauge, the node reads cached and shared, and the
 * example Prometheus files (alert rules, Grafana dashboard) naming only
 * metrics that exist, checked with promtool where it matters.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import type pg from 'pg';
import { pino } from 'pino';
import { createKeeperMetrics } from '../../../src/keeper/metrics.js';
import type { NodeMetricsRow } from '../../../src/monitor-api/index.js';
import type { Brain, GroupOutcome } from '../../../src/monitor/brain.js';
import { cachedNodeReader, createMonitorMetrics, failoversIn, type NodeReader } from '../../../src/monitor/metrics.js';
import { HAS_PROMTOOL, parseExposition, promtool, samplesOf, valueOf } from '../../helpers/exposition.js';
import { DEAD, group, node, requests, run } from '../fsm/fixtures.js';

const log = pino({ level: 'silent' });

function row(nodeId: string, name: string, reported: NodeMetricsRow['reportedState'], goal: NodeMetricsRow['goalState'] = reported,
  extra: Partial<NodeMetricsRow> = {}): NodeMetricsRow {
  return {
    formationId: 'default', groupId: 0, nodeId, name, reportedState: reported, goalState: goal, health: 1,
    reportedLsn: 0x3000060n, reportedTli: 1, reportAgeSeconds: 0.4, healthCheckAgeSeconds: 1.2, ...extra,
  };
}

function fixedReader(rows: () => NodeMetricsRow[] | Error): NodeReader {
  return {
    read: () => { const r = rows(); return r instanceof Error ? Promise.reject(r) : Promise.resolve(r); },
    close: () => Promise.resolve(),
  };
}

describe('failovers counted from decisions', () => {
  it('an unhealthy primary (R8 with 2 nodes, P5a with more) is an unhealthy_primary failover', () => {
    assert.deepEqual(failoversIn(run(group([node(1, 'primary', 'primary', DEAD), node(2, 'secondary')]))), ['unhealthy_primary']);
    assert.deepEqual(failoversIn(run(group([node(1, 'primary', 'primary', DEAD), node(2, 'secondary'), node(3, 'secondary')]))), ['unhealthy_primary']);
  });

  it('operator failover, switchover and promotion are counted by the request kind', () => {
    const two = (): ReturnType<typeof node>[] => [node(1, 'primary'), node(2, 'secondary')];
    assert.deepEqual(failoversIn(run(group(two(), requests({ id: 1, kind: 'failover' })))), ['perform_failover']);
    assert.deepEqual(failoversIn(run(group(two(), requests({ id: 1, kind: 'switchover' })))), ['perform_switchover']);
    assert.deepEqual(failoversIn(run(group(two(), requests({ id: 1, kind: 'promotion', nodeId: 2 })))), ['perform_promotion']);
    const three = [node(1, 'primary'), node(2, 'secondary'), node(3, 'secondary')];
    assert.deepEqual(failoversIn(run(group(three, requests({ id: 1, kind: 'switchover' })))), ['perform_switchover']);
  });

  it('maintenance on the primary and removal of the primary start failovers; the rest does not', () => {
    assert.deepEqual(failoversIn(run(group([node(1, 'primary'), node(2, 'secondary')], requests({ id: 1, kind: 'maintenance', nodeId: 1, enable: true })))), ['maintenance']);
    assert.deepEqual(failoversIn(run(group([node(1, 'primary'), node(2, 'secondary')], requests({ id: 1, kind: 'remove', nodeId: 1, force: false })))), ['primary_removed']);
    // Maintenance on a standby, a steady group, a refused failover: none.
    assert.deepEqual(failoversIn(run(group([node(1, 'primary'), node(2, 'secondary')], requests({ id: 1, kind: 'maintenance', nodeId: 2, enable: true })))), []);
    assert.deepEqual(failoversIn(run(group([node(1, 'primary'), node(2, 'secondary')]))), []);
    assert.deepEqual(failoversIn(run(group([node(1, 'wait_primary'), node(2, 'catchingup')], requests({ id: 1, kind: 'failover' })))), []);
  });
});

describe('monitor metrics', () => {
  it('a scrape shows every node: states, convergence, health, report age, LSN', async () => {
    let rows: NodeMetricsRow[] | Error = [
      row('1', 'node1', 'primary'),
      row('2', 'node2', 'catchingup', 'secondary', { health: 0, reportAgeSeconds: 12.5 }),
      row('3', 'node3', 'wait_standby', 'wait_standby', { formationId: 'other', groupId: 1, health: -1 }),
    ];
    const m = createMonitorMetrics(fixedReader(() => rows), { processMetrics: false });
    let s = parseExposition(await m.scrape());
    assert.equal(valueOf(s, 'pg_autoctl_monitor_up'), 1);
    assert.equal(valueOf(s, 'pg_autoctl_monitor_leader'), 0);
    const n2 = { formation: 'default', group: '0', node_id: '2', name: 'node2' };
    assert.equal(valueOf(s, 'pg_autoctl_monitor_node_state', { ...n2, reported: 'catchingup', assigned: 'secondary' }), 1);
    assert.equal(valueOf(s, 'pg_autoctl_monitor_node_converged', n2), 0);
    assert.equal(valueOf(s, 'pg_autoctl_monitor_node_health', n2), 0);
    assert.equal(valueOf(s, 'pg_autoctl_monitor_node_report_age_seconds', n2), 12.5);
    assert.equal(valueOf(s, 'pg_autoctl_monitor_node_reported_lsn_bytes', n2), 0x3000060);
    assert.equal(valueOf(s, 'pg_autoctl_monitor_node_converged', { name: 'node1' }), 1);
    assert.equal(valueOf(s, 'pg_autoctl_monitor_node_health', { formation: 'other', group: '1', name: 'node3' }), -1);
    assert.equal(samplesOf(s, 'pg_autoctl_monitor_node_state').length, 3);

    // A dropped node's series go; a failed read drops them all and says so.
    rows = [row('1', 'node1', 'primary')];
    s = parseExposition(await m.scrape());
    assert.equal(samplesOf(s, 'pg_autoctl_monitor_node_state').length, 1);
    rows = new Error('statement timeout');
    s = parseExposition(await m.scrape());
    assert.equal(valueOf(s, 'pg_autoctl_monitor_up'), 0);
    assert.equal(samplesOf(s, 'pg_autoctl_monitor_node_state').length, 0);
  });

  it('concurrent scrapes each show every node', async () => {
    let calls = 0;
    const reader: NodeReader = {
      read: () => { calls += 1; return new Promise((r) => setTimeout(() => r([row('1', 'node1', 'primary'), row('2', 'node2', 'secondary')]), calls % 3)); },
      close: () => Promise.resolve(),
    };
    const m = createMonitorMetrics(reader);
    const texts = await Promise.all(Array.from({ length: 40 }, (_, i) => new Promise<string>((resolve, reject) => {
      setTimeout(() => { m.scrape().then(resolve, reject); }, i % 4);
    })));
    for (const text of texts) assert.equal(samplesOf(parseExposition(text), 'pg_autoctl_monitor_node_state').length, 2);
  });

  it('times every decision by outcome and counts the failovers and goals it made', async () => {
    let now = 0;
    const outcomes: Array<GroupOutcome | Error> = [
      { kind: 'decided', decision: run(group([node(1, 'primary', 'primary', DEAD), node(2, 'secondary')])) },
      { kind: 'busy' },
      { kind: 'empty' },
      new Error('lost'),
      { kind: 'decided', decision: run(group([node(1, 'primary'), node(2, 'secondary')], requests({ id: 1, kind: 'switchover' }))) },
    ];
    const brain: Brain = {
      decideGroup: () => {
        now += 0.25 * 1000;
        const o = outcomes.shift();
        return o instanceof Error ? Promise.reject(o) : Promise.resolve(o ?? { kind: 'empty' });
      },
      listGroups: () => Promise.resolve([]),
      nextRecheck: () => 42,
    };
    const m = createMonitorMetrics(fixedReader(() => []), { processMetrics: false, clock: () => now });
    const timed = m.instrumentBrain(brain);
    assert.equal(timed.nextRecheck(), 42);
    assert.equal((await timed.decideGroup('default', 0)).kind, 'decided');
    assert.equal((await timed.decideGroup('default', 0)).kind, 'busy');
    assert.equal((await timed.decideGroup('default', 0)).kind, 'empty');
    await assert.rejects(timed.decideGroup('default', 0), /lost/);
    await timed.decideGroup('default', 0);
    m.setLeader(true);
    const s = parseExposition(await m.scrape());
    assert.equal(valueOf(s, 'pg_autoctl_monitor_leader'), 1);
    for (const [outcome, count] of [['decided', 2], ['busy', 1], ['empty', 1], ['error', 1]] as const) {
      assert.equal(valueOf(s, 'pg_autoctl_monitor_decision_duration_seconds_count', { outcome }), count, outcome);
    }
    assert.equal(valueOf(s, 'pg_autoctl_monitor_decision_duration_seconds_sum', { outcome: 'decided' }), 0.5);
    assert.equal(valueOf(s, 'pg_autoctl_monitor_decision_duration_seconds_bucket', { outcome: 'busy', le: '0.1' }), 0);
    assert.equal(valueOf(s, 'pg_autoctl_monitor_decision_duration_seconds_bucket', { outcome: 'busy', le: '0.25' }), 1);
    const g = { formation: 'default', group: '0' };
    assert.equal(valueOf(s, 'pg_autoctl_monitor_failovers_total', { ...g, reason: 'unhealthy_primary' }), 1);
    assert.equal(valueOf(s, 'pg_autoctl_monitor_failovers_total', { ...g, reason: 'perform_switchover' }), 1);
    assert.equal(valueOf(s, 'pg_autoctl_monitor_failovers_total', { ...g, reason: 'maintenance' }), 0, 'created at 0 for increase()');
    assert.equal(valueOf(s, 'pg_autoctl_monitor_goal_assignments_total', { goal: 'draining' }), 2);
    assert.equal(valueOf(s, 'pg_autoctl_monitor_goal_assignments_total', { goal: 'prepare_promotion' }), 2);
    m.setLeader(false);
    assert.equal(valueOf(parseExposition(await m.scrape()), 'pg_autoctl_monitor_leader'), 0);
  });

  it('reads the node table at most once per period, one query for concurrent scrapes, reconnecting after a failure', async () => {
    let now = 0;
    let connects = 0;
    let queries = 0;
    let fail = false;
    let ended = 0;
    const dbRow = {
      formationid: 'default', groupid: 0, nodeid: '1', nodename: 'node1', reportedstate: 'single', goalstate: 'single', health: 1,
      reportedlsn: '0/3000060', reportedtli: 1, report_age: 0.5, healthcheck_age: 1,
    };
    const connect = (): Promise<pg.Client> => {
      connects += 1;
      return Promise.resolve({
        query: async (text: string) => {
          queries += 1;
          assert.match(text, /FROM pgautofailover\.node/);
          await new Promise((r) => setTimeout(r, 5));
          if (fail) throw new Error('canceling statement due to statement timeout');
          return { rows: [dbRow] };
        },
        on: () => undefined,
        end: () => { ended += 1; return Promise.resolve(); },
      } as unknown as pg.Client);
    };
    const reader = cachedNodeReader(connect, log, { maxAgeMs: 1000, clock: () => now });
    const [a, b, c] = await Promise.all([reader.read(), reader.read(), reader.read()]);
    assert.equal(queries, 1);
    assert.equal(a, b);
    assert.equal(b, c);
    assert.deepEqual(a?.[0], {
      formationId: 'default', groupId: 0, nodeId: '1', name: 'node1', reportedState: 'single', goalState: 'single', health: 1,
      reportedLsn: 0x3000060n, reportedTli: 1, reportAgeSeconds: 0.5, healthCheckAgeSeconds: 1,
    });
    now = 999;
    await reader.read();
    assert.equal(queries, 1, 'served from the cache');
    now = 1000;
    await reader.read();
    assert.equal(queries, 2);
    assert.equal(connects, 1, 'one connection kept');
    fail = true;
    now = 3000;
    await assert.rejects(reader.read(), /statement timeout/);
    assert.equal(ended, 1, 'the failed connection is dropped');
    fail = false;
    await reader.read();
    assert.equal(connects, 2, 'and a new one opened');
    await reader.close();
    assert.equal(ended, 2);
  });

  it('promtool check metrics accepts a full scrape', { skip: !HAS_PROMTOOL && 'promtool is not installed' }, async () => {
    const m = createMonitorMetrics(fixedReader(() => [row('1', 'node1', 'primary'), row('2', 'node2', 'secondary')]));
    const timed = m.instrumentBrain({
      decideGroup: () => Promise.resolve({ kind: 'decided', decision: run(group([node(1, 'primary', 'primary', DEAD), node(2, 'secondary')])) }),
      listGroups: () => Promise.resolve([]),
      nextRecheck: () => null,
    });
    await timed.decideGroup('default', 0);
    m.setLeader(true);
    const r = await promtool(['check', 'metrics'], await m.scrape());
    assert.equal(r.exitCode, 0, r.output);
  });
});

/** Every metric name a scrape of a keeper or a monitor can show (histograms with their series suffixes). */
async function exportedNames(): Promise<Set<string>> {
  const keeper = createKeeperMetrics({
    identity: () => ({ formation: 'default', group: 0, nodeId: 1, name: 'n' }),
    state: () => 'primary', assigned: () => 'primary', leaseRemainingSeconds: () => 1, postgresUp: () => true, monitorReachable: () => true,
  }, () => Promise.resolve({ bytes: 0, seconds: 0, streaming: false }));
  const monitor = createMonitorMetrics(fixedReader(() => []));
  const names = new Set<string>();
  for (const registry of [keeper.registry, monitor.registry]) {
    for (const metric of await registry.getMetricsAsJSON()) {
      names.add(metric.name);
      if (String(metric.type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${metric.name}${suffix}`);
    }
  }
  return names;
}

/** The pg_autoctl_ metric names a PromQL expression uses (label values and strings left out). */
function namesIn(expr: string): string[] {
  return [...expr.replace(/"(?:[^"\\]|\\.)*"/g, '""').matchAll(/\bpg_autoctl_[a-z0-9_]+/g)].map((m) => m[0]);
}

describe('example files', () => {
  it('the alert rules are valid (promtool check rules) and use exported metrics only', async (t) => {
    const text = readFileSync('docs/examples/alerts.yml', 'utf8');
    const used = [...text.matchAll(/^\s*expr:\s*(.+)$/gm)].flatMap((m) => namesIn(m[1] ?? ''));
    assert.ok(used.length >= 10, 'the rules use the metrics');
    const names = await exportedNames();
    for (const name of used) assert.ok(names.has(name), `alerts.yml uses ${name}, which no scrape shows`);
    if (!HAS_PROMTOOL) {
      t.diagnostic('promtool is not installed: rules syntax not checked');
      return;
    }
    const r = await promtool(['check', 'rules', 'docs/examples/alerts.yml']);
    assert.equal(r.exitCode, 0, r.output);
    assert.match(r.output, /SUCCESS: \d+ rules found/);
  });

  it('the alert rules fire when they should (promtool test rules)', { skip: !HAS_PROMTOOL && 'promtool is not installed' }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgaf-rules-'));
    try {
      const m = 'job="pg_autoctl_monitor",instance="m:8007"';
      const k = 'job="pg_autoctl_keeper",instance="n2:8008"';
      const file = join(dir, 'alerts-test.yml');
      writeFileSync(file, `rule_files:
  - ${resolve('docs/examples/alerts.yml')}
evaluation_interval: 15s
tests:
  - interval: 15s
    input_series:
      - series: 'pg_autoctl_monitor_failovers_total{${m},formation="default",group="0",reason="unhealthy_primary"}'
        values: '0 0 0 1 1 1'
      - series: 'pg_autoctl_monitor_failovers_total{${m},formation="default",group="0",reason="perform_failover"}'
        values: '0 0 0 1 1 1'
      - series: 'pg_autoctl_monitor_leader{${m}}'
        values: '1 1 1 0x10'
      - series: 'pg_autoctl_monitor_node_report_age_seconds{${m},formation="default",group="0",node_id="2",name="node2"}'
        values: '1 1 1 61+15x10'
      - series: 'pg_autoctl_node_replication_lag_bytes{${k}}'
        values: '0 20000000x30'
    alert_rule_test:
      - eval_time: 1m
        alertname: PgAutoctlFailover
        exp_alerts:
          - exp_labels: {severity: warning, job: pg_autoctl_monitor, instance: "m:8007", formation: default, group: "0", reason: unhealthy_primary}
            exp_annotations:
              summary: "A failover started in formation default, group 0 (unhealthy_primary)"
      - eval_time: 30s
        alertname: PgAutoctlNoLeadingMonitor
        exp_alerts: []
      - eval_time: 2m
        alertname: PgAutoctlNoLeadingMonitor
        exp_alerts:
          - exp_labels: {severity: critical}
            exp_annotations:
              summary: "No monitor service holds the leader row"
              description: "Every scraped monitor service is a hot spare or between sessions: no group decisions are made."
      - eval_time: 2m
        alertname: PgAutoctlNodeNotReporting
        exp_alerts:
          - exp_labels: {severity: warning, job: pg_autoctl_monitor, instance: "m:8007", formation: default, group: "0", node_id: "2", name: node2}
            exp_annotations:
              summary: "Node node2 has not reported to the monitor for 2m 16s"
      - eval_time: 2m
        alertname: PgAutoctlReplicationLag
        exp_alerts: []
      - eval_time: 6m
        alertname: PgAutoctlReplicationLag
        exp_alerts:
          - exp_labels: {severity: warning, job: pg_autoctl_keeper, instance: "n2:8008"}
            exp_annotations:
              summary: "Standby n2:8008 is 19.07MiB behind"
`);
      const r = await promtool(['test', 'rules', file]);
      assert.equal(r.exitCode, 0, r.output);
      assert.match(r.output, /SUCCESS/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the Grafana dashboard parses and queries exported metrics only', async () => {
    const dashboard = JSON.parse(readFileSync('docs/examples/grafana-dashboard.json', 'utf8')) as {
      panels: Array<{ type: string; title: string; targets?: Array<{ expr: string }> }>;
      annotations?: { list: Array<{ expr?: string }> };
    };
    const exprs = [
      ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
      ...(dashboard.annotations?.list ?? []).flatMap((a) => (a.expr === undefined ? [] : [a.expr])),
    ];
    const used = new Set(exprs.flatMap(namesIn));
    const names = await exportedNames();
    for (const name of used) assert.ok(names.has(name), `the dashboard uses ${name}, which no scrape shows`);
    for (const wanted of ['pg_autoctl_monitor_node_state', 'pg_autoctl_monitor_failovers_total', 'pg_autoctl_node_replication_lag_bytes', 'pg_autoctl_node_state']) {
      assert.ok(used.has(wanted), `the dashboard shows ${wanted}`);
    }
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) assert.ok((panel.targets ?? []).length > 0, `panel "${panel.title}" has a query`);
  });
});
