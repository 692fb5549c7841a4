/**
 * `pg_autoctl watch` (spec 04 §10.5) on a real pseudo-terminal: util-linux
 * `script` gives the command a pty, and what it writes there is replayed
 * into a headless xterm to read the screen as a person would see it. One
 * cluster (monitor, then a second node joining) serves every check: the
 * first screen, a state change, a resize (pty size + SIGWINCH), the
 * monitor crashing and coming back, and `q` restoring the terminal.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import xterm from '@xterm/headless';
import { asClusterUser, clusterEnv, onCleanup, pidAlive, runCleanups, waitFor, withDeadline } from '../helpers/fixture.js';
import {
  dumpOnFailure, startNode, startSingle, startMonitor, waitForStates, type RunningMonitor, type RunningNode,
} from '../helpers/cluster.js';
import { pgAutoctl, pgAutoctlArgv } from '../helpers/tool.js';

after(runCleanups);

const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** A command on a pty of `rows` x `cols`, its screen kept by a headless xterm. */
class PtyScreen {
  readonly term: xterm.Terminal;
  readonly child: ChildProcessWithoutNullStreams;
  raw = '';
  exitCode: number | null = null;
  private readonly exited: Promise<number>;

  constructor(argv: readonly string[], rows: number, cols: number, env: NodeJS.ProcessEnv) {
    this.term = new xterm.Terminal({ rows, cols, allowProposedApi: true });
    const command = `stty rows ${rows} cols ${cols}; echo "TTY=$(tty)"; ${argv.map(shellQuote).join(' ')}; echo "WATCH_EXIT=$?"; stty -a`;
    const [cmd, ...args] = asClusterUser(['script', '-qfec', command, '/dev/null']);
    this.child = spawn(cmd ?? 'script', args, { env: clusterEnv({ TERM: 'xterm-256color', ...env }), stdio: 'pipe' });
    this.child.stdout.setEncoding('utf8').on('data', (chunk: string) => { this.raw += chunk; this.term.write(chunk); });
    this.child.stderr.setEncoding('utf8').on('data', (chunk: string) => { this.raw += chunk; });
    this.child.stdin.on('error', () => undefined);
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => { this.exitCode = code ?? -1; resolve(this.exitCode); }));
    onCleanup('stop the watch pty', async () => {
      if (this.exitCode !== null || this.child.pid === undefined) return;
      const pid = this.watchPid();
      if (pid !== null) try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
      try { process.kill(this.child.pid, 'SIGTERM'); } catch { /* gone */ }
      await withDeadline(this.exited, 10_000, 'script to exit').catch(() => {
        if (this.child.pid !== undefined) try { process.kill(this.child.pid, 'SIGKILL'); } catch { /* gone */ }
      });
    });
  }

  /** The pty device, as the shell printed it. */
  tty(): string | null {
    return /TTY=(\/dev\/pts\/\d+)/.exec(this.raw)?.[1] ?? null;
  }

  /** The pid of pg_autoctl on our pty (its stdin is the pty). */
  watchPid(): number | null {
    const tty = this.tty();
    if (tty === null) return null;
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
        if (!argv.some((a) => a.endsWith('main.js')) || readlinkSync(`/proc/${entry}/fd/0`) !== tty) continue;
        return Number(entry);
      } catch {
        // gone, or not ours to read
      }
    }
    return null;
  }

  /** Whether the emulated terminal hides its cursor (DECTCEM), from xterm's core state. */
  cursorHidden(): boolean {
    return (this.term as unknown as { _core: { coreService: { isCursorHidden: boolean } } })._core.coreService.isCursorHidden;
  }

  /** The visible screen, one string per row (after everything received so far is parsed). */
  async lines(): Promise<string[]> {
    await new Promise<void>((resolve) => this.term.write('', resolve));
    const buffer = this.term.buffer.active;
    const lines: string[] = [];
    for (let y = 0; y < this.term.rows; y++) lines.push(buffer.getLine(y)?.translateToString(true) ?? '');
    return lines;
  }

  async waitScreen(what: string, check: (lines: string[]) => boolean, timeoutMs = 30_000): Promise<string[]> {
    let last: string[] = [];
    try {
      return await waitFor(what, async () => {
        last = await this.lines();
        return check(last) ? last : undefined;
      }, { timeoutMs, intervalMs: 100 });
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- screen ---\n${last.join('\n')}\n--- end ---`, { cause: error });
    }
  }

  /** Resizes the pty (the kernel sends SIGWINCH to its foreground group), the emulator, and signals watch again. */
  resize(rows: number, cols: number): void {
    const tty = this.tty();
    assert.ok(tty, 'the pty device is known');
    execFileSync('stty', ['-F', tty, 'rows', String(rows), 'cols', String(cols)]);
    this.term.resize(cols, rows);
    const pid = this.watchPid();
    assert.ok(pid !== null, 'pg_autoctl watch runs on the pty');
    process.kill(pid, 'SIGWINCH');
  }

  type(text: string): void {
    this.child.stdin.write(text);
  }

  wait(timeoutMs: number): Promise<number> {
    return withDeadline(this.exited, timeoutMs, 'the watch session to end');
  }
}

/** WATCH_TEST_DEBUG=1 prints each checked screen. */
const started = Date.now();
function show(step: string, lines: readonly string[]): void {
  if (process.env.WATCH_TEST_DEBUG) process.stderr.write(`--- ${step} (${Date.now() - started} ms) ---\n${lines.join('\n')}\n`);
}

/** The row of the screen showing a node, split in words. */
function rowOf(lines: readonly string[], name: string): string[] | undefined {
  return lines.map((l) => l.trim().split(/\s+/)).find((words) => words[0] === name);
}

describe('pg_autoctl watch', { timeout: 240_000 }, () => {
  it('draws the formation, follows state changes, resizes, survives a monitor restart and quits on q', async () => {
    const m: RunningMonitor = await startMonitor({ name: 'monitor-watch' });
    const nodes: RunningNode[] = [];
    await dumpOnFailure(m, () => nodes, async () => {
      // Without a terminal it refuses at once, and the --watch options conflict with --json.
      const notTty = await pgAutoctl(['watch', '--monitor', m.uri]);
      assert.equal(notTty.exitCode, 1, notTty.stderr);
      assert.match(notTty.stderr, /needs an interactive terminal/);
      const both = await pgAutoctl(['show', 'state', '--watch', '--json', '--monitor', m.uri]);
      assert.equal(both.exitCode, 1, both.stderr);
      assert.match(both.stderr, /either --json or --watch/);

      await startSingle(m, nodes);
      const pty = new PtyScreen(pgAutoctlArgv(['watch', '--monitor', m.uri]), 40, 160, {});

      // First screen: formation line, the widest column set, node1 single, its events.
      let lines = await pty.waitScreen('node1 in single on the dashboard', (l) => rowOf(l, 'node1')?.includes('single') === true);
      show('first screen', lines);
      assert.match(lines[0] ?? '', /^Formation: default - Sync Standbys: 0 +\d\d:\d\d:\d\d$/);
      const header = lines.find((l) => l.includes('Reported State')) ?? '';
      for (const column of ['Name', 'Node', 'Quorum', 'Priority', 'Host:Port', 'TLI: LSN', 'Last Check', 'Connection', 'Last Report', 'Assigned State']) {
        assert.ok(header.includes(column), `header "${header}" has ${column}`);
      }
      assert.ok(lines.some((l) => l.includes('Event Time') && l.includes('Description')), 'events table header');
      assert.equal(lines[39]?.trim(), 'Press q to quit');
      const row1 = rowOf(lines, 'node1') ?? [];
      assert.ok(row1.includes('read-write') && row1.includes('yes') && row1.includes('50'), `node1 row: ${row1.join(' ')}`);

      // A second node joins: node2 appears, node1 goes from single to primary, without any key pressed.
      nodes.push(await startNode(m, 'node2'));
      lines = await pty.waitScreen('node1 primary and node2 secondary on the dashboard', (l) =>
        rowOf(l, 'node1')?.filter((w) => w === 'primary').length === 2
        && rowOf(l, 'node2')?.filter((w) => w === 'secondary').length === 2, 90_000);
      show('node2 joined', lines);
      await waitForStates(m, { node1: 'primary', node2: 'secondary' }, { nodes, timeoutMs: 10_000 });
      assert.ok(lines.some((l) => /node2/.test(l) && /secondary/.test(l) && /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/.test(l)),
        'an event of node2 with its time and name');

      // Resize to 24 x 70: a narrower column set, the key help on the new last row.
      pty.resize(24, 70);
      lines = await pty.waitScreen('the dashboard re-laid for 24x70', (l) =>
        l[23]?.trim() === 'Press q to quit' && l.some((x) => x.includes('Reported State') && !x.includes('Host:Port')));
      show('resized', lines);
      const narrowHeader = lines.find((l) => l.includes('Reported State')) ?? '';
      assert.ok(narrowHeader.trimEnd().length <= 70);
      assert.ok(!narrowHeader.includes('Quorum'), `narrow header: ${narrowHeader}`);
      assert.ok(rowOf(lines, 'node2')?.includes('secondary'), 'node2 still shown');
      const eventRows = lines.filter((l) => /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d|^ *\d+ {2}/.test(l)).length;
      assert.ok(eventRows >= 1 && eventRows <= 24 - 8, `events fit the height: ${eventRows}`);

      // The monitor crashes: the dashboard stays, says so, and recovers when the monitor is back.
      const pid = pty.watchPid();
      assert.ok(pid !== null);
      await m.crash();
      lines = await pty.waitScreen('the monitor shown unreachable', (l) => (l[1] ?? '').startsWith('Monitor unreachable since'), 30_000);
      show('monitor down', lines);
      assert.ok(pidAlive(pid), 'watch still runs while the monitor is down');
      assert.equal(pty.exitCode, null);
      m.run();
      lines = await pty.waitScreen('the dashboard back with the monitor', (l) =>
        !(l[1] ?? '').startsWith('Monitor unreachable') && rowOf(l, 'node1') !== undefined && rowOf(l, 'node2') !== undefined, 60_000);

      show('monitor back', lines);

      // q quits with 0, and the terminal is as before: normal screen, cooked mode with echo.
      pty.type('q');
      await pty.wait(15_000);
      show('after q', await pty.lines());
      assert.match(pty.raw, /WATCH_EXIT=0/);
      assert.equal(pty.term.buffer.active.type, 'normal');
      const stty = pty.raw.slice(pty.raw.indexOf('WATCH_EXIT='));
      assert.match(stty, /(^|\s)icanon(\s|$)/m, stty);
      assert.match(stty, /(^|\s)echo(\s|$)/m, stty);
      assert.match(stty, /rows 24; columns 70/);
      assert.equal(pty.cursorHidden(), false, 'the cursor is shown again');

      // show state --watch is the same dashboard, here finding the monitor from a
      // keeper's PGDATA; Ctrl-C quits it as q does.
      const node1 = nodes[0];
      assert.ok(node1);
      const again = new PtyScreen(pgAutoctlArgv(['show', 'state', '--watch', '--pgdata', node1.dirs.pgdata]), 20, 100, node1.dirs.env);
      lines = await again.waitScreen('show state --watch drawing both nodes', (l) => rowOf(l, 'node1') !== undefined && rowOf(l, 'node2') !== undefined);
      show('show state --watch', lines);
      assert.equal(again.cursorHidden(), true, 'no cursor on the dashboard');
      again.type('\x03');
      await again.wait(15_000);
      assert.match(again.raw, /WATCH_EXIT=0/);
      assert.equal(again.term.buffer.active.type, 'normal');
      assert.equal(again.cursorHidden(), false);
    });
  });
});
