/**
 * The nodes file `nodes.json` beside the state file (spec 05 §1, §16): the
 * other nodes of the group for a keeper whose monitor is disabled, written
 * by `pg_autoctl do fsm nodes set`. A JSON array of objects with
 * `node_id`, `node_name`, `node_host`, `node_port`, `node_lsn` and
 * `node_is_primary`, the format 2.0 reads (extra keys are ignored). Kept
 * with mode 0600, written atomically.
 */
import { AutoctlError, type ErrorCode } from '../common/errors.js';
import { formatLsn, lsnFromText, type Lsn } from '../common/lsn.js';
import { readTextFile, writeTextFile } from './text-file.js';

export const NODES_FILE_MODE = 0o600;

/** As many nodes as 2.0 takes in one array. */
export const NODES_FILE_MAX_COUNT = 128;

/** One node of the nodes file (the shape of the monitor's node addresses). */
export interface NodesFileEntry {
  nodeId: number;
  name: string;
  host: string;
  port: number;
  lsn: Lsn;
  isPrimary: boolean;
}

const EXPECTED = 'expected a JSON array of objects [{node_id:number, node_name:string, node_host:string, node_port:number, '
  + 'node_lsn:string, node_is_primary:boolean}, ...]';

type FieldCheck = { key: string; type: 'integer' | 'string' | 'boolean' };

const FIELDS: readonly FieldCheck[] = [
  { key: 'node_id', type: 'integer' },
  { key: 'node_name', type: 'string' },
  { key: 'node_host', type: 'string' },
  { key: 'node_port', type: 'integer' },
  { key: 'node_lsn', type: 'string' },
  { key: 'node_is_primary', type: 'boolean' },
];

function fieldProblem(object: Record<string, unknown>, field: FieldCheck): string | undefined {
  if (!(field.key in object)) return `has no "${field.key}"`;
  const value = object[field.key];
  switch (field.type) {
    case 'integer':
      return typeof value === 'number' && Number.isSafeInteger(value) ? undefined : `has a "${field.key}" that is not an integer`;
    case 'string':
      return typeof value === 'string' ? undefined : `has a "${field.key}" that is not a string`;
    case 'boolean':
      return typeof value === 'boolean' ? undefined : `has a "${field.key}" that is not true or false`;
  }
}

/**
 * Parses and checks a nodes array; the nodes sorted by node id. Anything
 * wrong is a `code` error naming the first problem on one line: not JSON,
 * not an array of objects, a missing or mistyped field, an empty host, a
 * port out of range, an LSN that is not one, more than one primary, a node
 * id listed twice, more than {@link NODES_FILE_MAX_COUNT} nodes.
 */
export function parseNodesArray(text: string, code: ErrorCode = 'BAD_ARGS'): NodesFileEntry[] {
  const fail = (problem: string): AutoctlError => new AutoctlError(code, `Failed to parse nodes array: ${problem}`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw fail(`not valid JSON (${error instanceof Error ? error.message : String(error)}); ${EXPECTED}`);
  }
  if (!Array.isArray(json)) throw fail(`the JSON value is not an array; ${EXPECTED}`);
  if (json.length > NODES_FILE_MAX_COUNT) {
    throw fail(`it contains ${json.length} nodes: pg_autoctl supports up to ${NODES_FILE_MAX_COUNT} nodes`);
  }
  const nodes: NodesFileEntry[] = json.map((item: unknown, index) => {
    const where = `entry ${index + 1}`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw fail(`${where} is not an object; ${EXPECTED}`);
    const object = item as Record<string, unknown>;
    for (const field of FIELDS) {
      const problem = fieldProblem(object, field);
      if (problem !== undefined) throw fail(`${where} ${problem}; ${EXPECTED}`);
    }
    const nodeId = object.node_id as number;
    const port = object.node_port as number;
    const host = object.node_host as string;
    const lsnText = object.node_lsn as string;
    if (nodeId <= 0) throw fail(`${where} has node_id ${nodeId}: node ids are positive`);
    if (host === '') throw fail(`${where} (node ${nodeId}) has an empty "node_host"`);
    if (port < 1 || port > 65535) throw fail(`${where} (node ${nodeId}) has node_port ${port}: expected 1 to 65535`);
    const lsn = lsnFromText(lsnText);
    if (lsn === null) throw fail(`${where} (node ${nodeId}) has node_lsn "${lsnText}", which is not an LSN such as "0/3000060"`);
    return { nodeId, name: object.node_name as string, host, port, lsn, isPrimary: object.node_is_primary as boolean };
  });
  const primaries = nodes.filter((n) => n.isPrimary);
  if (primaries.length > 1) {
    throw fail(`more than one node is listed with "node_is_primary" true (nodes ${primaries.map((n) => n.nodeId).join(', ')})`);
  }
  nodes.sort((a, b) => a.nodeId - b.nodeId);
  for (let i = 1; i < nodes.length; i++) {
    const id = nodes[i]?.nodeId;
    if (id !== undefined && id === nodes[i - 1]?.nodeId) throw fail(`more than one node is listed with node_id ${id}`);
  }
  return nodes;
}

/** The nodes other than `selfNodeId`, as the keeper uses them (2.0 drops the node itself). */
export function otherNodesOf(nodes: readonly NodesFileEntry[], selfNodeId: number): NodesFileEntry[] {
  return nodes.filter((n) => n.nodeId !== selfNodeId);
}

/** The nodes as the JSON objects of the file format. */
export function nodesFileJson(nodes: readonly NodesFileEntry[]): Record<string, unknown>[] {
  return nodes.map((n) => ({
    node_id: n.nodeId, node_name: n.name, node_host: n.host, node_port: n.port, node_lsn: formatLsn(n.lsn), node_is_primary: n.isPrimary,
  }));
}

/** The nodes file's text, or undefined when there is none. */
export async function readNodesFileTextIfExists(path: string): Promise<string | undefined> {
  return readTextFile(path, 'the nodes file', 'BAD_STATE');
}

/** Writes the (already parsed) text of a nodes array, mode 0600. */
export function writeNodesFile(path: string, text: string): void {
  parseNodesArray(text, 'INTERNAL');
  writeTextFile(path, text, NODES_FILE_MODE, 'the nodes file', 'BAD_STATE');
}
