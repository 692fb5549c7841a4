/**
 * `pg_autoctl do fsm step` and `do fsm nodes get|set`: the nodes file
 * (src/config/nodes-file.ts) parsing and checks, the renderings against
 * what 2.0 prints, and the handlers' refusals on real files in a
 * temporary XDG tree (the step itself runs in
 * test/integration/do-fsm-step.test.ts).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { registerDoCommands } from '../../../src/cli/commands/do.js';
import { renderResult } from '../../../src/cli/command.js';
import type { CommandContext } from '../../../src/cli/context.js';
import { fsmNodesGet, fsmNodesSet, fsmStep } from '../../../src/cli/do/fsm.js';
import { helpTree } from '../../../src/cli/program.js';
import { fsmStepRendering, nodesFileRendering } from '../../../src/cli/render/do.js';
import { AutoctlCommand } from '../../../src/cli/tree.js';
import { AutoctlError } from '../../../src/common/errors.js';
import { createLogger } from '../../../src/common/log.js';
import {
  MONITOR_DISABLED, NODES_FILE_MAX_COUNT, NODES_FILE_MODE, defaultKeeperConfig, ensurePaths, initialKeeperState, nodesFileJson, otherNodesOf,
  parseNodesArray, writeConfigFile, writeKeeperState, writePidFile, type AutoctlPaths,
} from '../../../src/config/index.js';

const node = (id: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  node_id: id, node_name: `node${id}`, node_host: '127.0.0.1', node_port: 5500 + id, node_lsn: '0/3000060', node_is_primary: false, ...extra,
});

/** What 2.0's `do fsm nodes get` printed for the three nodes below (recorded on this machine with /usr/bin/pg_autoctl). */
const RECORDED_NODES = [
  { node_id: 1, node_name: 'node1', node_host: '127.0.0.1', node_port: 5501, node_lsn: '0/3000060', node_is_primary: true },
  { node_id: 3, node_name: 'a-much-longer-node-name', node_host: 'localhost.localdomain', node_port: 15502, node_lsn: '0/0', node_is_primary: false },
  { node_id: 2, node_name: 'node2', node_host: '127.0.0.1', node_port: 5502, node_lsn: '1A/FF000000', node_is_primary: false },
];
const RECORDED_GET = [
  '                   Name |  Node |                   Host:Port |              TLI: LSN | Primary?',
  '------------------------+-------+-----------------------------+-   -------------------+---------',
  '                  node1 |     1 |              127.0.0.1:5501 |          0: 0/3000060 |      yes',
  '                  node2 |     2 |              127.0.0.1:5502 |        0: 1A/FF000000 |       no',
  'a-much-longer-node-name |     3 | localhost.localdomain:15502 |                0: 0/0 |       no',
  '', ''].join('\n');
/** 2.0 with no nodes (no file yet): the columns have no width. */
const RECORDED_EMPTY = [
  'Name | Node | Host:Port |              TLI: LSN | Primary?',
  '-+--+--+-   -------------------+---------',
  '', ''].join('\n');

function parseError(text: string): AutoctlError {
  try {
    parseNodesArray(text);
  } catch (error) {
    assert.ok(error instanceof AutoctlError, String(error));
    assert.equal(error.message.split('\n').length, 1, error.message);
    assert.match(error.message, /^Failed to parse nodes array: /);
    return error;
  }
  assert.fail(`no error for ${text}`);
}

describe('do fsm nodes: the nodes file', () => {
  it('parses a nodes array, sorted by node id, extra keys ignored', () => {
    const nodes = parseNodesArray(JSON.stringify([node(3), node(1, { node_is_primary: true, comment: 'x' }), node(2, { node_lsn: '1A/FF000000' })]));
    assert.deepEqual(nodes.map((n) => n.nodeId), [1, 2, 3]);
    assert.deepEqual(nodes[0], { nodeId: 1, name: 'node1', host: '127.0.0.1', port: 5501, lsn: 0x3000060n, isPrimary: true });
    assert.equal(nodes[1]?.lsn, (0x1An << 32n) | 0xFF000000n);
    assert.deepEqual(nodesFileJson(nodes)[1], node(2, { node_lsn: '1A/FF000000' }));
    assert.deepEqual(otherNodesOf(nodes, 2).map((n) => n.nodeId), [1, 3]);
    assert.deepEqual(parseNodesArray('[]'), []);
  });

  it('refuses bad input with a one-line error naming the problem', () => {
    assert.match(parseError('nope').message, /not valid JSON .*expected a JSON array of objects \[\{node_id:number/);
    assert.match(parseError('{"node_id": 1}').message, /the JSON value is not an array/);
    assert.match(parseError('[1]').message, /entry 1 is not an object/);
    assert.match(parseError('[{"node_id": 1}]').message, /entry 1 has no "node_name"/);
    for (const [key, value, problem] of [
      ['node_id', '1', /"node_id" that is not an integer/],
      ['node_id', 1.5, /"node_id" that is not an integer/],
      ['node_port', '5432', /"node_port" that is not an integer/],
      ['node_name', 7, /"node_name" that is not a string/],
      ['node_is_primary', 'yes', /"node_is_primary" that is not true or false/],
    ] as const) {
      const without = node(2, { [key]: value });
      assert.match(parseError(JSON.stringify([node(1), without])).message, new RegExp(`entry 2 has a ${problem.source}`));
    }
    const missing = node(1);
    delete missing.node_is_primary;
    assert.match(parseError(JSON.stringify([missing])).message, /entry 1 has no "node_is_primary"/);
    assert.match(parseError(JSON.stringify([node(1, { node_lsn: 'xx' })])).message, /node_lsn "xx", which is not an LSN/);
    assert.match(parseError(JSON.stringify([node(1, { node_port: 70000 })])).message, /node_port 70000: expected 1 to 65535/);
    assert.match(parseError(JSON.stringify([node(1, { node_host: '' })])).message, /empty "node_host"/);
    assert.match(parseError(JSON.stringify([node(0)])).message, /node_id 0: node ids are positive/);
    assert.match(parseError(JSON.stringify([node(1, { node_is_primary: true }), node(2, { node_is_primary: true })])).message,
      /more than one node is listed with "node_is_primary" true \(nodes 1, 2\)/);
    assert.match(parseError(JSON.stringify([node(4), node(4)])).message, /more than one node is listed with node_id 4/);
    const many = Array.from({ length: NODES_FILE_MAX_COUNT + 1 }, (_, i) => node(i + 1));
    assert.match(parseError(JSON.stringify(many)).message, /contains 129 nodes: pg_autoctl supports up to 128 nodes/);
    assert.equal(parseError('nope').code, 'BAD_ARGS');
    assert.throws(() => parseNodesArray('nope', 'INTERNAL'), (e: unknown) => e instanceof AutoctlError && e.code === 'INTERNAL');
  });
});

describe('do fsm: renderings', () => {
  it('prints the nodes as 2.0 does, also with no nodes; --json in the file format', () => {
    const nodes = parseNodesArray(JSON.stringify(RECORDED_NODES));
    assert.equal(nodesFileRendering.text(nodes), RECORDED_GET);
    assert.equal(nodesFileRendering.text([]), RECORDED_EMPTY);
    assert.deepEqual(JSON.parse(renderResult({ kind: 'data', data: nodes }, nodesFileRendering, true)),
      [...RECORDED_NODES].sort((a, b) => a.node_id - b.node_id));
  });

  it('prints a step as "<current before> ➜ <assigned after>", text even with --json', () => {
    assert.equal(fsmStepRendering.text({ from: 'wait_standby', to: 'catchingup' }), 'wait_standby ➜ catchingup\n');
    assert.equal(renderResult({ kind: 'data', data: { from: 'single', to: 'single' } }, fsmStepRendering, true), 'single ➜ single\n');
  });

  it('registers step and nodes get|set under do fsm', () => {
    const tree = new AutoctlCommand('pg_autoctl');
    registerDoCommands(tree, { PG_AUTOCTL_DEBUG: '1' });
    const help = helpTree(tree);
    for (const line of [
      '    step    Make a state transition if instructed by the monitor\n',
      '  + nodes   Manually manage the keeper\'s nodes list\n',
      '  pg_autoctl do fsm nodes\n    get  Get the list of nodes from file (see --disable-monitor)\n'
        + '    set  Set the list of nodes to file (see --disable-monitor)\n',
    ]) assert.ok(help.includes(line), `missing "${line}" in\n${help}`);
  });
});

describe('do fsm: handlers on real files', () => {
  const root = mkdtempSync(join(tmpdir(), 'pgaf-do-fsm-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const env = { XDG_CONFIG_HOME: join(root, 'config'), XDG_DATA_HOME: join(root, 'data'), XDG_RUNTIME_DIR: join(root, 'run') };
  const ctx: CommandContext = { log: createLogger({ level: 'fatal' }), env, cwd: root, json: false };
  let count = 0;

  async function keeper(monitor: string): Promise<{ pgdata: string; paths: AutoctlPaths }> {
    const pgdata = join(root, `node${++count}`);
    const paths = await ensurePaths(pgdata, env, root);
    const config = defaultKeeperConfig({ pgdata, hostname: '127.0.0.1' });
    await writeConfigFile(paths.config, { ...config, pg_autoctl: { ...config.pg_autoctl, monitor } });
    await writeKeeperState(paths.state, initialKeeperState({ currentRole: 'single', assignedRole: 'single', currentNodeId: 2 }));
    return { pgdata, paths };
  }

  async function rejects(promise: Promise<unknown>, code: string, message: RegExp): Promise<AutoctlError> {
    try {
      await promise;
    } catch (error) {
      assert.ok(error instanceof AutoctlError, String(error));
      assert.equal(error.code, code, error.message);
      assert.match(error.message, message);
      return error;
    }
    assert.fail('expected an error');
  }

  it('nodes set checks and stores the array (0600), prints the other nodes; get prints them all', async () => {
    const { pgdata, paths } = await keeper(MONITOR_DISABLED);
    const empty = await fsmNodesGet({ pgdata }, ctx);
    assert.equal(empty.kind === 'data' && renderResult(empty, nodesFileRendering, false), RECORDED_EMPTY);

    const input = join(root, 'nodes.json');
    const text = JSON.stringify(RECORDED_NODES);
    writeFileSync(input, text);
    const set = await fsmNodesSet({ pgdata }, ctx, [input]);
    assert.ok(set.kind === 'data');
    assert.deepEqual(set.data.map((n) => n.nodeId), [1, 3], 'this node (id 2) is left out');
    assert.equal(readFileSync(paths.nodesJson, 'utf8'), text);
    assert.equal(statSync(paths.nodesJson).mode & 0o777, NODES_FILE_MODE);
    const got = await fsmNodesGet({ pgdata }, ctx);
    assert.equal(got.kind === 'data' && renderResult(got, nodesFileRendering, false), RECORDED_GET);

    // Bad input changes nothing.
    for (const [content, problem] of [['nope', /not valid JSON/], [JSON.stringify([node(1), node(1)]), /node_id 1/]] as const) {
      writeFileSync(input, content);
      const error = await rejects(fsmNodesSet({ pgdata }, ctx, [input]), 'INTERNAL', problem);
      assert.ok(error.message.endsWith(`(in "${input}")`), error.message);
      assert.equal(readFileSync(paths.nodesJson, 'utf8'), text);
    }
    await rejects(fsmNodesSet({ pgdata }, ctx, [join(root, 'missing.json')]), 'BAD_ARGS', /Failed to read nodes array from file ".*missing\.json": it does not exist/);
    await rejects(fsmNodesSet({ pgdata }, ctx, []), 'BAD_ARGS', /USAGE: do fsm nodes set/);
    assert.equal(readFileSync(paths.nodesJson, 'utf8'), text);

    // A broken nodes file is reported by get.
    writeFileSync(paths.nodesJson, '[');
    await rejects(fsmNodesGet({ pgdata }, ctx), 'INTERNAL', /Failed to read the nodes file ".*nodes\.json": Failed to parse nodes array: not valid JSON/);

    // The step is for nodes with a monitor.
    const step = await rejects(fsmStep({ pgdata }, ctx), 'BAD_CONFIG',
      /^The command `pg_autoctl do fsm step` is meant to step as instructed by the monitor, and the monitor is disabled\.$/);
    assert.equal(step.hint, 'see `pg_autoctl do fsm assign` instead');
  });

  it('nodes get|set refuse a node with a monitor; step refuses while its service runs', async () => {
    const { pgdata, paths } = await keeper('postgres://autoctl_node@127.0.0.1:1/pg_auto_failover');
    const input = join(root, 'nodes-ok.json');
    writeFileSync(input, JSON.stringify([node(1)]));
    await rejects(fsmNodesGet({ pgdata }, ctx), 'BAD_CONFIG', /^The monitor is not disabled, there's no nodes file$/);
    await rejects(fsmNodesSet({ pgdata }, ctx, [input]), 'BAD_CONFIG', /^The monitor is not disabled, there's no nodes file$/);
    assert.equal(existsSync(paths.nodesJson), false);

    // A live process in the pid file (our parent stands for the service).
    const pidFile = { pid: process.ppid, pgdata, version: '2.0', schemaVersion: '2.0', semId: 0, services: [] };
    await writePidFile(paths.pid, pidFile);
    const error = await rejects(fsmStep({ pgdata }, ctx), 'BAD_STATE',
      new RegExp(`^pg_autoctl is running for ".*" with pid ${process.ppid} \\(pid file ".*"\\): do fsm step runs the keeper itself, stop the service first$`));
    assert.match(error.hint ?? '', /pg_autoctl stop/);
    assert.match(readFileSync(paths.pid, 'utf8'), new RegExp(`^${process.ppid}\n`), 'the running service keeps its pid file');
  });
});
