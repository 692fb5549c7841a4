/**
 * Operator hooks (docs/integrations.md "Hooks"): programs the keeper runs
 * on its events, configured in the `[hooks]` section of pg_autoctl.cfg.
 *
 * - `on_role_change`: a transition completed and changed the node's state
 *   (event `role_change`), or the keeper fenced its Postgres because the
 *   write lease ran out (event `fenced`, new state `demote_timeout` when the
 *   node was in a writable state);
 * - `on_start`: the keeper service started (event `start`);
 * - `on_stop`: the keeper service is stopping (event `stop`).
 *
 * A hook never delays the keeper: it is started from the event listener
 * and never awaited. Runs of one hook kind are serialised in event order;
 * at most {@link MAX_PENDING_HOOKS} wait behind the running one, the oldest
 * waiting run is dropped (and logged) beyond that. Each run gets
 * `hooks.timeout` seconds, then SIGTERM to its process group, then SIGKILL.
 * Its output lines go to the keeper's log, prefixed with the hook kind.
 *
 * The runner is separate from common/run-program.ts: a hook runs in its own
 * process group (so that a timeout stops what it started too) and its
 * output is logged line by line instead of being collected.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { Logger } from '../common/log.js';
import { messageOf } from '../common/errors.js';
import { isWritableState } from '../fsm/states.js';
import { FENCED_STATE } from './ensure-state.js';
import type { KeeperEventMap } from './events.js';
import { currentState, type KeeperRuntime } from './runtime.js';

export const HOOK_KINDS = ['on_role_change', 'on_start', 'on_stop'] as const;
export type HookKind = (typeof HOOK_KINDS)[number];

/** The first argument of a hook (and PG_AUTOCTL_HOOK_EVENT). */
export const HOOK_EVENTS = ['role_change', 'fenced', 'start', 'stop'] as const;
export type HookEvent = (typeof HOOK_EVENTS)[number];

/** Runs of one hook kind that may wait behind the running one. */
export const MAX_PENDING_HOOKS = 8;
/** After SIGTERM, how long a timed-out hook's process group has before SIGKILL. */
export const HOOK_KILL_GRACE_MS = 5000;
/** Output lines of one run that reach the log; the rest is counted. */
const MAX_LOGGED_LINES = 200;
const MAX_LINE_CHARS = 2000;
/** After the hook exited, how long its output pipes may stay open (held by a process it left behind). */
const OUTPUT_DRAIN_MS = 1000;

/** What the hook is told: its arguments, in this order, and the same values in its environment. */
export interface HookFacts {
  event: HookEvent;
  newState: string;
  oldState: string;
  nodeId: number;
  nodeName: string;
  formation: string;
  group: number;
  /** Why the keeper fenced or stops (events `fenced` and `stop`). */
  reason?: string;
  nodeHost: string;
  nodePort: number;
  pgdata: string;
}

/** One run of a hook program. */
export interface HookRun {
  kind: HookKind;
  program: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
}

export interface HookOutcome {
  /** Exit status, null when it ended by a signal or did not start. */
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** Why it could not be started. */
  error?: string;
  ms: number;
}

/** Arguments: `<event> <new_state> <old_state> <node_id> <node_name> <formation> <group>`. */
export function hookArguments(facts: HookFacts): string[] {
  return [facts.event, facts.newState, facts.oldState, String(facts.nodeId), facts.nodeName, facts.formation, String(facts.group)];
}

/** The variables added to the keeper's environment for a hook. */
export function hookEnvironment(facts: HookFacts): Record<string, string> {
  return {
    PG_AUTOCTL_HOOK_EVENT: facts.event,
    PG_AUTOCTL_NEW_STATE: facts.newState,
    PG_AUTOCTL_OLD_STATE: facts.oldState,
    PG_AUTOCTL_NODE_ID: String(facts.nodeId),
    PG_AUTOCTL_NODE_NAME: facts.nodeName,
    PG_AUTOCTL_FORMATION: facts.formation,
    PG_AUTOCTL_GROUP: String(facts.group),
    PG_AUTOCTL_HOOK_REASON: facts.reason ?? '',
    PG_AUTOCTL_NODE_HOST: facts.nodeHost,
    PG_AUTOCTL_NODE_PORT: String(facts.nodePort),
    PGDATA: facts.pgdata,
  };
}

/**
 * Runs one hook to its end: own process group, no shell, stdin closed,
 * output logged line by line, and the timeout enforced (SIGTERM to the
 * group, SIGKILL `killGraceMs` later). Never rejects.
 */
export function runHook(run: HookRun, log: Logger, killGraceMs = HOOK_KILL_GRACE_MS): Promise<HookOutcome> {
  const started = performance.now();
  const prefix = `Hook ${run.kind}`;
  return new Promise((resolve) => {
    let child: ChildProcessByStdio<null, Readable, Readable>;
    try {
      child = spawn(run.program, run.args, { env: run.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    } catch (error) {
      resolve({ code: null, signal: null, timedOut: false, error: messageOf(error), ms: 0 });
      return;
    }
    const pid = child.pid;
    let lines = 0;
    let discarded = 0;
    const follow = (stream: Readable, level: 'info' | 'warn'): void => {
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
        if (lines >= MAX_LOGGED_LINES) {
          discarded += 1;
          return;
        }
        lines += 1;
        log[level](`${prefix}: ${line.length > MAX_LINE_CHARS ? `${line.slice(0, MAX_LINE_CHARS)}...` : line}`);
      });
    };
    follow(child.stdout, 'info');
    follow(child.stderr, 'warn');
    const signalGroup = (signal: NodeJS.Signals): void => {
      if (pid === undefined) return;
      try {
        process.kill(-pid, signal);
      } catch {
        // The group is gone already.
      }
    };
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const timeoutTimer = setTimeout(() => {
      timedOut = true;
      log.warn(`${prefix} "${run.program}" did not finish within ${run.timeoutMs / 1000} s: stopping its process group (pid ${pid}) with SIGTERM`);
      signalGroup('SIGTERM');
      killTimer = setTimeout(() => {
        log.warn(`${prefix} "${run.program}": sending SIGKILL to its process group (pid ${pid})`);
        signalGroup('SIGKILL');
      }, killGraceMs);
    }, run.timeoutMs);
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let done = false;
    const finish = (error?: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timeoutTimer);
      // Whatever the hook left running in its group after a timeout goes too.
      if (timedOut) signalGroup('SIGKILL');
      if (killTimer !== undefined) clearTimeout(killTimer);
      if (discarded > 0) log.warn(`${prefix}: ${discarded} more output lines not logged`);
      resolve({ code: exit?.code ?? null, signal: exit?.signal ?? null, timedOut, ...(error === undefined ? {} : { error }), ms: performance.now() - started });
    };
    child.on('error', (error) => finish(error.message));
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      // Output still buffered arrives before 'close'; a process the hook
      // left behind may hold the pipes open: stop waiting for it.
      setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        finish();
      }, OUTPUT_DRAIN_MS).unref();
    });
    child.on('close', () => finish());
  });
}

function describeOutcome(outcome: HookOutcome): string {
  const after = `after ${Math.round(outcome.ms)} ms`;
  if (outcome.error !== undefined) return `could not be run: ${outcome.error}`;
  if (outcome.signal !== null) return `was terminated by signal ${outcome.signal} ${after}${outcome.timedOut ? ' (timeout)' : ''}`;
  return `exited with status ${outcome.code ?? 'unknown'} ${after}${outcome.timedOut ? ' (timeout)' : ''}`;
}

export interface HookRunnerOptions {
  maxPending?: number;
  killGraceMs?: number;
}

/**
 * Queues of hook runs, one per kind: one run at a time per kind, in order,
 * at most `maxPending` waiting. {@link submit} returns at once.
 */
export class HookRunner {
  private readonly queues = new Map<HookKind, { running: boolean; pending: { run: HookRun; what: string }[] }>();
  private readonly idleWaiters: (() => void)[] = [];

  constructor(private readonly log: Logger, private readonly options: HookRunnerOptions = {}) {}

  /** Queues a run; `what` describes the event in the log lines. */
  submit(run: HookRun, what: string): void {
    let queue = this.queues.get(run.kind);
    if (queue === undefined) {
      queue = { running: false, pending: [] };
      this.queues.set(run.kind, queue);
    }
    queue.pending.push({ run, what });
    const max = this.options.maxPending ?? MAX_PENDING_HOOKS;
    while (queue.pending.length > max) {
      const dropped = queue.pending.shift();
      if (dropped === undefined) break;
      this.log.warn(`Hook ${dropped.run.kind}: dropped the run for ${dropped.what}, ${max} runs are already waiting`);
    }
    if (!queue.running) this.drain(run.kind);
  }

  /** Resolves once no hook runs nor waits (for tests and orderly shutdowns). */
  idle(): Promise<void> {
    if ([...this.queues.values()].every((q) => !q.running && q.pending.length === 0)) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private drain(kind: HookKind): void {
    const queue = this.queues.get(kind);
    const next = queue?.pending.shift();
    if (queue === undefined || next === undefined) {
      if (queue !== undefined) queue.running = false;
      this.notifyIdle();
      return;
    }
    queue.running = true;
    const { run, what } = next;
    this.log.info(`Running hook ${kind} "${run.program}" for ${what}`);
    void runHook(run, this.log, this.options.killGraceMs).then((outcome) => {
      const text = `Hook ${kind} "${run.program}" for ${what} ${describeOutcome(outcome)}`;
      if (outcome.code === 0 && !outcome.timedOut) this.log.info(text);
      else this.log.warn(text);
    }).catch((error: unknown) => {
      this.log.warn(`Hook ${kind} "${run.program}" failed: ${messageOf(error)}`);
    }).finally(() => this.drain(kind));
  }

  private notifyIdle(): void {
    if (![...this.queues.values()].every((q) => !q.running && q.pending.length === 0)) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}

/** The facts of an event for this node, read from the runtime when the event happens. */
function factsOf(rt: KeeperRuntime, event: HookEvent, newState: string, oldState: string, reason?: string): HookFacts {
  return {
    event, newState, oldState,
    nodeId: rt.state.currentNodeId,
    nodeName: rt.config.pg_autoctl.name,
    formation: rt.config.pg_autoctl.formation,
    group: rt.state.currentGroup,
    ...(reason === undefined ? {} : { reason }),
    nodeHost: rt.config.pg_autoctl.hostname,
    nodePort: rt.config.postgresql.port,
    pgdata: rt.config.postgresql.pgdata,
  };
}

/**
 * Queues the configured hook of `kind` for an event. The program and the
 * timeout are those of the configuration at event time (a reload applies
 * to the next event).
 */
function submitHook(rt: KeeperRuntime, runner: HookRunner, kind: HookKind, facts: HookFacts): void {
  const program = rt.config.hooks[kind];
  if (program === '') return;
  const env: NodeJS.ProcessEnv = { ...rt.env, ...hookEnvironment(facts) };
  for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];
  const what = facts.event === 'role_change' || facts.event === 'fenced'
    ? `${facts.event} "${facts.oldState}" -> "${facts.newState}"`
    : `${facts.event} in state "${facts.newState}"`;
  runner.submit({ kind, program, args: hookArguments(facts), env, timeoutMs: rt.config.hooks.timeout * 1000 }, what);
}

/**
 * Subscribes the configured hooks to the keeper's events; returns the
 * unsubscribe. Hooks already running or waiting still run to their end
 * (the `on_stop` hook starts as the service stops).
 */
export function watchKeeperHooks(rt: KeeperRuntime, options: HookRunnerOptions = {}): () => void {
  const runner = new HookRunner(rt.log, options);
  const onStarted = (): void => {
    const state = currentState(rt);
    submitHook(rt, runner, 'on_start', factsOf(rt, 'start', state, state));
  };
  const onStopping = ({ reason }: KeeperEventMap['stopping'][0]): void => {
    const state = currentState(rt);
    submitHook(rt, runner, 'on_stop', factsOf(rt, 'stop', state, state, reason));
  };
  const onTransitionEnd = ({ from, to, ok }: KeeperEventMap['transition-end'][0]): void => {
    if (!ok || from === to) return;
    submitHook(rt, runner, 'on_role_change', factsOf(rt, 'role_change', to, from));
  };
  // Emitted before the keeper records the fenced state: the current state is the old one.
  const onFenced = ({ reason }: KeeperEventMap['fenced'][0]): void => {
    const state = currentState(rt);
    submitHook(rt, runner, 'on_role_change', factsOf(rt, 'fenced', isWritableState(state) ? FENCED_STATE : state, state, reason));
  };
  rt.events.on('started', onStarted);
  rt.events.on('stopping', onStopping);
  rt.events.on('transition-end', onTransitionEnd);
  rt.events.on('fenced', onFenced);
  return () => {
    rt.events.off('started', onStarted);
    rt.events.off('stopping', onStopping);
    rt.events.off('transition-end', onTransitionEnd);
    rt.events.off('fenced', onFenced);
  };
}
