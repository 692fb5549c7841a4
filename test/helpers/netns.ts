/**
 * The project's own test hosts (DESIGN.md decision 9): one network
 * namespace per simulated host, each with a veth pair into a test bridge,
 * on the private subnet 10.231.0.0/24 used nowhere else. Partitions are cut
 * inside a namespace (its link goes down, or back up to heal). Everything
 * created here is removed on cleanup. Needs root.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { onCleanup } from './fixture.js';

export const TEST_SUBNET = '10.231.0';

export interface TestHost {
  name: string;
  /** The host's address on the test subnet. */
  ip: string;
  /** argv prefix that runs a command inside this host's namespace. */
  exec(argv: readonly string[]): string[];
  /** Cuts this host off the test network (all peers). */
  disconnect(): void;
  /** Puts this host back on the test network. */
  reconnect(): void;
  /** Cuts this host off one peer only (packets to it are dropped, so no TCP either way). */
  cutFrom(peer: TestHost): void;
  /** Undoes {@link cutFrom}. */
  healFrom(peer: TestHost): void;
}

function ip(args: readonly string[]): void {
  execFileSync('ip', [...args], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** True when this process can create network namespaces (root, iproute2 present). */
export function canMakeTestHosts(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Creates `count` hosts on a fresh bridge. Host i gets 10.231.0.(10 + i),
 * i = 1..count. Names carry a random tag so parallel runs cannot clash.
 */
export function makeTestHosts(count: number): TestHost[] {
  const tag = randomBytes(2).toString('hex');
  const bridge = `pgafbr${tag}`;
  ip(['link', 'add', bridge, 'type', 'bridge']);
  onCleanup(`remove bridge ${bridge}`, () => { try { ip(['link', 'del', bridge]); } catch { /* already gone */ } });
  ip(['link', 'set', bridge, 'up']);
  const hosts: TestHost[] = [];
  for (let i = 1; i <= count; i++) {
    const ns = `pgaf${tag}h${i}`;
    const outside = `pgv${tag}${i}`;
    const inside = `pgv${tag}${i}p`;
    const address = `${TEST_SUBNET}.${10 + i}`;
    ip(['netns', 'add', ns]);
    onCleanup(`remove namespace ${ns}`, () => { try { ip(['netns', 'del', ns]); } catch { /* already gone */ } });
    ip(['link', 'add', outside, 'type', 'veth', 'peer', 'name', inside]);
    ip(['link', 'set', inside, 'netns', ns]);
    ip(['link', 'set', outside, 'master', bridge]);
    ip(['link', 'set', outside, 'up']);
    ip(['netns', 'exec', ns, 'ip', 'addr', 'add', `${address}/24`, 'dev', inside]);
    ip(['netns', 'exec', ns, 'ip', 'link', 'set', inside, 'up']);
    ip(['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
    hosts.push({
      name: ns,
      ip: address,
      exec: (argv) => ['ip', 'netns', 'exec', ns, ...argv],
      disconnect: () => ip(['netns', 'exec', ns, 'ip', 'link', 'set', inside, 'down']),
      reconnect: () => ip(['netns', 'exec', ns, 'ip', 'link', 'set', inside, 'up']),
      cutFrom: (peer) => ip(['netns', 'exec', ns, 'ip', 'route', 'add', 'blackhole', `${peer.ip}/32`]),
      healFrom: (peer) => ip(['netns', 'exec', ns, 'ip', 'route', 'del', 'blackhole', `${peer.ip}/32`]),
    });
  }
  return hosts;
}
