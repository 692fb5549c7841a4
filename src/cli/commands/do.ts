/**
 * `pg_autoctl do ...`, the debug tree (spec 04 §13). Registered, so shown
 * in `pg_autoctl help` and accepted, only when PG_AUTOCTL_DEBUG is set (to
 * any value, even empty, as the original checks); otherwise `do` is an
 * unknown command. Built: what operators and the original's Python test
 * suite use (see docs/compatibility.md).
 */
import type { Command } from 'commander';
import { defineCommand } from '../command.js';
import { withPgdata } from '../options/common.js';
import { fsmAssign, fsmGv, fsmInit, fsmList, fsmNodesGet, fsmNodesSet, fsmState, fsmStep } from '../do/fsm.js';
import { monitorGetCandidateCount, monitorGetOthers, monitorGetPrimary } from '../do/monitor.js';
import { pgsetupDiscover, pgsetupLogs, pgsetupPgCtl, pgsetupReady, pgsetupWait } from '../do/pgsetup.js';
import { serviceGetpid, serviceRestartPostgres } from '../do/service.js';
import {
  candidateCountRendering, fsmStepRendering, graphvizRendering, keeperStateRendering, nodesFileRendering, otherNodesRendering, pgSetupRendering,
  pidRendering, primaryRendering, transitionsRendering,
} from '../render/do.js';
import { group } from '../tree.js';

/** Whether the debug tree is available: PG_AUTOCTL_DEBUG set, even to ''. */
export function debugEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.PG_AUTOCTL_DEBUG !== undefined;
}

export function registerDoCommands(program: Command, env: NodeJS.ProcessEnv = process.env): void {
  if (!debugEnabled(env)) return;
  const root = group(program, 'do', 'Internal commands and internal QA tooling');

  const monitor = group(root, 'monitor', 'Query a pg_auto_failover monitor');
  const monitorGet = group(monitor, 'get', 'Get information from the monitor');
  defineCommand(monitorGet, {
    name: 'primary', description: 'Get the primary node from pg_auto_failover in given formation/group',
    json: true, options: withPgdata, run: monitorGetPrimary, render: primaryRendering,
  });
  defineCommand(monitorGet, {
    name: 'others', description: 'Get the other nodes from the pg_auto_failover group of hostname/port',
    json: true, options: withPgdata, run: monitorGetOthers, render: otherNodesRendering,
  });
  defineCommand(monitorGet, {
    name: 'candidate-count', description: 'Get the failover candidate count in the group',
    json: true, options: withPgdata, run: monitorGetCandidateCount, render: candidateCountRendering,
  });

  const fsm = group(root, 'fsm', 'Manually manage the keeper\'s state');
  defineCommand(fsm, {
    name: 'init', description: 'Initialize the keeper\'s state on-disk', options: withPgdata, run: fsmInit, render: keeperStateRendering,
  });
  defineCommand(fsm, {
    name: 'state', description: 'Read the keeper\'s state from disk and display it',
    json: true, options: withPgdata, run: fsmState, render: keeperStateRendering,
  });
  defineCommand(fsm, {
    name: 'list', description: 'List reachable FSM states from current state',
    json: true, options: withPgdata, run: fsmList, render: transitionsRendering,
  });
  defineCommand(fsm, {
    name: 'gv', description: 'Output the FSM as a .gv program suitable for graphviz/dot', run: fsmGv, render: graphvizRendering,
  });
  defineCommand(fsm, {
    name: 'assign', description: 'Assign a new goal state to the keeper',
    options: (cmd) => withPgdata(cmd).argument('[goal-state]'), run: fsmAssign, render: keeperStateRendering,
  });
  defineCommand(fsm, {
    name: 'step', description: 'Make a state transition if instructed by the monitor',
    json: true, options: withPgdata, run: fsmStep, render: fsmStepRendering,
  });
  const nodes = group(fsm, 'nodes', 'Manually manage the keeper\'s nodes list');
  defineCommand(nodes, {
    name: 'get', description: 'Get the list of nodes from file (see --disable-monitor)',
    json: true, options: withPgdata, run: fsmNodesGet, render: nodesFileRendering,
  });
  defineCommand(nodes, {
    name: 'set', description: 'Set the list of nodes to file (see --disable-monitor)',
    json: true, options: (cmd) => withPgdata(cmd).argument('[nodes-file]'), run: fsmNodesSet, render: nodesFileRendering,
  });

  const pgsetup = group(root, 'pgsetup', 'Manage a local Postgres setup');
  defineCommand(pgsetup, {
    name: 'pg_ctl', description: 'Find a non-ambiguous pg_ctl program and Postgres version', options: withPgdata, run: pgsetupPgCtl,
  });
  defineCommand(pgsetup, {
    name: 'discover', description: 'Discover local PostgreSQL instance, if any',
    json: true, options: withPgdata, run: pgsetupDiscover, render: pgSetupRendering,
  });
  defineCommand(pgsetup, {
    name: 'ready', description: 'Return true is the local Postgres server is ready', options: withPgdata, run: pgsetupReady,
  });
  defineCommand(pgsetup, {
    name: 'wait', description: 'Wait until the local Postgres server is ready', options: withPgdata, run: pgsetupWait,
  });
  defineCommand(pgsetup, {
    name: 'logs', description: 'Outputs the Postgres startup logs', options: withPgdata, run: pgsetupLogs,
  });

  const service = group(root, 'service', 'Run pg_autoctl sub-processes (services)');
  const getpid = group(service, 'getpid', 'Get the pid of pg_autoctl sub-processes (services)');
  for (const [name, description] of [
    ['postgres', 'Get the pid of the pg_autoctl postgres controller service'],
    ['listener', 'Get the pid of the pg_autoctl monitor listener service'],
    ['node-active', 'Get the pid of the pg_autoctl keeper node-active service'],
  ] as const) {
    defineCommand(getpid, { name, description, options: withPgdata, run: serviceGetpid(name), render: pidRendering });
  }
  const restart = group(service, 'restart', 'Restart pg_autoctl sub-processes (services)');
  defineCommand(restart, {
    name: 'postgres', description: 'Restart the pg_autoctl postgres controller service',
    options: withPgdata, run: serviceRestartPostgres, render: pidRendering,
  });
}
