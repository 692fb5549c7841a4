/**
 * Runs schedules one seed after the other until a step budget is spent,
 * stopping at the first schedule that breaks an invariant or does not
 * converge. Used by model-checker.test.ts and by replay.ts.
 */
import { runSchedule, type ScheduleResult } from './simulation.js';
import { newStats, type Stats } from './world.js';

export const FAULT_STEPS = 1200;
export const QUIET_STEPS = 800;

export interface Exploration {
  readonly schedules: number;
  readonly steps: number;
  readonly failure: ScheduleResult | null;
  readonly edgesSeen: ReadonlySet<string>;
  readonly totals: Stats;
}

/** Seeds firstSeed, firstSeed + 1, ... until `budget` steps ran. */
export function explore(firstSeed: number, budget: number): Exploration {
  const edges = new Set<string>();
  const totals = newStats();
  let steps = 0;
  let schedules = 0;
  for (let seed = firstSeed; steps < budget; seed += 1) {
    const result = runSchedule(seed, { faultSteps: FAULT_STEPS, quietSteps: QUIET_STEPS });
    steps += result.steps;
    schedules += 1;
    for (const e of result.edgesSeen) edges.add(e);
    for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += result.stats[k];
    if (result.violations.length > 0 || !result.converged) return { schedules, steps, failure: result, edgesSeen: edges, totals };
  }
  return { schedules, steps, failure: null, edgesSeen: edges, totals };
}

export function describeFailure(result: ScheduleResult): string {
  const what = result.violations.length > 0
    ? result.violations.map((v) => `${v.kind}: ${v.message}`).join('\n')
    : `no convergence to one primary and secondaries within ${QUIET_STEPS} steps after the faults stopped`;
  return `seed ${result.seed} failed after ${result.steps} steps:\n${what}\n`
    + `replay: node --import tsx test/unit/fsm/model/replay.ts --seed ${result.seed} --trace`;
}
