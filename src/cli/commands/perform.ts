/**
 * `pg_autoctl perform failover|switchover|promotion` (spec 04 §8).
 */
import type { Command } from 'commander';

export function registerPerformCommands(program: Command): void {
  void program;
}
