/**
 * `pg_autoctl watch` (spec 04 §10.5).
 */
import type { Command } from 'commander';

export function registerWatchCommand(program: Command): void {
  void program;
}
