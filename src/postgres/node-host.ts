/**
 * What a node host may be (issue 8 finding 1): an IPv4 or IPv6 address,
 * or an RFC 1123 host name. Hosts come from the monitor, where any
 * `autoctl_node` session may write them, and end up in pg_hba.conf and in
 * connection strings: anything else (whitespace, `#`, `"`, `/`, control
 * characters, the HBA keywords `all`, `samehost`, `samenet`, a leading
 * dot) could widen an HBA rule, so it is refused. The monitor applies the
 * same rules in register_node and update_node_metadata.
 */
import { isIP } from 'node:net';
import { fail, ok, type Result } from '../common/result.js';

export const NODE_HOST_KINDS = ['ipv4', 'ipv6', 'hostname'] as const;
export type NodeHostKind = (typeof NODE_HOST_KINDS)[number];

/** Words with a meaning of their own in the ADDRESS column of pg_hba.conf. */
const HBA_ADDRESS_KEYWORDS = new Set(['all', 'samehost', 'samenet']);

const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const HOSTNAME_RE = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);

/** A host for display in a one-line message: quoted, control characters escaped. */
export const displayHost = (host: string): string => JSON.stringify(host.length > 80 ? `${host.slice(0, 80)}...` : host);

/** Why `host` is not a node host, or its kind. */
export function classifyNodeHost(host: string): Result<NodeHostKind, string> {
  if (host === '') return fail('it is empty');
  if (host.length > 253) return fail('it is longer than 253 characters');
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(host)) return fail('it contains a control character');
  if (/\s/.test(host)) return fail('it contains whitespace');
  if (host.includes('/')) return fail('it contains "/": a network (CIDR) is not a host');
  if (/[#"%,@+]/.test(host)) return fail('it contains one of # " % , @ +');
  const family = isIP(host);
  if (family === 4) return ok('ipv4');
  if (family === 6) return ok('ipv6');
  if (HBA_ADDRESS_KEYWORDS.has(host.toLowerCase())) return fail(`"${host}" is a pg_hba.conf keyword`);
  if (/^[0-9.]+$/.test(host)) return fail('it is neither a valid IPv4 address nor a host name');
  if (!HOSTNAME_RE.test(host)) return fail('it is neither an IP address nor an RFC 1123 host name');
  return ok('hostname');
}

/** The one-line refusal of an invalid host. */
export function invalidHostMessage(host: string, reason: string, what = 'node host'): string {
  return `invalid ${what} ${displayHost(host)}: ${reason}; expected an IP address or an RFC 1123 host name`;
}
