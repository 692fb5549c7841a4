/**
 * Issue 12 #5, JSON logs, with the real CLI: a monitor and a keeper
 * created and run with --log-format json; commands of the keeper with
 * PG_AUTOCTL_LOG_FORMAT; the keeper run again from its configuration
 * (`pg_autoctl.log_format = json`), then back to text with --log-format
 * (option > environment > configuration > text). Every stderr line of a JSON run parses as one object
 * with time, level, pid and msg, and the keeper's lines name its
 * formation, group and node; the default stays the original's text line.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { pathsFor } from '../../src/config/index.js';
import { runCleanups, waitFor } from '../helpers/fixture.js';
import { dumpOnFailure, startMonitor, startNode, waitForStates, type RunningMonitor, type RunningNode } from '../helpers/cluster.js';

after(runCleanups);

const TEXT_LINE = /^\d\d:\d\d:\d\d \d+ (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) /;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

type Line = Record<string, unknown>;

/** Every line parsed as one JSON log object with its required fields (fails on the first that is not). */
function jsonLines(output: string, what: string): Line[] {
  const lines = output.split('\n').filter((l) => l !== '');
  assert.ok(lines.length > 0, `${what}: no output`);
  return lines.map((line) => {
    let record: Line;
    try {
      record = JSON.parse(line) as Line;
    } catch {
      assert.fail(`${what}: not a JSON line: ${line}`);
    }
    assert.match(String(record.time), ISO, line);
    assert.ok(LEVELS.includes(String(record.level)), line);
    assert.equal(typeof record.pid, 'number', line);
    assert.equal(typeof record.msg, 'string', line);
    return record;
  });
}

/** Every line is the original's text line. */
function assertText(output: string, what: string): void {
  const lines = output.split('\n').filter((l) => l !== '');
  assert.ok(lines.length > 0, `${what}: no output`);
  for (const line of lines) assert.match(line, TEXT_LINE, `${what}: ${output}`);
}

/** The part of a node's output written by its latest pg_autoctl process. */
function latestRun(node: RunningNode): string {
  return node.proc.output();
}

describe('JSON logs', { timeout: 300_000 }, () => {
  it('monitor and keeper log JSON lines by option, environment or configuration; text stays the default', async () => {
    const m: RunningMonitor = await startMonitor({ name: 'monitor-json-logs', extraArgs: ['--no-ssl', '--auth', 'trust', '--log-format', 'json'] });
    const nodes: RunningNode[] = [];
    await dumpOnFailure(m, () => nodes, async () => {
      // The monitor, by option: JSON from the first line; its listener's lines say their service.
      const monitorLines = jsonLines(m.proc.output(), 'create monitor --log-format json');
      assert.ok(monitorLines.some((l) => String(l.msg).includes('Managing the monitor')));
      assert.ok(monitorLines.some((l) => l.service === 'listener'), m.proc.output());
      assert.ok(!readFileSync(pathsFor(m.dirs.pgdata, m.dirs.env, '/').config, 'utf8').includes('log_format'));

      // A keeper, by option: its lines name the node once registered.
      const node1 = await startNode(m, 'node1', { extraArgs: ['--auth', 'trust', '--ssl-self-signed', '--log-format', 'json'] });
      nodes.push(node1);
      await waitForStates(m, { node1: 'single' }, { nodes });
      await waitFor('the keeper to log that its service runs', () => latestRun(node1).includes('pg_autoctl service is running'), { timeoutMs: 30_000 });
      let lines = jsonLines(latestRun(node1), 'create postgres --run --log-format json');
      const named = lines.filter((l) => l.node === 'node1');
      assert.ok(named.length > 0, latestRun(node1));
      for (const l of named) {
        assert.equal(l.formation, 'default');
        assert.equal(l.group, 0);
      }
      assert.ok(named.some((l) => l.service === 'node-active' && String(l.msg).includes('pg_autoctl service is running')), latestRun(node1));

      // By environment, and the option over it: a failing command's error line (read once its configuration names the node).
      const byEnv = await node1.cli(['config', 'get', 'pg_autoctl.nosuchkey'], { env: { PG_AUTOCTL_LOG_FORMAT: 'json' } });
      assert.notEqual(byEnv.exitCode, 0);
      const [error] = jsonLines(byEnv.stderr, 'config get of an unknown key with PG_AUTOCTL_LOG_FORMAT=json');
      assert.deepEqual([error?.formation, error?.group, error?.node], ['default', 0, 'node1']);
      assert.match(String(error?.msg), /nosuchkey/);
      const optionOverEnv = await node1.cli(['config', 'get', 'pg_autoctl.nosuchkey', '--log-format', 'text'], { env: { PG_AUTOCTL_LOG_FORMAT: 'json' } });
      assert.equal(optionOverEnv.exitCode, byEnv.exitCode);
      assertText(optionOverEnv.stderr, 'config get --log-format text with PG_AUTOCTL_LOG_FORMAT=json');
      assertText((await node1.cli(['config', 'get', 'pg_autoctl.nosuchkey'])).stderr, 'config get by default');

      // By configuration: written only when not text; the next run logs JSON without option or environment.
      const set = await node1.cli(['config', 'set', 'pg_autoctl.log_format', 'json']);
      assert.equal(set.exitCode, 0, set.stderr);
      assert.equal(set.stdout, 'json\n');
      const configFile = pathsFor(node1.dirs.pgdata, node1.dirs.env, '/').config;
      assert.match(readFileSync(configFile, 'utf8'), /^\[pg_autoctl\]\n(?:[^[].*\n)*log_format = json\n/m);
      const refused = await node1.cli(['config', 'set', 'pg_autoctl.log_format', 'yaml']);
      assert.equal(refused.exitCode, 1);
      await node1.stop();
      node1.run();
      await waitFor('the keeper to run again', () => latestRun(node1).includes('pg_autoctl service is running'), { timeoutMs: 60_000 });
      lines = jsonLines(latestRun(node1), 'run with pg_autoctl.log_format = json');
      assert.ok(lines.some((l) => l.node === 'node1' && l.group === 0 && l.formation === 'default'), latestRun(node1));
      jsonLines((await node1.cli(['config', 'get', 'pg_autoctl.nosuchkey'])).stderr, 'config get with pg_autoctl.log_format = json');
      assertText((await node1.cli(['config', 'get', 'pg_autoctl.nosuchkey'], { env: { PG_AUTOCTL_LOG_FORMAT: 'text' } })).stderr,
        'config get with PG_AUTOCTL_LOG_FORMAT=text over the configuration');

      // Text by option over the configuration: every line of the run is the original's line.
      await node1.stop();
      node1.run(['--log-format', 'text']);
      await waitFor('the keeper to run in text', () => latestRun(node1).includes('pg_autoctl service is running'), { timeoutMs: 60_000 });
      assertText(latestRun(node1), 'run --log-format text');

      // The monitor's own configuration says nothing: its commands log text by default.
      const monitorError = await m.cli(['config', 'get', 'pg_autoctl.nosuchkey']);
      assert.notEqual(monitorError.exitCode, 0);
      assertText(monitorError.stderr, 'monitor config get by default');
    });
  });
});
