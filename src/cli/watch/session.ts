/**
 * The interactive part of `pg_autoctl watch`: takes over the terminal
 * (alternate screen, raw keys, hidden cursor) with terminal-kit, paints
 * the layout of ./layout.ts, repaints on new data (./feed.ts), every
 * second for the clock, and on resize; gives the terminal back as it was
 * when the user quits (q, F1, Ctrl-C) or the process is told to stop.
 *
 * This is the one place of the CLI that writes to the terminal itself
 * rather than returning data to print: a live dashboard cannot be a
 * rendering of a finished result.
 */
import type { Terminal, ScreenBuffer as ScreenBufferType } from 'terminal-kit';
import { AutoctlError } from '../../common/errors.js';
import { MonitorFeed, type FeedOptions } from './feed.js';
import { applyKey } from './keys.js';
import { INITIAL_VIEW, layoutWatch, type LayoutFacts, type Style, type ViewState, type WatchModel } from './layout.js';

/** Fails unless standard input and output are both a terminal (the dashboard needs keys and a screen). */
export function requireTerminal(): void {
  if (process.stdout.isTTY && process.stdin.isTTY) return;
  const which = process.stdout.isTTY ? 'input' : 'output';
  throw new AutoctlError('BAD_ARGS',
    `pg_autoctl watch needs an interactive terminal, and its standard ${which} is not one: use pg_autoctl show state or pg_autoctl show events to print the state once`);
}

type Attributes = ScreenBufferType.Attributes;

/** Terminal attributes of each style (no colours: they read on any background). */
const ATTRIBUTES: Record<Style, Attributes> = {
  plain: {},
  bold: { bold: true },
  heading: { inverse: true },
  alert: { inverse: true, bold: true },
  notice: { inverse: true },
  stopped: { bold: true },
  aside: { dim: true, underline: true },
};

export interface DashboardOptions {
  formation: string;
  connect: FeedOptions['connect'];
  read: FeedOptions['read'];
  intervalMs?: number;
}

/**
 * Runs the dashboard until the user quits; resolves once the terminal is
 * restored. A failure while drawing also restores the terminal, then
 * rejects with that error.
 */
export async function runDashboard(options: DashboardOptions): Promise<void> {
  const termkit = (await import('terminal-kit')).default;
  const term: Terminal = termkit.terminal;

  const model: WatchModel = { formation: options.formation, snapshot: null, monitorDown: null, now: new Date() };
  let view: ViewState = INITIAL_VIEW;
  let facts: LayoutFacts | null = null;
  let buffer: ScreenBufferType | null = null;
  let closing = false;

  let failed: (error: unknown) => void = () => undefined;
  const paint = (full: boolean): void => {
    if (closing) return;
    try {
      draw(full);
    } catch (error) {
      failed(error);
    }
  };
  const draw = (full: boolean): void => {
    const width = term.width;
    const height = term.height;
    if (!buffer || buffer.width !== width || buffer.height !== height || full) {
      buffer = new termkit.ScreenBuffer({ dst: term, width, height });
      term.clear();
      full = true;
    }
    model.now = new Date();
    const layout = layoutWatch(model, view, width, height);
    facts = layout.facts;
    buffer.fill({ attr: {}, char: ' ' });
    layout.screen.lines.forEach((line, y) => {
      for (const cell of line) {
        buffer?.put({ x: cell.x, y, attr: ATTRIBUTES[cell.style], wrap: false, dx: 1, dy: 0 }, cell.text);
      }
    });
    buffer.draw({ delta: !full });
  };

  const feed = new MonitorFeed({
    connect: options.connect,
    read: options.read,
    ...(options.intervalMs === undefined ? {} : { intervalMs: options.intervalMs }),
    onSnapshot: (snapshot) => {
      model.snapshot = snapshot;
      model.monitorDown = null;
      paint(false);
    },
    onDown: (error) => {
      model.monitorDown = { since: model.monitorDown?.since ?? new Date(), error };
      paint(false);
    },
  });

  return new Promise<void>((resolve, reject) => {
    const clock = setInterval(() => paint(false), 1000);
    const onResize = (): void => paint(true);
    const onKey = (name: string): void => {
      const next = applyKey(name, view, facts ?? { eventsShown: 0, eventsCount: 0, descriptionWidth: 0, longestDescription: 0 });
      if (next === 'quit') {
        void quit();
      } else if (next !== null) {
        view = next;
        paint(false);
      }
    };
    const onSignal = (): void => { void quit(); };
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

    const quit = async (error?: unknown): Promise<void> => {
      if (closing) return;
      closing = true;
      clearInterval(clock);
      term.off('resize', onResize);
      term.off('key', onKey);
      for (const signal of signals) process.off(signal, onSignal);
      await feed.stop();
      term.styleReset();
      term.hideCursor(false);
      term.fullscreen(false);
      await term.grabInput(false);
      process.stdin.pause();
      if (error === undefined) resolve();
      else reject(error instanceof Error ? error : new Error(String(error)));
    };
    failed = (error) => { void quit(error); };

    for (const signal of signals) process.on(signal, onSignal);
    term.fullscreen(true);
    term.hideCursor(true);
    term.grabInput(true);
    term.on('key', onKey);
    term.on('resize', onResize);
    paint(true);
    feed.start();
  });
}
