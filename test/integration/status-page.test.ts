/**
 * The monitor's live status page in a real headless Chromium: a monitor
 * created with --http-port, a primary and a standby; the page shows them
 * with their states, renders a hostile node name as text, follows a
 * failover without a reload (each new state within 2 s of the monitor's
 * tables having it), fits a phone screen, and the listener answers 404
 * and 405 as it should.
 *
 * PGAF_SCREENSHOT=<path> also saves a screenshot of the page there
 * (docs/status-page.png is made that way).
 */
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { chromium, type Browser, type BrowserServer, type Page } from 'playwright-core';
import { freePort, makeTempDir, onCleanup, runCleanups, waitFor } from '../helpers/fixture.js';
import {
  dumpOnFailure, killPostmaster, startMonitor, startPrimaryAndStandby, waitForStates, type RunningMonitor, type RunningNode,
} from '../helpers/cluster.js';

after(runCleanups);

const CHROMIUM = process.env.PGAF_CHROMIUM ?? '/usr/bin/chromium';
const EVIL = '<img src=x onerror="window.__xss=1">&amp; "quoted" \'x\'';

async function launchBrowser(): Promise<Browser> {
  const server: BrowserServer = await chromium.launchServer({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
    timeout: 60_000,
  });
  const pid = server.process().pid;
  onCleanup('stop chromium', async () => {
    await server.close().catch(() => undefined);
    if (pid !== undefined) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
  });
  return chromium.connect(server.wsEndpoint());
}

/** What the page shows for each node: name -> "reported/assigned". */
function shownStates(page: Page): Promise<Record<string, string>> {
  return page.evaluate<Record<string, string>>(`(() => {
    const out = {};
    for (const card of document.querySelectorAll('article.node')) {
      out[card.querySelector('.node-name').textContent] = card.dataset.reported + '/' + card.dataset.assigned;
    }
    return out;
  })()`);
}

/**
 * Browser-side code is given as text (the tests compile without the DOM's
 * types) and only through evaluate, which the page's CSP allows (waits use
 * locators: waitForFunction would need eval).
 */
const inPage = <T>(page: Page, expression: string): Promise<T> => page.evaluate<T>(expression);


/** A viewer of the live stream: counts the `state` events it gets. */
function openStream(url: string): Promise<{ states: () => number; close: () => void }> {
  return new Promise((resolve, reject) => {
    const req = httpGet(url, (res) => {
      let states = 0;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { states += chunk.split('event: state\n').length - 1; });
      res.on('error', () => undefined);
      resolve({ states: () => states, close: () => req.destroy() });
    });
    req.on('error', reject);
    onCleanup('close a status stream', () => { req.destroy(); });
  });
}

describe('monitor status page', { timeout: 300_000 }, () => {
  it('shows the nodes live in Chromium, follows a failover without reload, escapes names, fits a phone', async () => {
    const started = performance.now();
    const httpPort = await freePort();
    const m: RunningMonitor = await startMonitor({ name: 'monitor-status-page', extraArgs: ['--no-ssl', '--auth', 'trust', '--http-port', String(httpPort)] });
    const nodes: RunningNode[] = [];
    const base = `http://127.0.0.1:${httpPort}`;
    await dumpOnFailure(m, () => nodes, async () => {
      assert.match(m.proc.output(), new RegExp(`HTTP listener on 127\\.0\\.0\\.1:${httpPort} \\(http, no authentication\\)`));
      const browserReady = launchBrowser();
      await startPrimaryAndStandby(m, nodes);
      process.stderr.write(`status page: cluster ready after ${Math.round((performance.now() - started) / 1000)} s\n`);
      // A node with a hostile name, in a formation of its own (no keeper: it stays in init).
      await m.sql("SELECT pgautofailover.create_formation('lab', 'pgsql', 'postgres', true, 0)");
      await m.sql("SELECT * FROM pgautofailover.register_node('lab', '127.0.0.1', 9, 'postgres', $1)", [EVIL]);

      // Listener basics.
      assert.equal((await fetch(`${base}/nope`)).status, 404);
      const post = await fetch(`${base}/api/state`, { method: 'POST', body: 'x' });
      assert.equal(post.status, 405);
      const state = await (await fetch(`${base}/api/state`)).json() as {
        data: { leaseTimeoutMs: number; formations: { formationId: string; nodes: { name: string; reportedState: string; lagBytes: number | null; leaseGrantTimeMs: number | null }[] }[] };
      };
      const byName = new Map(state.data.formations.flatMap((f) => f.nodes.map((n) => [`${f.formationId}/${n.name}`, n] as const)));
      assert.deepEqual([...byName.keys()].sort(), ['default/node1', 'default/node2', `lab/${EVIL}`].sort());
      assert.equal(byName.get('default/node1')?.reportedState, 'primary');
      assert.equal(byName.get('default/node1')?.lagBytes, null, 'no lag for the primary');
      assert.ok(byName.get('default/node1')?.leaseGrantTimeMs !== null, 'the primary holds a lease');
      assert.equal(byName.get('default/node2')?.reportedState, 'secondary');
      assert.equal(typeof byName.get('default/node2')?.lagBytes, 'number', 'the standby has a lag');
      assert.equal(byName.get(`lab/${EVIL}`)?.lagBytes, null, 'no lag without a primary');
      assert.equal(state.data.leaseTimeoutMs, 3000, 'the tests\' primary_lease_timeout');

      const browser = await browserReady;
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const page = await context.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (e) => pageErrors.push(e.message));
      page.on('console', (msg) => { if (msg.type() === 'error') pageErrors.push(msg.text()); });
      await page.goto(`${base}/`);
      await page.locator('article.node').nth(2).waitFor({ timeout: 15_000 });
      await page.locator('#conn', { hasText: /^live$/ }).waitFor({ timeout: 10_000 });
      const shown = await shownStates(page);
      assert.equal(shown.node1, 'primary/primary');
      assert.equal(shown.node2, 'secondary/secondary');
      assert.ok(shown[EVIL] !== undefined, 'the hostile name is shown as text, verbatim');
      const injected = await inPage<{ xss?: number; images: number }>(page,
        "({ xss: window.__xss, images: document.querySelectorAll('img').length })");
      assert.deepEqual(injected, { xss: undefined, images: 0 }, 'the node name did not become HTML');
      const card = page.locator('article.node', { hasText: 'node1' });
      for (const label of ['reported', 'assigned', 'lag', 'lease', 'last report', 'health check']) {
        assert.equal(await card.locator('dt', { hasText: label }).count() >= 1, true, label);
      }
      assert.match(await card.locator('dd.lease').textContent() ?? '', /s left$/);
      assert.equal(await card.locator('.badge').textContent(), 'good');
      assert.ok(await page.locator('#events li').count() >= 1);

      // A marker that only survives if the page is never reloaded.
      await inPage(page, `(() => {
        window.__marker = 'kept';
        const seen = {};
        window.__seen = seen;
        const record = () => {
          for (const c of document.querySelectorAll('article.node')) {
            const key = c.querySelector('.node-name').textContent + '=' + c.dataset.reported + '/' + c.dataset.assigned;
            if (seen[key] === undefined) seen[key] = Date.now();
          }
        };
        new MutationObserver(record).observe(document.getElementById('formations'), { subtree: true, childList: true, attributes: true });
        record();
      })()`);
      const updatesBefore = Number(await page.getAttribute('body', 'data-updates'));

      // More viewers (streams read by this process): still one connection and one poll on the monitor.
      const viewers = await Promise.all(Array.from({ length: 10 }, () => openStream(`${base}/api/stream`)));
      await waitFor('every viewer to get the state', () => viewers.every((v) => v.states() >= 1), { timeoutMs: 10_000, intervalMs: 100 });
      const sessions = await m.sql<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'pg_auto_failover status page'");
      assert.equal(sessions[0]?.n, 1, 'one database session for every viewer');

      // Fail over; record when the monitor's tables first have each state.
      const inTables: Record<string, number> = {};
      let polling = true;
      const poller = (async () => {
        while (polling) {
          const rows = await m.sql<{ nodename: string; reportedstate: string; goalstate: string }>(
            "SELECT nodename, reportedstate::text, goalstate::text FROM pgautofailover.node WHERE formationid = 'default'").catch(() => []);
          const now = Date.now();
          for (const r of rows) {
            const key = `${r.nodename}=${r.reportedstate}/${r.goalstate}`;
            if (inTables[key] === undefined) inTables[key] = now;
          }
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      })();
      const failover = await m.cli(['perform', 'failover'], { timeoutMs: 90_000 });
      assert.equal(failover.exitCode, 0, failover.stderr);
      await waitForStates(m, { node1: 'secondary', node2: 'primary' }, { nodes, timeoutMs: 60_000 });
      await waitFor('the page to show the new primary', async () => {
        const s = await shownStates(page);
        return s.node2 === 'primary/primary' && s.node1 === 'secondary/secondary';
      }, { timeoutMs: 5000, intervalMs: 100 });
      polling = false;
      await poller;
      for (const v of viewers) {
        assert.ok(v.states() >= 3, `each viewer got the changes: ${v.states()}`);
        v.close();
      }
      process.stderr.write(`status page: failover done after ${Math.round((performance.now() - started) / 1000)} s\n`);
      const seen = await inPage<Record<string, number>>(page, 'window.__seen');
      for (const key of ['node2=primary/primary', 'node1=secondary/secondary', 'node2=prepare_promotion/prepare_promotion']) {
        const table = inTables[key];
        const shownAt = seen[key];
        if (key.includes('prepare_promotion') && (table === undefined || shownAt === undefined)) continue; // short-lived
        assert.ok(table !== undefined, `the monitor's tables had ${key}: ${JSON.stringify(inTables)}`);
        assert.ok(shownAt !== undefined, `the page showed ${key}: ${JSON.stringify(seen)}`);
        assert.ok(shownAt - table <= 2000, `${key} shown ${shownAt - table} ms after the tables had it`);
        process.stderr.write(`status page: ${key} shown ${shownAt - table} ms after the tables had it\n`);
      }
      const transitions = Object.keys(seen).filter((k) => k.startsWith('node'));
      assert.ok(transitions.length >= 4, `the page followed the transitions: ${transitions.join(', ')}`);
      const after = await inPage<{ marker?: string; navigations: number; updates: number }>(page, `({
        marker: window.__marker,
        navigations: performance.getEntriesByType('navigation').length,
        updates: Number(document.body.dataset.updates),
      })`);
      assert.equal(after.marker, 'kept', 'no reload');
      assert.equal(after.navigations, 1);
      assert.ok(after.updates > updatesBefore, `live updates: ${updatesBefore} -> ${after.updates}`);
      assert.ok(await page.locator('#events li', { hasText: 'node2' }).count() >= 1);

      const screenshot = join(makeTempDir('pgaf-status-shot-'), 'status-page.png');
      await page.screenshot({ path: screenshot });
      if (process.env.PGAF_SCREENSHOT) copyFileSync(screenshot, process.env.PGAF_SCREENSHOT);

      // A phone: no horizontal overflow, everything still there.
      const phone = await browser.newContext({ viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
      const small = await phone.newPage();
      await small.goto(`${base}/`);
      await small.locator('article.node').nth(2).waitFor({ timeout: 15_000 });
      const widths = await inPage<{ scroll: number; client: number; widest: number }>(small, `({
        scroll: document.documentElement.scrollWidth,
        client: document.documentElement.clientWidth,
        widest: Math.max(...Array.from(document.querySelectorAll('body *')).map((e) => e.getBoundingClientRect().right)),
      })`);
      assert.ok(widths.scroll <= widths.client && widths.widest <= widths.client + 1, `fits the phone: ${JSON.stringify(widths)}`);

      // The monitor's Postgres crashes: the page says so and keeps the last
      // known state, then recovers by itself once the service restarted it.
      await killPostmaster(m.dirs.pgdata);
      await page.locator('#error').waitFor({ state: 'visible', timeout: 15_000 });
      assert.match(await page.locator('#error').textContent() ?? '', /^The monitor database could not be read: .*\(showing the last known state\)$/);
      assert.equal((await shownStates(page)).node2, 'primary/primary');
      await page.locator('#error').waitFor({ state: 'hidden', timeout: 60_000 });
      assert.equal((await inPage<{ marker?: string }>(page, '({ marker: window.__marker })')).marker, 'kept');

      assert.deepEqual(pageErrors, [], 'no script error, no CSP violation, no failed load');
      await browser.close();
      process.stderr.write(`status page test: ${Math.round((performance.now() - started) / 1000)} s\n`);
    });
  });
});
