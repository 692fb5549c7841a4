/**
 * The group state machine (DESIGN.md decisions 3-5): node states, the
 * decision function of the monitor, synchronous_standby_names, and the
 * keeper transition table. Pure: no I/O, no clock, no randomness.
 */
export * from './states.js';
export * from './snapshot.js';
export * from './settings.js';
export * from './decision.js';
export { decide } from './decide.js';
export { MONITOR_RULES, type MonitorRule, type MonitorRuleId } from './rules.js';
export { synchronousStandbyNames, standbyName, type StandbyNamesInput } from './standby-names.js';
export { KEEPER_ACTIONS, KEEPER_ACTION_DESCRIPTIONS, type KeeperAction } from './keeper-actions.js';
export { KEEPER_TRANSITIONS, TRANSITION_ORIGINS, findTransition, type KeeperTransition, type TransitionOrigin } from './keeper-transitions.js';
export { isHealthy, isUnhealthy, isReporting, type HealthContext } from './health.js';
export {
  conv, reportedKnowingGoal, inPrimaryRole, inMaintenance, beingDemoted, demotedPrimary, beingPromoted, readyToStreamWal,
  groupOf, writableNode, primaryOrDemoted, failoverSource, failoverInProgress,
} from './node-predicates.js';
export { checkOpenWrites, writeFenceAt, holderReportedFenced, type OpenWritesCheck } from './lease.js';
export { mostAdvancedStandby } from './election.js';
export { formatLsn, parseLsn, compareWalPositions, walWithin, type WalPosition } from './lsn.js';
export { planRegistration, type NewNode, type RegistrationPlan } from './registration.js';
export {
  validateNumberSyncStandbys, validateReplicationQuorum, validateCandidatePriority, quorumStandbyCount, type PriorityCheck,
} from './settings-validation.js';
export { nodeLabel } from './messages.js';
export * from './failsafe.js';
export { adoptWitnessedGoals, compareDecisions, lackedWitness } from './witness.js';
