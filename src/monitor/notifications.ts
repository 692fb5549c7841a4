/**
 * What the monitor service does with notifications, which anyone who can
 * connect to the monitor database may send (pg_notify is PUBLIC):
 *
 * - `pgautofailover_decide` payloads are hints that a group needs a
 *   decision, nothing more. Receiving one costs O(1): the raw payload goes
 *   into a bounded set (duplicates collapse); payloads are parsed only when
 *   the loop takes them, once per distinct payload; past the bound the
 *   hints are dropped and the loop makes one pass over every group instead.
 *   Which groups exist is read from the database, never from a payload.
 * - `log` payloads are printed with control characters escaped, bounded in
 *   length and in rate, so that nobody can forge log lines or fill a disk.
 */

export interface GroupRef { readonly formationId: string; readonly groupId: number }

export const MAX_PENDING_HINTS = 1024;
const MAX_FORMATION_ID = 256;

/** `formation\0group`: the key of a group in the service's maps. */
export function groupKey(group: GroupRef): string {
  return `${group.formationId}\u0000${group.groupId}`;
}

/** The group named by a decide payload, or null when it names none. */
export function parseDecideHint(payload: string): GroupRef | null {
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const { formation, groupId } = value as Record<string, unknown>;
  if (typeof formation !== 'string' || formation.length > MAX_FORMATION_ID) return null;
  if (typeof groupId !== 'number' || !Number.isInteger(groupId) || groupId < 0 || groupId > 2147483647) return null;
  return { formationId: formation, groupId };
}

export interface TakenHints {
  /** Distinct groups named by the hints (not checked against the database). */
  readonly groups: GroupRef[];
  /** More hints arrived than the bound: decide for every group instead. */
  readonly overflow: boolean;
}

export class DecideHints {
  private payloads = new Set<string>();
  private overflowed = false;

  constructor(private readonly limit = MAX_PENDING_HINTS) {}

  /** O(1): records one notification payload. */
  add(payload: string | undefined): void {
    if (this.overflowed || payload === undefined) return;
    if (this.payloads.size >= this.limit && !this.payloads.has(payload)) {
      this.overflowed = true;
      this.payloads.clear();
      return;
    }
    this.payloads.add(payload);
  }

  get pending(): boolean {
    return this.overflowed || this.payloads.size > 0;
  }

  take(): TakenHints {
    const overflow = this.overflowed;
    const groups = new Map<string, GroupRef>();
    if (!overflow) {
      for (const payload of this.payloads) {
        const group = parseDecideHint(payload);
        if (group) groups.set(groupKey(group), group);
      }
    }
    this.payloads = new Set();
    this.overflowed = false;
    return { groups: [...groups.values()], overflow };
  }
}

export const MAX_LOG_MESSAGE = 2000;

/** One printable line: control characters (C0, DEL, C1, line and paragraph separators) escaped, length bounded. */
export function sanitizeLogMessage(text: string, limit = MAX_LOG_MESSAGE): string {
  // eslint-disable-next-line no-control-regex
  const escaped = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\\]/g, (c) => {
    switch (c) {
      case '\\': return '\\\\';
      case '\n': return '\\n';
      case '\r': return '\\r';
      case '\t': return '\\t';
      default: return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
    }
  });
  return escaped.length <= limit ? escaped : `${escaped.slice(0, limit)}... (${escaped.length - limit} more characters)`;
}

/**
 * A token bucket for log lines: `burst` lines at once, `perSecond` after
 * that. Returns, per message, whether to print it, and how many were
 * suppressed since the last printed one.
 */
export function logRateLimiter(perSecond: number, burst: number, clock: () => number): LogRateLimiter {
  let tokens = burst;
  let last = clock();
  let suppressed = 0;
  const take = (): { print: boolean; suppressed: number } => {
    const now = clock();
    tokens = Math.min(burst, tokens + ((now - last) / 1000) * perSecond);
    last = now;
    if (tokens < 1) {
      suppressed += 1;
      return { print: false, suppressed };
    }
    tokens -= 1;
    const result = { print: true, suppressed };
    suppressed = 0;
    return result;
  };
  // The count of a burst that no later message reports (called on a timer).
  const flush = (): number => {
    const count = suppressed;
    suppressed = 0;
    return count;
  };
  return Object.assign(take, { flush });
}

/** Takes a message (print it or not, and how many were dropped before it); `flush` reports drops no later message did. */
export interface LogRateLimiter {
  (message: string): { print: boolean; suppressed: number };
  flush(): number;
}
