/**
 * `pg_autoctl get|set node|formation ...` (spec 04 §7).
 */
import type { Command } from 'commander';

export function registerGetSetCommands(program: Command): void {
  void program;
}
