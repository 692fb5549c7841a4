/**
 * Replays model checker schedules from the command line.
 *   node --import tsx test/unit/fsm/model/replay.ts --seed 42 [--trace] [--tail 300]
 *   node --import tsx test/unit/fsm/model/replay.ts --from 1 --steps 5000000
 */
import { parseArgs } from 'node:util';
import { FAULT_STEPS, QUIET_STEPS, describeFailure, explore } from './explore.js';
import { runSchedule } from './simulation.js';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    from: { type: 'string', default: '1' },
    steps: { type: 'string', default: '200000' },
    trace: { type: 'boolean', default: false },
    tail: { type: 'string', default: '400' },
  },
});

if (values.seed !== undefined) {
  const result = runSchedule(Number(values.seed), { faultSteps: FAULT_STEPS, quietSteps: QUIET_STEPS, trace: values.trace });
  if (values.trace) console.log(result.trace.slice(-Number(values.tail)).join('\n'));
  console.log(JSON.stringify({ seed: result.seed, steps: result.steps, converged: result.converged, stats: result.stats, settings: result.settings }));
  if (result.violations.length > 0 || !result.converged) {
    console.log(describeFailure(result));
    process.exitCode = 1;
  }
} else {
  const started = process.hrtime.bigint();
  const run = explore(Number(values.from), Number(values.steps));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(`${run.steps} steps, ${run.schedules} schedules, ${seconds.toFixed(1)} s; ${JSON.stringify(run.totals)}`);
  if (run.failure !== null) {
    console.log(describeFailure(run.failure));
    process.exitCode = 1;
  }
}
