/**
 * The keeper state file `pg_autoctl.state` (spec 05 §3.1): the keeper's
 * authoritative local memory, re-read every loop. Stored as JSON (the
 * original stores a padded C struct; the fields are the same), written
 * atomically with mode 0600. Node states are plain strings here: the state
 * list belongs to src/fsm, which this layer does not import.
 */
import { z } from 'zod';
import { AutoctlError, messageOf } from '../common/errors.js';
import { readTextFile, writeTextFile } from './text-file.js';

export const KEEPER_STATE_VERSION = 1;
export const KEEPER_STATE_FILE_MODE = 0o600;

export interface KeeperState {
  /** Format version of the file: {@link KEEPER_STATE_VERSION}. */
  readonly version: typeof KEEPER_STATE_VERSION;
  /** Last seen Postgres identity. */
  readonly pgVersion: number;
  readonly pgControlVersion: number;
  readonly catalogVersionNo: number;
  readonly systemIdentifier: bigint;
  /** From the monitor (registration, node_active); -1 before registration. */
  readonly currentNodeId: number;
  readonly currentGroup: number;
  /** Last goal state received from the monitor (or self-assigned when fencing). */
  readonly assignedRole: string;
  /** State the keeper has reached: authoritative. */
  readonly currentRole: string;
  /** Unused, kept for the `show file --state` layout (always 0). */
  readonly currentNodesVersion: number;
  /** Epoch seconds of the last successful node_active; 0 = never. */
  readonly lastMonitorContact: number;
  /** Epoch seconds a standby was last seen connected while the monitor was unreachable; 0 = never. */
  readonly lastSecondaryContact: number;
  /** Unused. */
  readonly xlogLag: number;
  /** Unused. */
  readonly keeperIsPaused: boolean;
}

/** The state of a node not yet registered: current `init`, assigned `unknown`. */
export function initialKeeperState(overrides: Partial<Omit<KeeperState, 'version'>> = {}): KeeperState {
  return {
    version: KEEPER_STATE_VERSION,
    pgVersion: 0,
    pgControlVersion: 0,
    catalogVersionNo: 0,
    systemIdentifier: 0n,
    currentNodeId: -1,
    currentGroup: 1,
    assignedRole: 'unknown',
    currentRole: 'init',
    currentNodesVersion: 0,
    lastMonitorContact: 0,
    lastSecondaryContact: 0,
    xlogLag: 0,
    keeperIsPaused: false,
    ...overrides,
  };
}

const int = z.int();
const fileSchema = z.object({
  version: z.literal(KEEPER_STATE_VERSION),
  current_role: z.string().min(1),
  assigned_role: z.string().min(1),
  current_node_id: int,
  current_group: int,
  pg_version: int,
  pg_control_version: int,
  catalog_version_no: int,
  system_identifier: z.string().regex(/^\d+$/),
  current_nodes_version: int,
  last_monitor_contact: z.number().nonnegative(),
  last_secondary_contact: z.number().nonnegative(),
  xlog_lag: z.number(),
  keeper_is_paused: z.boolean(),
});
type StateFileJson = z.infer<typeof fileSchema>;

/** The file text: one JSON object, snake_case keys, system identifier as a decimal string. */
export function renderKeeperState(state: KeeperState): string {
  const json: StateFileJson = {
    version: state.version,
    current_role: state.currentRole,
    assigned_role: state.assignedRole,
    current_node_id: state.currentNodeId,
    current_group: state.currentGroup,
    pg_version: state.pgVersion,
    pg_control_version: state.pgControlVersion,
    catalog_version_no: state.catalogVersionNo,
    system_identifier: state.systemIdentifier.toString(),
    current_nodes_version: state.currentNodesVersion,
    last_monitor_contact: state.lastMonitorContact,
    last_secondary_contact: state.lastSecondaryContact,
    xlog_lag: state.xlogLag,
    keeper_is_paused: state.keeperIsPaused,
  };
  return `${JSON.stringify(json, null, 2)}\n`;
}

/** Parses the file text; throws BAD_STATE naming `source` when broken or of another version. */
export function parseKeeperState(text: string, source: string): KeeperState {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw broken(source, error);
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) throw broken(source, parsed.error);
  const s = parsed.data;
  return {
    version: s.version,
    pgVersion: s.pg_version,
    pgControlVersion: s.pg_control_version,
    catalogVersionNo: s.catalog_version_no,
    systemIdentifier: BigInt(s.system_identifier),
    currentNodeId: s.current_node_id,
    currentGroup: s.current_group,
    assignedRole: s.assigned_role,
    currentRole: s.current_role,
    currentNodesVersion: s.current_nodes_version,
    lastMonitorContact: s.last_monitor_contact,
    lastSecondaryContact: s.last_secondary_contact,
    xlogLag: s.xlog_lag,
    keeperIsPaused: s.keeper_is_paused,
  };
}

/** Reads the state file, or undefined when it does not exist. Broken file: BAD_STATE. */
export async function readKeeperStateIfExists(path: string): Promise<KeeperState | undefined> {
  const text = await readTextFile(path, 'Keeper state from file', 'BAD_STATE');
  return text === undefined ? undefined : parseKeeperState(text, path);
}

/** Reads the state file; a missing or broken file is a BAD_STATE error. */
export async function readKeeperState(path: string): Promise<KeeperState> {
  const state = await readKeeperStateIfExists(path);
  if (state === undefined) {
    throw new AutoctlError('BAD_STATE', `Failed to read Keeper state from file "${path}": the file does not exist`);
  }
  return state;
}

/** Writes the state file atomically (temp file, fsync, rename), mode 0600. */
export async function writeKeeperState(path: string, state: KeeperState): Promise<void> {
  writeTextFile(path, renderKeeperState(state), KEEPER_STATE_FILE_MODE, 'Keeper state file', 'BAD_STATE');
}

function broken(path: string, cause: unknown): AutoctlError {
  const detail = cause instanceof z.ZodError
    ? cause.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')
    : messageOf(cause);
  return new AutoctlError('BAD_STATE', `Keeper state file "${path}" exists but is broken or wrong version (${detail})`, { cause });
}
