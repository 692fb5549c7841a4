/** The monitor-API layer: the only code that speaks the monitor's SQL (see call.ts). */
export * from './call.js';
export * from './types.js';
export * from './keeper.js';
export * from './reporting.js';
export * from './operator.js';
export * from './service.js';
export * from './service-rows.js';
export * from './watch.js';
export * from './metrics.js';
export * from './epoch.js';
export * from './monitor-switchover.js';
export * from './members.js';
export * from './witness.js';
