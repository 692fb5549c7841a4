/**
 * `pg_autoctl drop monitor|node|formation` (spec 04 §4).
 */
import type { Command } from 'commander';

export function registerDropCommands(program: Command): void {
  void program;
}
