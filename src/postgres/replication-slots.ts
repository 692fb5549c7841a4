/**
 * Replication slot maintenance (spec 05 §11.2): a pure plan from the slots
 * that exist and the other nodes of the group, then a thin apply.
 */
import type { Logger } from '../common/log.js';
import { formatLsn, type Lsn } from '../common/lsn.js';
import {
  advanceReplicationSlot, createPhysicalSlot, dropReplicationSlot, type ReplicationSlot, type SqlClient,
} from './sql.js';

export const SLOT_PREFIX = 'pgautofailover_standby_';
/** The name used by very old versions, still cleaned up. */
export const LEGACY_SLOT_NAME = 'pgautofailover_standby';

/** Slot name and application name of node N: `pgautofailover_standby_N` (node id, not name). */
export const slotNameFor = (nodeId: number): string => `${SLOT_PREFIX}${nodeId}`;

export const isAutoFailoverSlot = (name: string): boolean => name.startsWith(SLOT_PREFIX) || name === LEGACY_SLOT_NAME;

export interface OtherNode {
  nodeId: number;
  /** The LSN that node last reported to the monitor (0/0 when unknown). */
  reportedLsn: Lsn;
}

export interface SlotPlan {
  create: string[];
  drop: string[];
  advance: Array<{ slotName: string; lsn: Lsn }>;
}

/**
 * Create a physical slot for every other node; drop inactive physical slots
 * of ours that belong to no current node; with `advance` (secondary,
 * report_lsn) move each inactive slot of a current node forward to the LSN
 * that node reported, so this standby keeps the WAL the others would need
 * if it were promoted.
 */
export function planSlotMaintenance(existing: readonly ReplicationSlot[], others: readonly OtherNode[],
  options: { advance: boolean }): SlotPlan {
  const wanted = new Map(others.map((node) => [slotNameFor(node.nodeId), node]));
  const present = new Map(existing.map((slot) => [slot.slotName, slot]));
  const plan: SlotPlan = { create: [], drop: [], advance: [] };
  for (const name of wanted.keys()) if (!present.has(name)) plan.create.push(name);
  for (const slot of existing) {
    if (slot.slotType !== 'physical' || !isAutoFailoverSlot(slot.slotName)) continue;
    const node = wanted.get(slot.slotName);
    if (!node) {
      if (!slot.active) plan.drop.push(slot.slotName);
      continue;
    }
    if (options.advance && !slot.active && node.reportedLsn !== 0n
      && slot.restartLsn !== undefined && node.reportedLsn > slot.restartLsn) {
      plan.advance.push({ slotName: slot.slotName, lsn: node.reportedLsn });
    }
  }
  return plan;
}

/** Every physical slot of ours: dropped when a former primary turns into a standby (resets their xmin). */
export function planDropAllSlots(existing: readonly ReplicationSlot[]): SlotPlan {
  return {
    create: [],
    drop: existing.filter((s) => s.slotType === 'physical' && isAutoFailoverSlot(s.slotName)).map((s) => s.slotName),
    advance: [],
  };
}

export async function applySlotPlan(client: SqlClient, plan: SlotPlan, log?: Logger): Promise<void> {
  for (const name of plan.drop) {
    log?.info(`Dropping replication slot "${name}"`);
    await dropReplicationSlot(client, name);
  }
  for (const name of plan.create) {
    log?.info(`Creating replication slot "${name}"`);
    await createPhysicalSlot(client, name);
  }
  for (const { slotName, lsn } of plan.advance) {
    log?.debug(`Advancing replication slot "${slotName}" to ${formatLsn(lsn)}`);
    await advanceReplicationSlot(client, slotName, lsn);
  }
}
