/**
 * Automatic monitor failover through etcd (issue 13 phase 3, the
 * acceptance test): two monitors (127.0.0.11 primary, 127.0.0.12 its
 * streaming standby, both created with --etcd), three etcd members
 * (127.0.0.21-.23), a data primary and standby registered with the
 * multi-host monitor URI. Each monitor reaches etcd through TCP relays of
 * its own, so that one monitor alone can be cut off from etcd.
 *
 * (a) SIGKILL of the leader monitor (pg_autoctl and Postgres): the standby
 *     monitor leads, is promoted, writable; the keepers report to it; then
 *     a crash of the data primary under a writer fails over as usual with
 *     no acknowledged write lost.
 * (b) The old monitor restarts: it rejoins the new one as a standby
 *     (pg_rewind) and never decides.
 * (c) The leader monitor is cut off from etcd (only): it steps down before
 *     its lease ends (its Postgres stops), the other one takes over; never
 *     two writable monitors (sampled every 100 ms), and the one cut off
 *     decides nothing after its step-down; once it reaches etcd again it
 *     rejoins the new leader as a standby.
 * (d) With etcd, perform monitor-failover is refused; stopping the leader's
 *     service hands over to the synchronous standby without waiting for
 *     the lease.
 * (e) node1 back as node2's standby, then etcd unreachable for every
 *     monitor (all relays cut): the leader steps down (its Postgres
 *     stops), no monitor is writable and none decides, while the data
 *     primary keeps serving a writer (failsafe: no failed write); etcd
 *     back: exactly one monitor leads and is writable, the keepers report
 *     to it, no data failover (states, timeline), no acknowledged write lost.
 * The data nodes run on 127.0.0.2 and 127.0.0.3.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  dumpOnFailure, killPostmaster, nodeDirs, postmasterPid, queryAt, startMonitor, startNode, waitForStates,
  type RunningMonitor, type RunningNode,
} from '../helpers/cluster.js';
import { startEtcdCluster, startTcpRelay, type TcpRelay } from '../helpers/etcd.js';
import { freePort, IS_ROOT, onCleanup, runCleanups, startBackground, waitFor, type BackgroundProcess } from '../helpers/fixture.js';
import { pgAutoctl, pgAutoctlArgv } from '../helpers/tool.js';
import { startWriter } from '../helpers/writer.js';

const TTL_S = 10;

/** The Postgres log lines of a PGDATA (log/*.log) that tell about a promotion. */
function promotionLog(pgdata: string): string {
  const dir = join(pgdata, 'log');
  if (!existsSync(dir)) return '';
  return readdirSync(dir).sort().map((f) => readFileSync(join(dir, f), 'utf8')).join('')
    .split('\n').filter((l) => /promot|redo done|selected new timeline|archive recovery|ready to accept|wal receiver|WAL|primary server/i.test(l))
    .slice(-25).join('\n');
}

async function writable(port: number): Promise<boolean | undefined> {
  try {
    const [row] = await queryAt<{ r: boolean }>(port, 'pg_auto_failover', 'SELECT pg_is_in_recovery() AS r');
    return row?.r === false;
  } catch {
    return undefined;
  }
}

describe('automatic monitor failover through etcd', { skip: !IS_ROOT ? 'needs root' : false }, () => {
  after(runCleanups);

  it('fails the monitor over, rejoins the old one, steps down when cut off from etcd', { timeout: 400_000 }, async () => {
    const startedAt = performance.now();
    const etcd = await startEtcdCluster();
    const relaysOf = (host: string): Promise<TcpRelay[]> =>
      Promise.all(etcd.members.map((m) => startTcpRelay(host, { host: m.host, port: m.clientPort })));
    const relaysA = await relaysOf('127.0.0.11');
    const relaysB = await relaysOf('127.0.0.12');
    const endpoints = (relays: TcpRelay[]): string => relays.map((r) => r.url).join(',');

    // Monitor A, the first primary.
    const a = await startMonitor({
      name: 'monitor-etcd-a',
      extraArgs: ['--no-ssl', '--auth', 'trust', '--hostname', '127.0.0.11', '--etcd', endpoints(relaysA)],
    });
    const nodes: RunningNode[] = [];
    let bProc: BackgroundProcess | undefined;
    const bView: { monitor?: RunningMonitor } = {};
    await dumpOnFailure(a, () => nodes, async () => {
      try {
        assert.match(a.proc.output(), /Monitor leadership through etcd at http:\/\/127\.0\.0\.11:\d+/);
        const keys = await etcd.getPrefix('/pg_auto_failover/');
        const prefix = [...keys.keys()].find((k) => k.endsWith('/leader'))?.replace(/\/leader$/, '');
        assert.ok(prefix !== undefined && /^\/pg_auto_failover\/\d+$/.test(prefix), `keys: ${[...keys.keys()].join(', ')}`);
        assert.equal(keys.get(`${prefix}/leader`), `127.0.0.11:${a.port}`);
        assert.equal(keys.get(`${prefix}/primary`), `127.0.0.11:${a.port}`);
        // No HBA edit of our own: a connection to 127.0.0.12 or 127.0.0.2
        // comes from 127.0.0.1 (the kernel's source for 127.0.0.0/8, and
        // libpq, hence the WAL receiver, cannot bind another one), so the
        // member rules (127.0.0.12/32 on A) never match here; the lines
        // initdb writes with --auth trust (all and replication from
        // 127.0.0.1/32, trust) let replication and pg_rewind in, as in any
        // loopback test. On a LAN each host connects from its own address.

        // Monitor B, a standby of A.
        const bDirs = nodeDirs('monitor-etcd-b');
        const bPort = await freePort();
        const bEnv = { ...bDirs.env, PGDATA: bDirs.pgdata };
        onCleanup('kill the postmaster of monitor B', async () => { await killPostmaster(bDirs.pgdata).catch(() => undefined); });
        bProc = startBackground('monitor-b', pgAutoctlArgv(['create', 'monitor', '--standby-of', a.uri, '--pgport', String(bPort),
          '--hostname', '127.0.0.12', '--no-ssl', '--auth', 'trust', '--etcd', endpoints(relaysB), '--run']), { env: bEnv });
        const bProcs = [bProc];
        const b: RunningMonitor = {
          ...a,
          dirs: bDirs,
          port: bPort,
          proc: bProc,
          cli: (args, o = {}) => pgAutoctl(args, { env: { ...bEnv, ...o.env }, ...(o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs }) }),
          sql: (text, params = []) => queryAt(bPort, 'pg_auto_failover', text, params),
          run() {
            b.proc = startBackground('monitor-b', pgAutoctlArgv(['run', '--pgdata', bDirs.pgdata]), { env: bEnv });
            bProcs.push(b.proc);
            return b.proc;
          },
          async crash() {
            b.proc.kill('SIGKILL');
            await b.proc.wait(10_000).catch(() => undefined);
            await killPostmaster(bDirs.pgdata);
          },
        };
        bView.monitor = b;
        await waitFor('monitor B to stream from A', async () => {
          if (b.proc.exited()) throw new Error(`create monitor --standby-of exited: ${b.proc.output()}`);
          const rows = await a.sql<{ state: string }>('SELECT state FROM pg_stat_replication');
          return rows.some((r) => r.state === 'streaming');
        }, { timeoutMs: 90_000 });
        const memberId = async (port: number): Promise<string> => {
          const [row] = await a.sql<{ id: string }>('SELECT member_id::text AS id FROM pgautofailover.monitor_member WHERE port = $1', [port]);
          assert.ok(row, `no member row for port ${port}`);
          return row.id;
        };
        const bMember = await memberId(bPort);
        const aMember = await memberId(a.port);
        await waitFor('the etcd sync record to name B', async () => (await etcd.get(`${prefix}/sync`)) === bMember, { timeoutMs: 60_000 });

        // Data nodes with the multi-host monitor URI.
        const uri = `postgres://autoctl_node@127.0.0.11:${a.port},127.0.0.12:${bPort}/pg_auto_failover?target_session_attrs=read-write&sslmode=prefer`;
        const nodeArgs = (host: string): string[] => ['--auth', 'trust', '--ssl-self-signed', '--hostname', host];
        const node1 = await startNode({ ...a, uri }, 'node1', { extraArgs: nodeArgs('127.0.0.2') });
        nodes.push(node1);
        await waitForStates(a, { node1: 'single' }, { nodes });
        const node2 = await startNode({ ...a, uri }, 'node2', { extraArgs: nodeArgs('127.0.0.3') });
        nodes.push(node2);
        await waitForStates(a, { node1: 'primary', node2: 'secondary' }, { nodes, timeoutMs: 90_000 });
        process.stdout.write(`setup: ${Math.round((performance.now() - startedAt) / 1000)} s\n`);

        // (a) SIGKILL of the leader monitor, pg_autoctl and Postgres.
        const killedAt = performance.now();
        await a.crash();
        const bWritableAt = await waitFor('monitor B to be promoted', async () => ((await writable(bPort)) === true ? performance.now() : undefined),
          { timeoutMs: TTL_S * 1000 + 30_000, intervalMs: 100 });
        const [{ promoted } = { promoted: '' }] = await b.sql<{ promoted: string }>('SELECT now()::text AS promoted');
        const reportedAt = await waitFor('both keepers to report to monitor B', async () => {
          const rows = await b.sql<{ n: number }>('SELECT count(*)::int AS n FROM pgautofailover.node WHERE reporttime > $1::timestamptz', [promoted]);
          return rows[0]?.n === 2 ? performance.now() : undefined;
        }, { timeoutMs: 60_000, intervalMs: 100 });
        const takeoverMs = bWritableAt - killedAt;
        const reportMs = reportedAt - killedAt;
        const promoteMs = /The monitor accepts writes (\d+) ms after pg_ctl promote/.exec(b.proc.output())?.[1];
        if (Number(promoteMs) > 1000) process.stdout.write(`slow promotion of B, its Postgres log:\n${promotionLog(bDirs.pgdata)}\n`);
        process.stdout.write(`figures: monitor takeover (TTL ${TTL_S} s): kill -> new monitor writable ${(takeoverMs / 1000).toFixed(1)} s `
          + `(of which pg_ctl promote -> writable ${promoteMs ?? '?'} ms); kill -> keepers reporting to it ${(reportMs / 1000).toFixed(1)} s\n`);
        assert.match(b.proc.output(), /This monitor leads in etcd and the etcd sync record names it: promoting its database/);
        assert.equal(await etcd.get(`${prefix}/leader`), `127.0.0.12:${bPort}`);
        assert.equal(await etcd.get(`${prefix}/primary`), `127.0.0.12:${bPort}`);
        const epochs = await b.sql<{ epoch: string }>('SELECT epoch::text FROM pgautofailover.monitor_epoch ORDER BY epoch');
        assert.deepEqual(epochs.map((e) => e.epoch), ['1', '2'], 'the promotion starts epoch 2');
        assert.ok(reportMs <= 15_000, `keepers reported to the new monitor ${reportMs} ms after the kill (15 s allowed)`);

        // The data primary crashes under a writer: failover as usual, no acknowledged write lost.
        await waitForStates(b, { node1: 'primary', node2: 'secondary' }, { nodes, timeoutMs: 30_000 });
        const writer = await startWriter(node1.port);
        await waitFor('acknowledged writes', () => writer.acked.length >= 20, { timeoutMs: 20_000 });
        await node1.kill({ postgres: true });
        const crashedAt = performance.now();
        await writer.stop();
        await waitForStates(b, { node2: 'wait_primary' }, { nodes, timeoutMs: 60_000 });
        const failoverMs = performance.now() - crashedAt;
        const decided = b.proc.output().split('\n').filter((l) => /Setting goal state of node 2 .*to (prepare_promotion|stop_replication|wait_primary)/.test(l));
        assert.ok(decided.length > 0, 'the new monitor\'s brain ran the failover');
        const ids = new Set((await node2.sql<{ id: number }>('SELECT id FROM writer_acks')).map((r) => r.id));
        const lost = writer.acked.filter((w) => !ids.has(w.id));
        process.stdout.write(`figures: data failover under the new monitor ${(failoverMs / 1000).toFixed(1)} s; `
          + `${writer.acked.length} acknowledged writes, ${lost.length} lost\n`);
        assert.deepEqual(lost, [], 'no acknowledged write lost');

        // (b) The old monitor comes back: it rejoins B as a standby and never decides.
        const aOutputFrom = a.proc.output().length;
        const restartedA = a.run();
        await waitFor('monitor A to stream from B as a standby', async () => {
          if (restartedA.exited()) throw new Error(`monitor A exited: ${restartedA.output()}`);
          const rows = await b.sql<{ state: string; app: string }>('SELECT state, application_name AS app FROM pg_stat_replication');
          return rows.some((r) => r.state === 'streaming' && r.app === `pgautofailover_monitor_${aMember}`);
        }, { timeoutMs: 90_000 });
        assert.equal(await writable(a.port), false, 'A is a standby now');
        const aRun = restartedA.output();
        assert.match(aRun, /leads in etcd: this monitor rejoins it as a standby/);
        assert.doesNotMatch(aRun, /Setting goal state of node/, 'the old monitor never decides');
        assert.doesNotMatch(aRun, /Managing the monitor/, 'the old monitor never runs a brain');
        void aOutputFrom;
        await waitFor('the etcd sync record to name A', async () => (await etcd.get(`${prefix}/sync`)) === aMember, { timeoutMs: 60_000 });

        // (c) The leader (B) is cut off from etcd only.
        const samples: Array<{ at: number; a: boolean | undefined; b: boolean | undefined }> = [];
        let sampling = true;
        const sampler = (async () => {
          while (sampling) {
            const at = performance.now();
            const [wa, wb] = await Promise.all([writable(a.port), writable(bPort)]);
            samples.push({ at, a: wa, b: wb });
            await new Promise((r) => setTimeout(r, Math.max(0, 100 - (performance.now() - at))));
          }
        })();
        await new Promise((r) => setTimeout(r, 500));
        const bOutputFrom = b.proc.output().length;
        const cutAt = performance.now();
        for (const r of relaysB) r.cut();
        const steppedDownAt = await waitFor('monitor B to step down', () => (/Monitor leadership in etcd lost/.test(b.proc.output().slice(bOutputFrom))
          ? performance.now() : undefined), { timeoutMs: TTL_S * 1000, intervalMs: 50 });
        const bStoppedAt = await waitFor('the Postgres of monitor B to stop', async () => ((await postmasterPid(bDirs.pgdata)) === null ? performance.now() : undefined),
          { timeoutMs: TTL_S * 1000, intervalMs: 50 });
        const aWritableAt = await waitFor('monitor A to be promoted', async () => ((await writable(a.port)) === true ? performance.now() : undefined),
          { timeoutMs: TTL_S * 1000 + 30_000, intervalMs: 100 });
        await new Promise((r) => setTimeout(r, 1000));
        sampling = false;
        await sampler;
        const aPromoteMs = /The monitor accepts writes (\d+) ms after pg_ctl promote/.exec(a.proc.output())?.[1];
        if (Number(aPromoteMs) > 1000) process.stdout.write(`slow promotion of A, its Postgres log:\n${promotionLog(a.dirs.pgdata)}\n`);
        process.stdout.write(`figures: leader cut off from etcd: step-down ${((steppedDownAt - cutAt) / 1000).toFixed(1)} s, `
          + `its Postgres stopped ${((bStoppedAt - cutAt) / 1000).toFixed(1)} s, the other monitor writable ${((aWritableAt - cutAt) / 1000).toFixed(1)} s after the cut `
          + `(of which pg_ctl promote -> writable ${aPromoteMs ?? '?'} ms)\n`);
        for (const line of a.proc.output().split('\n')) {
          if (/leads in etcd|Promoting|accepts writes|Monitor leadership/.test(line)) process.stdout.write(`  A: ${line}\n`);
        }
        assert.ok(bStoppedAt - cutAt < TTL_S * 1000, 'the cut-off leader stopped its Postgres before its lease could end');
        assert.ok(bStoppedAt <= aWritableAt, 'the old leader was down before the new one was writable');
        const both = samples.filter((s) => s.a === true && s.b === true);
        assert.deepEqual(both, [], 'never two writable monitors');
        assert.ok(samples.length >= 20, `${samples.length} samples`);
        const afterStepDown = b.proc.output().slice(bOutputFrom);
        const stepDownAt = afterStepDown.indexOf('Monitor leadership in etcd lost');
        assert.doesNotMatch(afterStepDown.slice(stepDownAt), /Setting goal state of node/, 'the cut-off monitor decides nothing after its step-down');
        assert.equal(await etcd.get(`${prefix}/leader`), `127.0.0.11:${a.port}`);
        // The data nodes go on with the new primary monitor.
        await waitFor('the keepers to report to monitor A', async () => {
          const rows = await a.sql<{ n: number }>("SELECT count(*)::int AS n FROM pgautofailover.node WHERE reporttime > now() - interval '2 seconds'");
          return (rows[0]?.n ?? 0) >= 1;
        }, { timeoutMs: 30_000 });
        // Healed: B finds A leading and writable, and rejoins it as a standby.
        const healedAt = performance.now();
        for (const r of relaysB) r.heal();
        await waitFor('monitor B to stream from A as a standby', async () => {
          const rows = await a.sql<{ state: string; app: string }>('SELECT state, application_name AS app FROM pg_stat_replication');
          return rows.some((r) => r.state === 'streaming' && r.app === `pgautofailover_monitor_${bMember}`);
        }, { timeoutMs: 60_000 });
        process.stdout.write(`figures: etcd reachable again -> the old leader streams as a standby ${((performance.now() - healedAt) / 1000).toFixed(1)} s\n`);
        assert.equal(await writable(bPort), false);
        assert.doesNotMatch(b.proc.output().slice(bOutputFrom), /Setting goal state of node/, 'the old leader never decided again');
        // (d) A clean hand-over with etcd: perform monitor-failover is
        // refused (etcd decides); stopping the leader's service stops its
        // Postgres and resigns, and the synchronous standby takes over at
        // once, without waiting for the lease.
        const refused = await b.cli(['perform', 'monitor-failover']);
        assert.notEqual(refused.exitCode, 0);
        assert.match(refused.stderr, /this monitor fails over through etcd \(ha\.etcd is set\)/);
        await waitFor('the etcd sync record to name B again', async () => (await etcd.get(`${prefix}/sync`)) === bMember, { timeoutMs: 60_000 });
        const stopAt = performance.now();
        a.proc.kill('SIGTERM');
        await a.proc.wait(60_000);
        const handedOver = await waitFor('monitor B to be promoted after A stopped', async () => ((await writable(bPort)) === true ? performance.now() : undefined),
          { timeoutMs: TTL_S * 1000 + 30_000, intervalMs: 100 });
        process.stdout.write(`figures: clean stop of the leader monitor -> the standby writable ${((handedOver - stopAt) / 1000).toFixed(1)} s\n`);
        assert.match(a.proc.output(), /Resigned the monitor leadership in etcd/);
        assert.ok(handedOver - stopAt < TTL_S * 1000, 'the hand-over did not wait for the lease');

        // (e) etcd unreachable for every monitor. A rejoins B first, so
        // that both monitors run and either may lead once etcd is back; node1
        // comes back as node2's standby: the failsafe keeps a primary serving
        // without a monitor only while it reaches its standby (alone, it fences).
        const restartedA2 = a.run();
        node1.run();
        await waitFor('monitor A to stream from B again', async () => {
          if (restartedA2.exited()) throw new Error(`monitor A exited: ${restartedA2.output()}`);
          const rows = await b.sql<{ state: string; app: string }>('SELECT state, application_name AS app FROM pg_stat_replication');
          return rows.some((r) => r.state === 'streaming' && r.app === `pgautofailover_monitor_${aMember}`);
        }, { timeoutMs: 90_000 });
        await waitFor('the etcd sync record to name A again', async () => (await etcd.get(`${prefix}/sync`)) === aMember, { timeoutMs: 60_000 });
        await waitForStates(b, { node1: 'secondary', node2: 'primary' }, { nodes, timeoutMs: 90_000 });
        // The data primary under a writer.
        const dataState = async (m: RunningMonitor): Promise<string> => (await m.sql<{ s: string }>(
          "SELECT string_agg(nodename || ' ' || reportedstate::text || '/' || goalstate::text, ', ' ORDER BY nodeid) AS s FROM pgautofailover.node"))[0]?.s ?? '?';
        const timeline = async (): Promise<string> => (await node2.sql<{ tli: string }>(
          'SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) AS tli'))[0]?.tli ?? '?';
        const stateBefore = await dataState(b);
        const tliBefore = await timeline();
        const writerE = await startWriter(node2.port, { table: 'writer_acks_e' });
        let samplingE = true;
        onCleanup('stop the writer and sampler of step (e)', async () => { samplingE = false; await writerE.stop(); });
        await waitFor('acknowledged writes on node2', () => writerE.acked.length >= 20, { timeoutMs: 20_000 });
        const samplesE: Array<{ at: number; a: boolean | undefined; b: boolean | undefined }> = [];
        const samplerE = (async () => {
          while (samplingE) {
            const at = performance.now();
            const [wa, wb] = await Promise.all([writable(a.port), writable(bPort)]);
            samplesE.push({ at, a: wa, b: wb });
            await new Promise((r) => setTimeout(r, Math.max(0, 100 - (performance.now() - at))));
          }
        })();
        const outA = a.proc.output().length;
        const outB = b.proc.output().length;
        const cutAllAt = performance.now();
        for (const r of [...relaysA, ...relaysB]) r.cut();
        const eSteppedDownAt = await waitFor('monitor B to step down (etcd unreachable)', () => (/Monitor leadership in etcd lost/.test(b.proc.output().slice(outB))
          ? performance.now() : undefined), { timeoutMs: TTL_S * 1000, intervalMs: 50 });
        const eStoppedAt = await waitFor('the Postgres of monitor B to stop', async () => ((await postmasterPid(bDirs.pgdata)) === null ? performance.now() : undefined),
          { timeoutMs: TTL_S * 1000, intervalMs: 50 });
        // Past the lease: nobody may lead, nobody is writable, nobody decides.
        await new Promise((r) => setTimeout(r, Math.max(0, cutAllAt + TTL_S * 1000 + 2000 - performance.now())));
        const healAllAt = performance.now();
        const cutOutA = a.proc.output().slice(outA);
        const cutOutB = b.proc.output().slice(outB);
        const writableDuringCut = samplesE.filter((s) => s.at > eStoppedAt && s.at < healAllAt && (s.a === true || s.b === true));
        assert.deepEqual(writableDuringCut, [], 'no monitor writable while etcd is unreachable');
        assert.ok(samplesE.filter((s) => s.at > eStoppedAt && s.at < healAllAt).length >= 20, 'sampled during the cut');
        assert.doesNotMatch(cutOutA, /Setting goal state of node|Promoting/, 'monitor A neither decides nor promotes without etcd');
        assert.doesNotMatch(cutOutB.slice(cutOutB.indexOf('Monitor leadership in etcd lost')), /Setting goal state of node/,
          'monitor B decides nothing after its step-down');
        const cutErrors = writerE.errors.filter((e) => e.at >= cutAllAt);
        assert.deepEqual(cutErrors, [], 'the data primary serves every write while no monitor runs (failsafe)');

        // etcd back: exactly one leader, writable; the keeper reports to it.
        for (const r of [...relaysA, ...relaysB]) r.heal();
        const backSeenAt = await waitFor('one monitor writable after etcd is back', async () => (samplesE.some((s) => s.at > healAllAt && (s.a === true || s.b === true))
          ? performance.now() : undefined), { timeoutMs: TTL_S * 1000 + 40_000, intervalMs: 100 });
        const last = samplesE.filter((s) => s.at > healAllAt).find((s) => s.a === true || s.b === true);
        const backAt = last?.at ?? backSeenAt;
        const leaderE = last?.a === true ? a : b;
        const leaderName = leaderE === a ? 'A' : 'B';
        const [{ at: leaderSince } = { at: '' }] = await leaderE.sql<{ at: string }>('SELECT now()::text AS at');
        await waitFor('both keepers to report to the leader', async () => {
          const rows = await leaderE.sql<{ n: number }>("SELECT count(*)::int AS n FROM pgautofailover.node WHERE reporttime > $1::timestamptz", [leaderSince]);
          return rows[0]?.n === 2;
        }, { timeoutMs: 30_000, intervalMs: 100 });
        await new Promise((r) => setTimeout(r, 2000));
        samplingE = false;
        await samplerE;
        const endE = performance.now();
        await writerE.stop();
        assert.deepEqual(samplesE.filter((s) => s.a === true && s.b === true), [], 'never two writable monitors');
        assert.equal(await etcd.get(`${prefix}/leader`), `${leaderE === a ? '127.0.0.11' : '127.0.0.12'}:${leaderE.port}`, 'the writable monitor leads');
        assert.equal(await writable(leaderE === a ? bPort : a.port), false, 'the other monitor is not writable');
        assert.equal(await dataState(leaderE), stateBefore, 'no data failover: the nodes keep their states');
        assert.equal(await timeline(), tliBefore, 'no data failover: same timeline');
        assert.doesNotMatch(a.proc.output().slice(outA) + b.proc.output().slice(outB), /Setting goal state of node/, 'no goal changed');
        assert.deepEqual(writerE.errors, [], 'no failed write');
        const idsE = new Set((await node2.sql<{ id: number }>('SELECT id FROM writer_acks_e')).map((r) => r.id));
        const lostE = writerE.acked.filter((w) => !idsE.has(w.id));
        assert.deepEqual(lostE, [], 'no acknowledged write lost');
        const gapMs = writerE.longestGap(cutAllAt, endE);
        process.stdout.write(`figures: etcd unreachable for every monitor: leader step-down ${((eSteppedDownAt - cutAllAt) / 1000).toFixed(1)} s, `
          + `its Postgres stopped ${((eStoppedAt - cutAllAt) / 1000).toFixed(1)} s after the cut; etcd back (after ${((healAllAt - cutAllAt) / 1000).toFixed(1)} s) -> `
          + `monitor ${leaderName} writable ${((backAt - healAllAt) / 1000).toFixed(1)} s; data primary: ${writerE.acked.length} writes acknowledged, `
          + `${writerE.errors.length} failed, 0 lost, longest write gap ${Math.round(gapMs)} ms; ${stateBefore}, primary timeline ${tliBefore} unchanged\n`);
        process.stdout.write(`monitor-etcd: ${Math.round((performance.now() - startedAt) / 1000)} s\n`);
      } catch (error) {
        if (bView.monitor) process.stderr.write(`--- monitor B output ---\n${bView.monitor.proc.output().slice(-30_000)}\n`);
        process.stderr.write(`--- monitor A (current run) output ---\n${a.proc.output().slice(-20_000)}\n`);
        throw error;
      }
    });
  });
});
