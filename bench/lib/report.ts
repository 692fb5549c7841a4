/** The Markdown table of a bench run: medians, ratio ours/theirs, and the issue's goals checked. */
import type { FlavorResult } from '../run.js';

export interface Report { date: string; machine: { cpus: number; loadAverage: number[] }; results: FlavorResult[] }

const median = (xs: number[]): number | null => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  // The upper median: with two rounds, the slower one.
  return s[Math.floor(s.length / 2)] ?? null;
};

interface Row { label: string; unit: string; get: (r: FlavorResult) => number | null; goal?: (ours: number, theirs: number | null) => boolean; goalText?: string }

const ROWS: Row[] = [
  { label: 'bring-up (monitor + single + secondary)', unit: 'ms', get: (r) => r.bringUpMs.total || null },
  { label: 'crash failover: first write on the other node (median)', unit: 'ms', get: (r) => median(r.failover.map((f) => f.firstWriteMs)),
    goal: (o, t) => o <= 5000 && t !== null && t / o >= 10, goalText: '≤ 5000 ms and ≥ 10× faster' },
  { label: 'crash failover: worst round', unit: 'ms', get: (r) => (r.failover.length ? Math.max(...r.failover.map((f) => f.firstWriteMs)) : null) },
  { label: 'rejoin of the crashed node (median)', unit: 'ms', get: (r) => median(r.failover.map((f) => f.rejoinMs)) },
  { label: 'switchover: new primary writable (median)', unit: 'ms', get: (r) => median(r.switchover.map((s) => s.writableMs)),
    goal: (o) => o <= 500, goalText: '≤ 500 ms' },
  { label: 'switchover: both converged (median)', unit: 'ms', get: (r) => median(r.switchover.map((s) => s.convergedMs)),
    goal: (o) => o <= 2000, goalText: '≤ 2000 ms' },
  { label: 'RSS of pg_autoctl per node (max of 2)', unit: 'MB', get: (r) => (r.memory.node.length ? Math.max(...r.memory.node.map((m) => m.rssMb)) : null),
    goal: (o) => o <= 60, goalText: '≤ 60 MB' },
  { label: 'PSS of pg_autoctl per node (max of 2)', unit: 'MB', get: (r) => (r.memory.node.length ? Math.max(...r.memory.node.map((m) => m.pssMb)) : null) },
  { label: 'RSS of the monitor\'s pg_autoctl', unit: 'MB', get: (r) => r.memory.monitor.rssMb || null, goal: (o) => o <= 60, goalText: '≤ 60 MB' },
  { label: 'PSS of the monitor\'s pg_autoctl', unit: 'MB', get: (r) => r.memory.monitor.pssMb || null },
  { label: 'acknowledged writes lost', unit: '', get: (r) => r.writes.lost, goal: (o) => o === 0, goalText: '0' },
  { label: 'noise: unwanted failovers', unit: '', get: (r) => r.noise?.unwantedFailovers ?? null, goal: (o) => o === 0, goalText: '0' },
  { label: 'noise: unwanted fencings / Postgres restarts', unit: '', get: (r) => r.noise?.unwantedFencings ?? null, goal: (o) => o === 0, goalText: '0' },
  { label: 'noise: nodes marked unhealthy', unit: '', get: (r) => r.noise?.unhealthyEvents ?? null },
  { label: 'noise: longest time without an acknowledged write', unit: 'ms', get: (r) => r.noise?.longestWriteGapMs ?? null },
];

const fmt = (x: number | null, unit: string): string => (x === null ? '–' : `${x}${unit ? ` ${unit}` : ''}`);

export function renderMarkdown(report: Report): string {
  const ours = report.results.find((r) => r.flavor === 'ours');
  const theirs = report.results.find((r) => r.flavor === 'pgaf-2.0');
  const lines = [
    `Run of ${report.date} (${report.machine.cpus} CPUs, load average ${report.machine.loadAverage.join(' ')}), both at default settings.`,
    '',
    '| measure | ours | pg_auto_failover 2.0 | ours/theirs | goal | met |',
    '|---|---:|---:|---:|---|:---:|',
  ];
  for (const row of ROWS) {
    const o = ours ? row.get(ours) : null;
    const t = theirs ? row.get(theirs) : null;
    const ratio = o !== null && t !== null && t !== 0 ? (Math.round((o / t) * 100) / 100).toString() : '–';
    const met = row.goal === undefined || o === null ? '' : row.goal(o, t) ? 'yes' : 'NO';
    lines.push(`| ${row.label} | ${fmt(o, row.unit)} | ${fmt(t, row.unit)} | ${ratio} | ${row.goalText ?? ''} | ${met} |`);
  }
  for (const r of report.results) {
    lines.push('', `${r.flavor} (${r.version}) settings: ${Object.entries(r.settings).map(([k, v]) => `${k}=${v}`).join(', ') || '–'}`);
    lines.push(`${r.flavor} rounds: failover ${JSON.stringify(r.failover)}, switchover ${JSON.stringify(r.switchover)}`);
    if (r.noise) lines.push(`${r.flavor} noise: ${JSON.stringify(r.noise)}`);
    if (r.error) lines.push(`${r.flavor} FAILED: ${r.error}`);
  }
  return `${lines.join('\n')}\n`;
}
