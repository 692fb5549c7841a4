/**
 * `pg_autoctl config check|get|set` (spec 04 §9).
 */
import type { Command } from 'commander';

export function registerConfigCommands(program: Command): void {
  void program;
}
