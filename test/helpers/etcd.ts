/**
 * A real etcd cluster for the monitor HA tests (issue 13 phase 3): three
 * members of Debian's etcd-server (/usr/bin/etcd, 3.4) on 127.0.0.21-.23,
 * each with free client and peer ports and its data dir in a temp dir, run
 * as the cluster account and stopped by pid on cleanup (also on failure).
 * One member can be stopped and started again, or frozen (SIGSTOP); keys
 * are read with etcdctl.
 *
 * Also a TCP relay to give one client its own way to etcd that a test can
 * cut (a partition of that client from etcd only: the bytes stop flowing,
 * connections hang, nothing is refused).
 */
import { existsSync } from 'node:fs';
import { createServer, Socket, type Server } from 'node:net';
import { join } from 'node:path';
import {
  freePort, makeTempDir, onCleanup, run, startBackground, waitFor, type BackgroundProcess,
} from './fixture.js';

export const ETCD_BIN = process.env.PGAF_TEST_ETCD ?? '/usr/bin/etcd';
export const ETCDCTL_BIN = process.env.PGAF_TEST_ETCDCTL ?? '/usr/bin/etcdctl';
export const ETCD_HOSTS = ['127.0.0.21', '127.0.0.22', '127.0.0.23'] as const;

export function haveEtcd(): boolean {
  return existsSync(ETCD_BIN) && existsSync(ETCDCTL_BIN);
}

export interface EtcdMember {
  name: string;
  host: string;
  clientPort: number;
  peerPort: number;
  /** http://host:clientPort */
  clientUrl: string;
  dataDir: string;
  /** The current process (replaced by {@link EtcdCluster.start}). */
  proc: BackgroundProcess;
}

export interface EtcdCluster {
  members: EtcdMember[];
  /** Client URLs of every member, comma separated (the `--etcd` form). */
  endpoints: string;
  /** SIGTERM one member and wait until it is gone. */
  stop(index: number): Promise<void>;
  /** Starts a stopped member again (same data dir) and waits until it answers. */
  start(index: number): Promise<void>;
  /** SIGSTOP / SIGCONT one member. */
  freeze(index: number): void;
  thaw(index: number): void;
  /** The value of one key, undefined when absent (etcdctl through the live members). */
  get(key: string): Promise<string | undefined>;
  /** Every key under a prefix with its value. */
  getPrefix(prefix: string): Promise<Map<string, string>>;
  /** Whether the cluster has a quorum and answers (etcdctl endpoint health). */
  healthy(): Promise<boolean>;
}

function memberArgs(m: Omit<EtcdMember, 'proc'>, initialCluster: string, token: string): string[] {
  return [ETCD_BIN,
    '--name', m.name,
    '--data-dir', m.dataDir,
    '--listen-client-urls', m.clientUrl,
    '--advertise-client-urls', m.clientUrl,
    '--listen-peer-urls', `http://${m.host}:${m.peerPort}`,
    '--initial-advertise-peer-urls', `http://${m.host}:${m.peerPort}`,
    '--initial-cluster', initialCluster,
    '--initial-cluster-state', 'new',
    '--initial-cluster-token', token,
    '--heartbeat-interval', '100',
    '--election-timeout', '1000',
    '--log-level', 'warn',
    '--logger', 'zap',
  ];
}

/** Starts three members and waits until the cluster has a quorum. */
export async function startEtcdCluster(options: { name?: string } = {}): Promise<EtcdCluster> {
  if (!haveEtcd()) throw new Error(`${ETCD_BIN} or ${ETCDCTL_BIN} is missing: install the Debian packages etcd-server and etcd-client (scripts/ensure-deps.sh)`);
  const root = makeTempDir(`pgaf-${options.name ?? 'etcd'}-`);
  const token = `pgaf-test-${process.pid}-${Date.now()}`;
  const specs: Array<Omit<EtcdMember, 'proc'>> = [];
  for (const [i, host] of ETCD_HOSTS.entries()) {
    const clientPort = await freePort(host);
    let peerPort = await freePort(host);
    while (peerPort === clientPort) peerPort = await freePort(host);
    specs.push({ name: `etcd${i + 1}`, host, clientPort, peerPort, clientUrl: `http://${host}:${clientPort}`, dataDir: join(root, `etcd${i + 1}`) });
  }
  const initialCluster = specs.map((m) => `${m.name}=http://${m.host}:${m.peerPort}`).join(',');
  const members: EtcdMember[] = specs.map((m) => ({ ...m, proc: startBackground(m.name, memberArgs(m, initialCluster, token)) }));
  const endpoints = members.map((m) => m.clientUrl).join(',');

  const ctl = async (args: string[], endpointList = liveEndpoints()): Promise<string> => {
    const result = await run([ETCDCTL_BIN, '--endpoints', endpointList, '--dial-timeout', '2s', '--command-timeout', '3s', ...args],
      { env: { ETCDCTL_API: '3' }, timeoutMs: 10_000 });
    if (result.exitCode !== 0) throw new Error(`etcdctl ${args.join(' ')}: ${result.stderr.trim()}`);
    return result.stdout;
  };
  const frozen = new Set<number>();
  function liveEndpoints(): string {
    const live = members.filter((m, i) => !m.proc.exited() && !frozen.has(i));
    return (live.length > 0 ? live : members).map((m) => m.clientUrl).join(',');
  }

  const cluster: EtcdCluster = {
    members,
    endpoints,
    async stop(index) {
      const m = members[index];
      if (m === undefined) throw new Error(`no etcd member ${index}`);
      if (frozen.has(index)) cluster.thaw(index);
      m.proc.kill('SIGTERM');
      await m.proc.wait(15_000).catch(async () => {
        m.proc.kill('SIGKILL');
        await m.proc.wait(5_000);
      });
    },
    async start(index) {
      const m = members[index];
      if (m === undefined) throw new Error(`no etcd member ${index}`);
      if (!m.proc.exited()) return;
      m.proc = startBackground(m.name, memberArgs(m, initialCluster, token));
      await waitFor(`etcd member ${m.name} to answer`, async () => {
        await ctl(['endpoint', 'health'], m.clientUrl);
        return true;
      }, { timeoutMs: 30_000, intervalMs: 200 });
    },
    freeze(index) {
      const m = members[index];
      if (m === undefined || m.proc.exited()) return;
      m.proc.kill('SIGSTOP');
      frozen.add(index);
    },
    thaw(index) {
      const m = members[index];
      if (m === undefined) return;
      frozen.delete(index);
      m.proc.kill('SIGCONT');
    },
    async get(key) {
      const out = await ctl(['get', key, '--print-value-only']);
      return out === '' ? undefined : out.replace(/\n$/, '');
    },
    async getPrefix(prefix) {
      const out = await ctl(['get', prefix, '--prefix']);
      const lines = out.split('\n');
      const map = new Map<string, string>();
      for (let i = 0; i + 1 < lines.length; i += 2) map.set(lines[i] ?? '', lines[i + 1] ?? '');
      return map;
    },
    async healthy() {
      try {
        await ctl(['endpoint', 'health', '--cluster']);
        return true;
      } catch {
        return false;
      }
    },
  };
  // Frozen members would ignore the SIGTERM of the fixture's cleanup: thaw first (runs before it, LIFO).
  onCleanup('thaw etcd members', () => { for (const i of [...frozen]) cluster.thaw(i); });
  try {
    await waitFor('the etcd cluster to have a quorum', async () => {
      for (const m of members) if (m.proc.exited()) throw new Error(`${m.name} exited: ${m.proc.output().slice(-2000)}`);
      await ctl(['endpoint', 'health', '--cluster'], endpoints);
      return true;
    }, { timeoutMs: 60_000, intervalMs: 300 });
  } catch (error) {
    for (const m of members) process.stderr.write(`--- ${m.name}\n${m.proc.output().slice(-3000)}\n`);
    throw error;
  }
  return cluster;
}

export interface TcpRelay {
  /** host:port clients connect to. */
  readonly address: string;
  readonly url: string;
  /** Stops forwarding: every connection, old and new, hangs (nothing is refused or reset). */
  cut(): void;
  /** Forwards again; connections opened during the cut are reset so clients reconnect. */
  heal(): void;
  readonly isCut: boolean;
  close(): Promise<void>;
}

/** A TCP relay from `host:<free port>` to `target` (host:port), closed on cleanup. */
export async function startTcpRelay(host: string, target: { host: string; port: number }): Promise<TcpRelay> {
  const port = await freePort(host);
  const sockets = new Set<Socket>();
  const pairs = new Set<{ client: Socket; upstream: Socket }>();
  let isCut = false;
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    if (isCut) {
      // A black hole: accepted, never answered.
      client.pause();
      return;
    }
    const upstream = new Socket();
    sockets.add(upstream);
    upstream.on('close', () => { sockets.delete(upstream); client.destroy(); });
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    const pair = { client, upstream };
    pairs.add(pair);
    client.on('close', () => pairs.delete(pair));
    upstream.connect(target.port, target.host, () => {
      client.on('data', (chunk: Buffer) => { if (!isCut) upstream.write(chunk); });
      upstream.on('data', (chunk: Buffer) => { if (!isCut) client.write(chunk); });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const relay: TcpRelay = {
    address: `${host}:${port}`,
    url: `http://${host}:${port}`,
    get isCut() { return isCut; },
    cut() { isCut = true; },
    heal() {
      isCut = false;
      // What was sent during the cut is lost: those streams are broken, end them.
      for (const s of sockets) s.destroy();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  onCleanup(`close the TCP relay ${relay.address}`, () => relay.close());
  return relay;
}
