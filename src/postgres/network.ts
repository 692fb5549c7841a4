/**
 * Network facts for HBA rules and `--hostname` (spec 05 §9.1, spec 04
 * §3.4): the HBA address of a host, the LAN CIDR of a local address, the
 * local IP used to reach a peer, and default hostname discovery.
 * DNS and sockets are passed in so the decisions can be unit-tested.
 */
import { createSocket } from 'node:dgram';
import { promises as dnsPromises } from 'node:dns';
import { isIP, createConnection } from 'node:net';
import { hostname as osHostname, networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { AutoctlError } from '../common/errors.js';
import { classifyNodeHost, invalidHostMessage } from './node-host.js';

export interface Resolver {
  /** Forward lookup: every address of a name. */
  lookup(host: string): Promise<string[]>;
  /** Reverse lookup: the names of an address. */
  reverse(ip: string): Promise<string[]>;
}

export const systemResolver: Resolver = {
  lookup: async (host) => (await dnsPromises.lookup(host, { all: true })).map((a) => a.address),
  reverse: (ip) => dnsPromises.reverse(ip),
};

export interface HbaAddress {
  /** What goes in the ADDRESS column. */
  address: string;
  /** True when `address` is the host name itself (DNS agreed both ways). */
  isHostname: boolean;
  /** The IP address behind it (for a CIDR: its address part). */
  ip: string;
  /** Reasons for using an IP instead of the given name (log as WARN). */
  warnings: string[];
}

/** A single address as a CIDR: IPv4 `/32`, IPv6 `/128`. */
export function hostCidr(ip: string): string {
  return `${ip}/${isIP(ip) === 6 ? 128 : 32}`;
}

/**
 * The HBA address for a host: IPs as `/32` or `/128`, a host name as is
 * when forward and reverse DNS agree (as Postgres requires to match host
 * names), else its IP address with warnings. Anything that is not an IP
 * address or an RFC 1123 host name (a CIDR, whitespace, `#`, quotes, HBA
 * keywords) is refused: hosts come from the monitor, and a rule for
 * `0.0.0.0/0` or an injected line would open this node to everyone.
 */
export async function hbaAddressFor(host: string, resolver: Resolver = systemResolver): Promise<HbaAddress> {
  const kind = classifyNodeHost(host);
  if (!kind.ok) throw new AutoctlError('BAD_CONFIG', `refusing to write a pg_hba.conf rule for ${invalidHostMessage(host, kind.errors)}`);
  if (kind.value !== 'hostname') return { address: hostCidr(host), isHostname: false, ip: host, warnings: [] };
  let addresses: string[];
  try {
    addresses = await resolver.lookup(host);
  } catch (error) {
    throw new AutoctlError('BAD_CONFIG', `cannot resolve host name "${host}" for pg_hba.conf`, { cause: error });
  }
  const first = addresses[0];
  if (first === undefined) throw new AutoctlError('BAD_CONFIG', `host name "${host}" has no address`);
  for (const ip of addresses) {
    const names = await resolver.reverse(ip).catch(() => [] as string[]);
    if (names.some((name) => sameHostName(name, host))) return { address: host, isHostname: true, ip, warnings: [] };
  }
  return {
    address: hostCidr(first),
    isHostname: false,
    ip: first,
    warnings: [
      `Using IP address "${first}" in HBA file instead of hostname "${host}"`,
      `Reverse DNS of "${first}" does not give "${host}" back, and Postgres needs both directions to match a host name in pg_hba.conf`,
    ],
  };
}

function sameHostName(a: string, b: string): boolean {
  const strip = (s: string): string => s.toLowerCase().replace(/\.$/, '');
  return strip(a) === strip(b);
}

/** Network address of a CIDR: `192.168.1.17/24` -> `192.168.1.0/24`. */
export function networkOfCidr(cidr: string): string {
  const [ip, bitsText] = cidr.split('/');
  const bits = Number(bitsText);
  const family = ip === undefined ? 0 : isIP(ip);
  if (ip === undefined || family === 0 || !Number.isInteger(bits)) throw new AutoctlError('BAD_ARGS', `invalid CIDR "${cidr}"`);
  const width = family === 4 ? 32 : 128;
  if (bits < 0 || bits > width) throw new AutoctlError('BAD_ARGS', `invalid CIDR "${cidr}"`);
  const value = family === 4 ? ipv4ToBigint(ip) : ipv6ToBigint(ip);
  const mask = ((1n << BigInt(width)) - 1n) ^ ((1n << BigInt(width - bits)) - 1n);
  const network = value & mask;
  return `${family === 4 ? bigintToIpv4(network) : bigintToIpv6(network)}/${bits}`;
}

function ipv4ToBigint(ip: string): bigint {
  return ip.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function bigintToIpv4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xFFn)).join('.');
}

function ipv6ToBigint(ip: string): bigint {
  let text = ip;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4?.[1]) {
    const n = ipv4ToBigint(v4[1]);
    text = `${text.slice(0, -v4[1].length)}${(n >> 16n).toString(16)}:${(n & 0xFFFFn).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const headParts = head === '' ? [] : head.split(':');
  const tailParts = tail === undefined || tail === '' ? [] : tail.split(':');
  const fill = tail === undefined ? [] : new Array<string>(8 - headParts.length - tailParts.length).fill('0');
  return [...headParts, ...fill, ...tailParts].reduce((acc, part) => (acc << 16n) | BigInt(`0x${part || '0'}`), 0n);
}

function bigintToIpv6(value: bigint): string {
  const parts: string[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) parts.push(((value >> shift) & 0xFFFFn).toString(16));
  // Compress the longest run of zero groups, as inet output does.
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8;) {
    if (parts[i] !== '0') { i += 1; continue; }
    let j = i;
    while (j < 8 && parts[j] === '0') j += 1;
    if (j - i > bestLength && j - i > 1) { bestStart = i; bestLength = j - i; }
    i = j;
  }
  if (bestStart < 0) return parts.join(':');
  return `${parts.slice(0, bestStart).join(':')}::${parts.slice(bestStart + bestLength).join(':')}`;
}

export type Interfaces = NodeJS.Dict<NetworkInterfaceInfo[]>;

/** The local interface address entry holding `ip`, if any. */
export function localInterfaceAddress(ip: string, interfaces: Interfaces = networkInterfaces()): NetworkInterfaceInfo | undefined {
  for (const entries of Object.values(interfaces)) {
    for (const entry of entries ?? []) if (entry.address === ip) return entry;
  }
  return undefined;
}

/** `--pg-hba-lan` and the monitor's rule: the network of the interface holding `ip`. */
export function lanCidrFor(ip: string, interfaces: Interfaces = networkInterfaces()): string {
  const entry = localInterfaceAddress(ip, interfaces) ?? loopbackInterfaceHolding(ip, interfaces);
  if (!entry?.cidr) {
    throw new AutoctlError('BAD_CONFIG', `cannot find a local network interface with address "${ip}"`,
      { hint: 'use --hostname with a name or address of this machine, or --skip-pg-hba' });
  }
  return networkOfCidr(entry.cidr);
}

const isLoopback = (ip: string): boolean => ip.startsWith('127.') || ip === '::1';

/**
 * A loopback IPv4 address that no interface lists (127.0.0.11) is still
 * local when a loopback interface's network holds it (lo: 127.0.0.1/8).
 */
function loopbackInterfaceHolding(ip: string, interfaces: Interfaces): NetworkInterfaceInfo | undefined {
  if (!ip.startsWith('127.') || isIP(ip) !== 4) return undefined;
  for (const entries of Object.values(interfaces)) {
    for (const entry of entries ?? []) {
      if (!entry.internal || entry.family !== 'IPv4' || !entry.cidr) continue;
      const bits = entry.cidr.split('/')[1];
      if (networkOfCidr(entry.cidr) === networkOfCidr(`${ip}/${bits}`)) return entry;
    }
  }
  return undefined;
}

export interface MonitorLan {
  cidr: string;
  /** Why the rule is not the network of `--hostname` itself (log as WARN). */
  warnings: string[];
}

/**
 * The LAN of the monitor's HBA rule for keepers (create monitor): the
 * network of the local interface holding `--hostname` (an IP, or an
 * address of a name, non-loopback first), else the network of the default
 * route's local address. The keepers connect from that LAN whether or not
 * the name also resolves back (reverse DNS), so a name never narrows the
 * rule to loopback.
 */
export async function monitorLanCidr(hostname: string, deps: {
  resolver?: Resolver; interfaces?: Interfaces; defaultRoute?: () => Promise<string>;
} = {}): Promise<MonitorLan> {
  const interfaces = deps.interfaces ?? networkInterfaces();
  if (isIP(hostname) !== 0) return { cidr: lanCidrFor(hostname, interfaces), warnings: [] };
  const addresses = await (deps.resolver ?? systemResolver).lookup(hostname).catch(() => [] as string[]);
  const local = addresses.filter((ip) => localInterfaceAddress(ip, interfaces) !== undefined);
  const chosen = local.find((ip) => !isLoopback(ip)) ?? local[0];
  if (chosen !== undefined) return { cidr: lanCidrFor(chosen, interfaces), warnings: [] };
  let routeIp: string;
  try {
    routeIp = await (deps.defaultRoute ?? defaultRouteIp)();
  } catch (error) {
    throw new AutoctlError('BAD_CONFIG', `cannot find the LAN for the monitor's pg_hba.conf rule: "${hostname}" has no local address and there is no default route`,
      { cause: error, hint: 'use --hostname with an IP address of this machine, or --skip-pg-hba and edit pg_hba.conf yourself' });
  }
  const cidr = lanCidrFor(routeIp, interfaces);
  return { cidr, warnings: [`Host name "${hostname}" does not resolve to a local address: allowing keepers from ${cidr}, the network of the default route's address ${routeIp}`] };
}

/**
 * The local IP address routing towards the default gateway, asked of the
 * kernel through a "connected" UDP socket: no packet leaves the machine
 * (used where the original opens a TCP connection to 8.8.8.8:53).
 */
export function defaultRouteIp(): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', (error) => {
      socket.close();
      reject(new AutoctlError('BAD_CONFIG', `cannot find the default route's local address: ${error.message}`));
    });
    socket.connect(53, '8.8.8.8', () => {
      const { address } = socket.address();
      socket.close();
      resolve(address);
    });
  });
}

/** The local IP address the kernel uses to reach host:port (a TCP connect, closed at once). */
export function localIpTowards(host: string, port: number, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new AutoctlError('BAD_CONFIG', `cannot connect to "${host}" on port ${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      const address = socket.localAddress;
      socket.destroy();
      if (address) resolve(address);
      else reject(new AutoctlError('BAD_CONFIG', `no local address for the connection to "${host}"`));
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new AutoctlError('BAD_CONFIG', `cannot connect to "${host}" on port ${port}: ${error.message}`, { cause: error }));
    });
  });
}

/** Target meaning "the default route" (the original's 8.8.8.8:53), resolved without traffic. */
export const DEFAULT_ROUTE = { host: '8.8.8.8', port: 53 } as const;

export interface DiscoveredHostname {
  hostname: string;
  ip: string;
  /** `name` when DNS round-trips to a local address, `ip` otherwise, `gethostname` for the monitor's first try. */
  source: 'name' | 'ip' | 'gethostname';
}

export interface DiscoverHostnameDeps {
  resolver?: Resolver;
  interfaces?: Interfaces;
  /** Opens a socket to find the local IP; defaults to {@link localIpTowards}. */
  localIp?: (host: string, port: number) => Promise<string>;
  /** gethostname(); defaults to os.hostname(). */
  systemHostname?: () => string;
}

/**
 * Default `--hostname` (spec 04 §3.4): the local IP used towards `target`
 * (the monitor, or 8.8.8.8:53), reverse-resolved and kept as a name only
 * when that name resolves back to a local address. With `tryGethostname`
 * (create monitor) the machine's own name is tried first.
 */
export async function discoverHostname(target: { host: string; port: number }, options: { tryGethostname?: boolean } = {},
  deps: DiscoverHostnameDeps = {}): Promise<DiscoveredHostname> {
  const resolver = deps.resolver ?? systemResolver;
  const interfaces = deps.interfaces ?? networkInterfaces();
  const isLocal = (ip: string): boolean => localInterfaceAddress(ip, interfaces) !== undefined;
  if (options.tryGethostname) {
    const name = (deps.systemHostname ?? osHostname)();
    const addresses = await resolver.lookup(name).catch(() => [] as string[]);
    const local = addresses.find(isLocal);
    if (local !== undefined) return { hostname: name, ip: local, source: 'gethostname' };
  }
  const ip = await (deps.localIp ?? ((host: string, port: number) => (target === DEFAULT_ROUTE ? defaultRouteIp() : localIpTowards(host, port))))(target.host, target.port);
  const names = await resolver.reverse(ip).catch(() => [] as string[]);
  for (const name of names) {
    const addresses = await resolver.lookup(name).catch(() => [] as string[]);
    if (addresses.some(isLocal)) return { hostname: name, ip, source: 'name' };
  }
  return { hostname: ip, ip, source: 'ip' };
}

/**
 * Sanity check of a given `--hostname` (spec 04 §3.4): a warning when a
 * name does not resolve to a local address, or an IP is not on a local
 * interface; undefined when it looks right. Never fails.
 */
export async function checkGivenHostname(hostname: string, deps: { resolver?: Resolver; interfaces?: Interfaces } = {}): Promise<string | undefined> {
  const interfaces = deps.interfaces ?? networkInterfaces();
  if (isIP(hostname) !== 0) {
    // 127.0.0.12 is local when lo holds 127.0.0.0/8, as lanCidrFor knows.
    return localInterfaceAddress(hostname, interfaces) === undefined && loopbackInterfaceHolding(hostname, interfaces) === undefined
      ? `Failed to find address "${hostname}" in local network interfaces, automated pg_hba.conf setup might fail.`
      : undefined;
  }
  const addresses = await (deps.resolver ?? systemResolver).lookup(hostname).catch(() => [] as string[]);
  return addresses.some((ip) => localInterfaceAddress(ip, interfaces) !== undefined)
    ? undefined
    : `Failed to resolve hostname "${hostname}" to a local IP address, automated pg_hba.conf setup might fail.`;
}
