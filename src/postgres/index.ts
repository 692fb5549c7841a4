/**
 * Local PostgreSQL control (DESIGN.md decision 6): binaries, PGDATA facts,
 * the postmaster as a child process, settings files, pg_hba.conf, libpq
 * connection strings and node-postgres connections, local SQL, slots,
 * SSL certificates, base backups and rewinds.
 */
export * from './binaries.js';
export * from './conninfo.js';
export * from './control.js';
export * from './data-dir.js';
export * from './hba.js';
export * from './hba-file.js';
export * from './local-client.js';
export { ZERO_LSN, formatLsn, parseLsn, parseLsnOrZero, type Lsn } from '../common/lsn.js';
export * from './network.js';
export * from './node-host.js';
export * from './pg-client.js';
export * from './pgpass.js';
export * from './replication.js';
export * from './replication-slots.js';
export * from './settings-file.js';
export * from './settings-render.js';
export * from './sql.js';
export * from './ssl.js';
