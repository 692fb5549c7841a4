/** pg_autoctl version: the original's 2.0 command and protocol level we reproduce. */
export const VERSION = '2.0';
/** Version of the monitor schema this build expects (the newest migration). */
export const MONITOR_SCHEMA_VERSION = '2.0';
