/**
 * Keeper hooks (src/keeper/hooks.ts) driven by fake keeper events, running
 * real programs: arguments and environment, which events run which hook,
 * a slow hook never delaying the emitter, the timeout (SIGTERM then SIGKILL
 * of the process group), per-kind ordering, the bounded queue, reload.
 * Also the `[hooks]` configuration keys.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pino, type Logger } from 'pino';
import {
  defaultKeeperConfig, parseKeeperConfig, planKeeperReload, renderKeeperConfig, setConfigValue, type KeeperConfig,
} from '../../../src/config/index.js';
import type { NodeState } from '../../../src/fsm/states.js';
import { createKeeperEvents } from '../../../src/keeper/events.js';
import { hookArguments, watchKeeperHooks, type HookRunnerOptions } from '../../../src/keeper/hooks.js';
import type { KeeperRuntime } from '../../../src/keeper/runtime.js';

const root = mkdtempSync(join(tmpdir(), 'pgaf-hooks-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirCount = 0;

interface LogRecord { level: number; msg: string }
const INFO = 30;
const WARN = 40;

/** A pino logger keeping its records in memory. */
function memoryLogger(): { log: Logger; records: LogRecord[]; text: () => string } {
  const records: LogRecord[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => { records.push(JSON.parse(line) as LogRecord); } });
  return { log, records, text: () => records.map((r) => r.msg).join('\n') };
}

/** An executable sh script in a fresh directory; `$DIR` in the text is that directory. */
function script(body: string): { path: string; dir: string } {
  const dir = join(root, `hook${++dirCount}`);
  mkdirSync(dir);
  const path = join(dir, 'hook.sh');
  writeFileSync(path, `#!/bin/sh\nDIR='${dir}'\n${body}\n`);
  chmodSync(path, 0o755);
  return { path, dir };
}

interface Fake {
  rt: KeeperRuntime;
  logs: ReturnType<typeof memoryLogger>;
  unwatch: () => void;
  setHooks(hooks: Partial<KeeperConfig['hooks']>): void;
  transition(from: NodeState, to: NodeState, ok?: boolean): void;
}

/** A keeper runtime with just what the hooks read, watched by the hooks. */
function fakeKeeper(hooks: Partial<KeeperConfig['hooks']>, state: NodeState = 'secondary', options: HookRunnerOptions = {}): Fake {
  const base = defaultKeeperConfig({ pgdata: '/srv/pg/node_a', hostname: '127.0.0.7' });
  const config: KeeperConfig = {
    ...base,
    pg_autoctl: { ...base.pg_autoctl, name: 'node_a', formation: 'default', group: 0 },
    postgresql: { ...base.postgresql, port: 6543 },
    hooks: { ...base.hooks, ...hooks },
  };
  const logs = memoryLogger();
  const rt = {
    config,
    state: { currentNodeId: 7, currentGroup: 0, currentRole: state, assignedRole: state },
    env: { PATH: process.env.PATH, KEEPER_ONLY: 'kept' },
    log: logs.log,
    events: createKeeperEvents(),
  } as unknown as KeeperRuntime;
  const unwatch = watchKeeperHooks(rt, options);
  return {
    rt, logs, unwatch,
    setHooks(h) { rt.config = { ...rt.config, hooks: { ...rt.config.hooks, ...h } }; },
    transition(from, to, ok = true) {
      rt.events.emit('transition-end', { from, to, ms: 1, ok });
      if (ok) rt.state = { ...rt.state, currentRole: to, assignedRole: to };
    },
  };
}

async function waitUntil<T>(what: string, check: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const lines = (file: string): string[] => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l !== '') : []);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('keeper hooks', () => {
  it('runs on_role_change with the event, the states and the node as arguments and environment, and logs its output and status', async () => {
    const hook = script([
      'printf "%s\\n" "$@" > "$DIR/args"',
      'env | grep -E "^(PG_AUTOCTL_|PGDATA=|KEEPER_ONLY=)" | sort > "$DIR/env"',
      'echo "repointing the pooler"',
      'echo "something odd" >&2',
      'exit 3',
    ].join('\n'));
    const k = fakeKeeper({ on_role_change: hook.path });
    k.transition('secondary', 'prepare_promotion');
    await waitUntil('the hook to end', () => k.logs.text().includes('exited with status 3'));
    assert.deepEqual(lines(join(hook.dir, 'args')), ['role_change', 'prepare_promotion', 'secondary', '7', 'node_a', 'default', '0']);
    assert.deepEqual(lines(join(hook.dir, 'env')), [
      'KEEPER_ONLY=kept',
      'PGDATA=/srv/pg/node_a',
      'PG_AUTOCTL_FORMATION=default',
      'PG_AUTOCTL_GROUP=0',
      'PG_AUTOCTL_HOOK_EVENT=role_change',
      'PG_AUTOCTL_HOOK_REASON=',
      'PG_AUTOCTL_NEW_STATE=prepare_promotion',
      'PG_AUTOCTL_NODE_HOST=127.0.0.7',
      'PG_AUTOCTL_NODE_ID=7',
      'PG_AUTOCTL_NODE_NAME=node_a',
      'PG_AUTOCTL_NODE_PORT=6543',
      'PG_AUTOCTL_OLD_STATE=secondary',
    ]);
    const find = (text: string): LogRecord | undefined => k.logs.records.find((r) => r.msg.includes(text));
    assert.equal(find(`Running hook on_role_change "${hook.path}" for role_change "secondary" -> "prepare_promotion"`)?.level, INFO);
    assert.equal(find('Hook on_role_change: repointing the pooler')?.level, INFO);
    assert.equal(find('Hook on_role_change: something odd')?.level, WARN);
    assert.match(find('exited with status 3')?.msg ?? '', new RegExp(`^Hook on_role_change "${hook.path}" for role_change "secondary" -> "prepare_promotion" exited with status 3 after \\d+ ms$`));
    assert.equal(find('exited with status 3')?.level, WARN);
    k.unwatch();
  });

  it('runs on_role_change only for completed transitions that change the state', async () => {
    const hook = script('echo "$1 $3 $2" >> "$DIR/calls"');
    const k = fakeKeeper({ on_role_change: hook.path });
    k.transition('secondary', 'prepare_promotion', false);
    k.transition('secondary', 'secondary');
    k.rt.events.emit('started');
    k.rt.events.emit('node-active', { ms: 3, ok: true, goal: 'primary' });
    k.transition('secondary', 'catchingup');
    await waitUntil('the hook to end', () => k.logs.text().includes('exited with status 0'));
    assert.deepEqual(lines(join(hook.dir, 'calls')), ['role_change secondary catchingup']);
    k.unwatch();
  });

  it('runs on_start and on_stop with the current state, and on_role_change when the keeper fences (demote_timeout)', async () => {
    const hook = script('echo "$PG_AUTOCTL_HOOK_EVENT $2 $3 [$PG_AUTOCTL_HOOK_REASON]" >> "$DIR/calls"');
    const k = fakeKeeper({ on_start: hook.path, on_stop: hook.path }, 'primary');
    k.rt.events.emit('started');
    await waitUntil('on_start', () => lines(join(hook.dir, 'calls')).length === 1);
    k.rt.events.emit('stopping', { reason: 'the service stopped' });
    await waitUntil('on_stop', () => lines(join(hook.dir, 'calls')).length === 2);
    // No on_role_change configured: fencing runs nothing.
    k.rt.events.emit('fenced', { reason: 'write lease ran out' });
    k.setHooks({ on_role_change: hook.path });
    k.rt.events.emit('fenced', { reason: 'write lease ran out' });
    await waitUntil('fenced', () => lines(join(hook.dir, 'calls')).length === 3);
    // Fenced while promoting (goal writable, state not): the state stays.
    k.rt.state = { ...k.rt.state, currentRole: 'prepare_promotion' };
    k.rt.events.emit('fenced', { reason: 'no write lease' });
    await waitUntil('fenced again', () => lines(join(hook.dir, 'calls')).length === 4);
    assert.deepEqual(lines(join(hook.dir, 'calls')), [
      'start primary primary []',
      'stop primary primary [the service stopped]',
      'fenced demote_timeout primary [write lease ran out]',
      'fenced prepare_promotion prepare_promotion [no write lease]',
    ]);
    k.unwatch();
  });

  it('never delays the keeper: a hook sleeping 30 s runs beside the following transitions, and its timeout kills its process group', async () => {
    // Ignores SIGTERM (so does its child, the sleep): only SIGKILL ends them.
    const slow = script('trap "" TERM\necho $$ > "$DIR/pid"\nsleep 30 &\necho $! > "$DIR/child"\nwait $!\necho finished');
    const k = fakeKeeper({ on_role_change: slow.path, timeout: 1 }, 'secondary', { killGraceMs: 300 });
    const t0 = performance.now();
    k.transition('secondary', 'prepare_promotion');
    k.transition('prepare_promotion', 'stop_replication');
    k.transition('stop_replication', 'wait_primary');
    const emitMs = performance.now() - t0;
    assert.ok(emitMs < 1000, `three transitions took ${emitMs} ms to notify`);
    const pid = await waitUntil('the hook to start', () => lines(join(slow.dir, 'child')).length === 1 && Number(lines(join(slow.dir, 'pid'))[0]));
    const child = Number(lines(join(slow.dir, 'child'))[0]);
    assert.ok(alive(pid) && alive(child), 'the slow hook runs while the keeper went on');
    await waitUntil('the timeout', () => k.logs.text().includes('terminated by signal SIGKILL after'), 10_000);
    const text = k.logs.text();
    assert.match(text, /Hook on_role_change ".*" did not finish within 1 s: stopping its process group \(pid \d+\) with SIGTERM/);
    assert.match(text, /Hook on_role_change ".*": sending SIGKILL to its process group/);
    assert.match(text, /for role_change "secondary" -> "prepare_promotion" was terminated by signal SIGKILL after \d+ ms \(timeout\)/);
    await waitUntil('the sleep to be killed too', () => !alive(child));
    assert.ok(!text.includes('Hook on_role_change: finished'));
    // The next runs of the queue start after it, in order.
    await waitUntil('the second run', () => k.logs.text().includes('Running hook on_role_change') && k.logs.records.filter((r) => r.msg.startsWith('Running hook')).length >= 2);
    assert.match(k.logs.records.filter((r) => r.msg.startsWith('Running hook'))[1]?.msg ?? '', /"prepare_promotion" -> "stop_replication"/);
    k.unwatch();
    // Stop the remaining runs: each is killed by its own timeout within ~1.3 s.
    await waitUntil('the queue to end', () => k.logs.records.filter((r) => r.msg.includes('(timeout)')).length === 3, 15_000);
  });

  it('serialises the runs of one kind in event order', async () => {
    const hook = script('echo "start $2" >> "$DIR/calls"\nsleep 0.2\necho "end $2" >> "$DIR/calls"');
    const k = fakeKeeper({ on_role_change: hook.path });
    k.transition('secondary', 'prepare_promotion');
    k.transition('prepare_promotion', 'stop_replication');
    k.transition('stop_replication', 'wait_primary');
    await waitUntil('three runs', () => lines(join(hook.dir, 'calls')).length === 6);
    assert.deepEqual(lines(join(hook.dir, 'calls')), [
      'start prepare_promotion', 'end prepare_promotion',
      'start stop_replication', 'end stop_replication',
      'start wait_primary', 'end wait_primary',
    ]);
    k.unwatch();
  });

  it('drops the oldest waiting run when too many wait, and logs it', async () => {
    const hook = script('echo "$2" >> "$DIR/calls"\nsleep 0.3');
    const k = fakeKeeper({ on_role_change: hook.path }, 'single', { maxPending: 2 });
    k.transition('single', 'wait_primary');
    k.transition('wait_primary', 'primary');
    k.transition('primary', 'draining');
    k.transition('draining', 'demoted');
    k.transition('demoted', 'catchingup');
    await waitUntil('the queue to end', () => k.logs.records.filter((r) => r.msg.includes('exited with status 0')).length === 3);
    assert.deepEqual(lines(join(hook.dir, 'calls')), ['wait_primary', 'demoted', 'catchingup']);
    const dropped = k.logs.records.filter((r) => r.msg.includes('dropped the run'));
    assert.deepEqual(dropped.map((r) => [r.level, r.msg]), [
      [WARN, 'Hook on_role_change: dropped the run for role_change "wait_primary" -> "primary", 2 runs are already waiting'],
      [WARN, 'Hook on_role_change: dropped the run for role_change "primary" -> "draining", 2 runs are already waiting'],
    ]);
    k.unwatch();
  });

  it('takes the hook program and timeout of the configuration at event time (reload), and survives a program that cannot run', async () => {
    const first = script('echo first >> "$DIR/calls"');
    const second = script('echo second >> "$DIR/calls"');
    const k = fakeKeeper({ on_role_change: first.path });
    k.transition('secondary', 'catchingup');
    k.setHooks({ on_role_change: join(root, 'no-such-hook') });
    k.transition('catchingup', 'secondary');
    k.setHooks({ on_role_change: second.path });
    k.transition('secondary', 'report_lsn');
    await waitUntil('the third run', () => lines(join(second.dir, 'calls')).length === 1);
    assert.deepEqual(lines(join(first.dir, 'calls')), ['first']);
    assert.match(k.logs.text(), new RegExp(`Hook on_role_change "${join(root, 'no-such-hook')}" for role_change "catchingup" -> "secondary" could not be run: spawn \\S+ ENOENT`));
    k.setHooks({ on_role_change: '' });
    k.transition('report_lsn', 'secondary');
    k.unwatch();
    k.setHooks({ on_role_change: second.path });
    k.transition('secondary', 'catchingup');
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(lines(join(second.dir, 'calls')), ['second'], 'no run when unset, nor once unwatched');
  });

  it('passes arguments in the documented order', () => {
    assert.deepEqual(hookArguments({
      event: 'fenced', newState: 'demote_timeout', oldState: 'primary', nodeId: 3, nodeName: 'n', formation: 'f', group: 2,
      nodeHost: 'h', nodePort: 1, pgdata: '/p',
    }), ['fenced', 'demote_timeout', 'primary', '3', 'n', 'f', '2']);
  });
});

describe('[hooks] configuration', () => {
  const base = defaultKeeperConfig({ pgdata: '/srv/pg/data', hostname: 'db1' });

  it('writes no [hooks] section while the hooks are unset (2.0 files unchanged)', () => {
    const text = renderKeeperConfig(base);
    assert.ok(!text.includes('[hooks]'));
    assert.ok(!text.includes('on_role_change'));
    const parsed = parseKeeperConfig(text);
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.value.hooks, { on_role_change: '', on_start: '', on_stop: '', timeout: 10 });
  });

  it('writes the keys that are set, and reads them back', () => {
    let config = base;
    for (const [key, value] of [['hooks.on_role_change', '/usr/local/bin/repoint'], ['hooks.timeout', '30']] as const) {
      const set = setConfigValue(config, key, value);
      assert.ok(set.ok, set.ok ? '' : set.errors);
      config = set.value;
    }
    const text = renderKeeperConfig(config);
    assert.ok(text.endsWith('[hooks]\non_role_change = /usr/local/bin/repoint\ntimeout = 30\n'), text);
    const parsed = parseKeeperConfig(text);
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.value.hooks, { on_role_change: '/usr/local/bin/repoint', on_start: '', on_stop: '', timeout: 30 });
    const unset = setConfigValue(config, 'hooks.on_role_change', '');
    assert.ok(unset.ok);
    assert.ok(renderKeeperConfig(unset.value).endsWith('[hooks]\ntimeout = 30\n'));
  });

  it('refuses a relative hook path and a bad timeout', () => {
    const relative = setConfigValue(base, 'hooks.on_start', 'bin/hook');
    assert.ok(!relative.ok);
    assert.equal(relative.errors, 'invalid value "bin/hook" for hooks.on_start: expected an absolute path');
    const zero = setConfigValue(base, 'hooks.timeout', '0');
    assert.ok(!zero.ok);
    assert.match(zero.errors, /hooks\.timeout: must be between 1 and 3600/);
  });

  it('applies every hooks key on reload', () => {
    const set = setConfigValue(base, 'hooks.on_stop', '/opt/hooks/stop');
    assert.ok(set.ok);
    const plan = planKeeperReload(base, set.value);
    assert.deepEqual(plan.changes, [{ path: 'hooks.on_stop', before: '', after: '/opt/hooks/stop', change: 'reload', applied: true }]);
    assert.equal(plan.config.hooks.on_stop, '/opt/hooks/stop');
  });
});
